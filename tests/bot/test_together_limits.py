"""Together says per base model what a job may ask (/fine-tunes/models/limits): a start beyond
the model's own bounds (tighter than the family's ranges) is refused with the model's bound,
before any price estimate or create; within them it starts. The real together SDK against the
fake Together server, through the core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.together.provider import TogetherProvider
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Tone, plain
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.together_server import BASE_MODELS, FakeTogether, Route
from tests.world import World, actor, world, write_dataset

KEY = "tgp_v1_" + "limits0123456789" * 2
MODEL = BASE_MODELS[0]


def _preferences(path: Path) -> Path:
    lines = (
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": f"Q{i}"}]},
                "preferred_output": [{"role": "assistant", "content": "Good."}],
                "non_preferred_output": [{"role": "assistant", "content": "Bad."}],
            }
        )
        for i in range(10)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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


@pytest.mark.parametrize(
    ("option", "bound"),
    [
        ("lora_r=128", "lora_r at most 64"),  # the family allows 256
        ("batch_size=200", "batch_size 1-64"),  # the family allows 1024
        ("lr=0.00002 batch_size=8 training_type=full method=dpo", None),  # within: full DPO
        ("batch_size=20 training_type=full method=dpo", "batch_size 1-16"),
    ],
)
async def test_an_option_beyond_the_models_own_limits_is_refused_before_anything_is_sent(
    together_world: tuple[World, FakeTogether],
    tmp_path: Path,
    option: str,
    bound: str | None,
) -> None:
    w, fake = together_world
    file = "train"
    if "dpo" in option:
        prefs = _preferences(tmp_path / "prefs.jsonl")
        assert (await w.run(f"upload {prefs} alias=prefs", actor())).tone is Tone.SUCCESS
        file = "prefs"
    answer = await w.run(f"start file={file} model={MODEL} {option}", actor())
    if bound is None:
        assert answer.tone is Tone.SUCCESS, answer
        return
    assert answer.tone is Tone.ERROR
    assert f"outside what Together AI takes for {MODEL}: {bound}." in plain(answer.title)
    assert fake.requests_to(Route.CREATE_JOB) == []
    assert fake.requests_to(Route.ESTIMATE_PRICE) == []
    assert await w.store.list_jobs(actor().team_id) == []
