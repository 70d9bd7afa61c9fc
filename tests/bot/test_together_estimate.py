"""Together prices a job itself (POST /fine-tunes/estimate-price): at start its figure is the
job's cost, shown with its source, and feeds the approval threshold and the monthly cap; a
"not allowed to proceed" refuses the start; when Together cannot price it, the local estimate
stands, labelled. The real together SDK against the fake Together server, through the core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.together.provider import TogetherProvider
from handlers.model import Actor
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Reply, Tone, plain
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.together_server import BASE_MODELS, FakeTogether, Fault, Route
from tests.world import World, actor, world, write_dataset

KEY = "tgp_v1_" + "estimate01234567" * 2
MODEL = BASE_MODELS[0]
OWN = "Together AI's own estimate"


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


def _text(reply: Reply) -> str:
    return "\n".join(
        [
            plain(reply.title),
            *(plain(x) for x in reply.lines),
            *(plain(f.value) for f in reply.fields),
        ]
    )


@pytest.fixture
async def together_world(tmp_path: Path) -> AsyncIterator[tuple[World, FakeTogether]]:
    async with FakeTogether(api_key=KEY, clock=lambda: 1_800_000_000.0) as fake:
        provider = TogetherProvider.connect(KEY, base_url=fake.base_url, max_retries=0)

        def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
            return TeamProviderDirectory(store=store, fallback=provider)

        try:
            async with world(tmp_path, directory=directory) as w:
                path = write_dataset(tmp_path / "train.jsonl", n=40)
                uploaded = await w.run(f"upload {path} alias=train", actor())
                assert uploaded.tone is Tone.SUCCESS, uploaded
                yield w, fake
        finally:
            await provider.aclose()


async def test_togethers_own_price_is_the_start_cost_and_feeds_approvals_and_the_cap(
    together_world: tuple[World, FakeTogether],
) -> None:
    w, fake = together_world
    started = await w.run(f"start file=train model={MODEL} epochs=2 suffix=a", actor())
    assert started.tone is Tone.SUCCESS, started
    # The bot prices it before the budget check (the SDK prices it again inside create).
    priced = fake.requests_to(Route.ESTIMATE_PRICE)[-1].json
    assert (priced["training_file"], priced["n_epochs"]) == (next(iter(fake.files)), 2)
    [job] = await w.store.list_jobs("slack:T1")
    spend = await w.store.get_spend("slack:T1", job.id)
    assert spend is not None
    assert spend.estimated > 0
    assert OWN in _text(started)

    assert (await w.run("budget approve_over=0.000001", admin())).tone is Tone.SUCCESS
    waiting = await w.run(f"start file=train model={MODEL} epochs=2 suffix=b", actor())
    assert f"({OWN}), above the team's" in plain(waiting.title), waiting

    assert (await w.run("budget approve_over=0 cap=0.000001", admin())).tone is Tone.SUCCESS
    capped = await w.run(f"start file=train model={MODEL} epochs=2 suffix=c", actor())
    assert capped.tone is Tone.ERROR
    assert "would pass the team's monthly cap" in plain(capped.title)
    assert len(fake.jobs) == 1


async def test_not_allowed_to_proceed_refuses_and_a_failed_estimate_falls_back_labelled(
    together_world: tuple[World, FakeTogether],
) -> None:
    w, fake = together_world
    fake.user_limit = 0.0
    refused = await w.run(f"start file=train model={MODEL} suffix=a", actor())
    assert refused.tone is Tone.ERROR
    assert "Together AI says this account may not start this job" in plain(refused.title)
    assert fake.jobs == {}

    fake.user_limit = 100.0
    fake.inject(Route.ESTIMATE_PRICE, Fault.server_error())
    started = await w.run(f"start file=train model={MODEL} suffix=b", actor())
    assert started.tone is Tone.SUCCESS, started
    assert "local estimate from the price table (Together AI could not price it)" in _text(started)
    assert len(fake.jobs) == 1


async def test_the_start_forms_estimate_shows_togethers_own_price(
    together_world: tuple[World, FakeTogether],
) -> None:
    w, fake = together_world
    lines = await w.service.estimate_start(actor(), training_file="train", model=MODEL, n_epochs=2)
    own = [line for line in lines if line.startswith(OWN)]
    assert own, lines
    assert "$" in own[0]
    assert fake.requests_to(Route.ESTIMATE_PRICE)
    # Nothing was started by asking.
    assert await w.store.list_jobs("slack:T1") == []
