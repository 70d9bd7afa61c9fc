"""Bad input at Fireworks AI, through the core: the real fireworks-ai SDK against the fake
Fireworks server as the deployment's provider. Each refusal is one reply naming the option, the
family and what it takes; nothing is created at Fireworks and no start is left open (recovery
would tell the team a second time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.providers.fireworks.profile import PROFILE
from bot.providers.fireworks.provider import FireworksProvider
from handlers.profile import JobStatus, ProviderProfile
from handlers.replies import Reply, Tone, plain
from handlers.scope import SharedProviderDirectory
from tests.contracts.harness import chat_examples
from tests.fakes.fireworks_server import BASE_MODELS, NOT_TUNABLE, FakeFireworks, Route
from tests.world import World, actor, world

KEY = "fw_" + "bad0123456789ab" * 2
MODEL = BASE_MODELS[0]
TEAM = "slack:T1"


def _text(reply: Reply) -> str:
    return "\n".join([plain(reply.title), *(plain(line) for line in reply.lines)])


@asynccontextmanager
async def _fireworks(
    tmp_path: Path,
    *,
    key: str = KEY,
    account: str = "acme",
    provider_type: type[FireworksProvider] = FireworksProvider,
) -> AsyncIterator[tuple[World, FakeFireworks]]:
    async with FakeFireworks(api_key=KEY, account="acme", clock=lambda: 1.8e9) as fake:
        provider = provider_type.connect(
            key, account_id=account, base_url=fake.base_url, max_retries=0, ready_delay_s=0
        )
        async with (
            provider,
            world(tmp_path, directory=lambda _p, _s, _c: SharedProviderDirectory(provider)) as w,
        ):
            yield w, fake


async def _uploaded(w: World, tmp_path: Path, n: int = 12, *, alias: str = "t") -> Reply:
    path = tmp_path / f"{alias}.jsonl"
    path.write_bytes(chat_examples(n))
    return await w.run(f"upload {path} alias={alias}" + (" force=yes" if n < 10 else ""), actor())


async def _nothing_started(w: World, fake: FakeFireworks) -> None:
    assert fake.jobs == {}
    assert fake.requests_to(Route.CREATE_JOB) == []
    assert await w.store.list_jobs(TEAM) == []
    assert await w.store.list_open_intents() == []


async def test_a_seed_is_refused_naming_it_fireworks_and_what_it_takes(tmp_path: Path) -> None:
    async with _fireworks(tmp_path) as (w, fake):
        assert (await _uploaded(w, tmp_path)).tone is Tone.SUCCESS
        reply = await w.run(f"start file=t model={MODEL} seed=7", actor())
        assert reply.tone is Tone.ERROR
        text = _text(reply)
        assert "seed is not an option Fireworks AI supports; it supports epochs (1-100)" in text
        await _nothing_started(w, fake)


@pytest.mark.parametrize(
    ("model", "said"),
    [
        ("gpt-4o-mini", "model=gpt-4o-mini is not a base model at Fireworks AI"),
        (
            "accounts/fireworks/models/no-such-model",
            "model=accounts/fireworks/models/no-such-model is not a base model at Fireworks AI",
        ),
        (NOT_TUNABLE, f"model={NOT_TUNABLE} is not marked Tunable at Fireworks AI"),
    ],
)
async def test_an_unknown_or_untunable_base_model_is_one_reply_and_nothing_is_created(
    tmp_path: Path, model: str, said: str
) -> None:
    async with _fireworks(tmp_path) as (w, fake):
        assert (await _uploaded(w, tmp_path)).tone is Tone.SUCCESS
        reply = await w.run(f"start file=t model={model}", actor())
        assert reply.tone is Tone.ERROR, reply
        text = _text(reply)
        assert said in text
        assert "Fireworks AI fine-tunes its own models marked Tunable" in text
        assert f"e.g. model={MODEL}" in text
        await _nothing_started(w, fake)
        assert not any(p.reply.mentions for p in w.notifier.posts)  # no second message later


class FewExamplesFireworks(FireworksProvider):
    """Fireworks with a narrower example range, so a small file stands for one over the
    3 million examples Fireworks takes."""

    @property
    def profile(self) -> ProviderProfile:
        return replace(super().profile, examples=(3, 11))


async def test_a_file_outside_the_familys_example_range_is_refused_before_any_call(
    tmp_path: Path,
) -> None:
    async with _fireworks(tmp_path, provider_type=FewExamplesFireworks) as (w, fake):
        assert (await _uploaded(w, tmp_path)).tone is Tone.SUCCESS
        reply = await w.run(f"start file=t model={MODEL}", actor())
        assert reply.tone is Tone.ERROR
        assert (
            "'t' has 12 examples; Fireworks AI trains on 3 to 11 examples a job: split it or "
            "sample it down, and upload it again." in _text(reply)
        )
        await _nothing_started(w, fake)
        assert fake.requests_to(Route.GET_MODEL) == []


def test_fireworks_says_its_example_range() -> None:
    assert PROFILE.examples == (3, 3_000_000)


async def test_a_dataset_fireworks_refuses_is_its_own_message_and_no_job(tmp_path: Path) -> None:
    async with _fireworks(tmp_path) as (w, fake):
        reply = await _uploaded(w, tmp_path, 2, alias="two")
        assert reply.tone is Tone.ERROR, reply
        assert "Fireworks refused the dataset: a dataset needs at least 3 examples" in _text(reply)
        assert fake.datasets == {}  # the refused dataset was deleted
        assert await w.store.list_files(TEAM) == []
        started = await w.run(f"start file=two model={MODEL}", actor())
        assert started.tone is Tone.ERROR
        await _nothing_started(w, fake)


async def test_pause_is_refused_from_the_profile_and_a_job_fireworks_paused_resumes(
    tmp_path: Path,
) -> None:
    async with _fireworks(tmp_path) as (w, fake):
        await _uploaded(w, tmp_path)
        assert (await w.run(f"start file=t model={MODEL}", actor())).tone is Tone.SUCCESS
        [job] = await w.store.list_jobs(TEAM)
        for _ in range(4):
            fake.advance()
            await w.settle(seconds=5)
        paused_by_us = await w.run(f"pause {job.id}", actor())
        assert paused_by_us.tone is Tone.ERROR
        assert (
            "Fireworks AI cannot pause a job; it can cancel and resume "
            "(resume: a job Fireworks AI paused)" in _text(paused_by_us)
        )

        fake.pause_at_fireworks(job.id, "Account suspended: add a payment method")
        await w.settle(seconds=130)
        cards = [p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{job.id}:card:")]
        labels = {b.label for b in cards[-1].buttons}
        assert "Resume" in labels
        assert "Pause" not in labels
        assert "Account suspended" in str(cards[-1].fields)

        resumed = await w.run(f"resume {job.id}", actor())
        assert resumed.tone is Tone.SUCCESS, resumed
        for _ in range(20):
            fake.advance()
            await w.settle(seconds=5)
        done = await w.store.get_job(TEAM, job.id)
        assert done is not None
        assert done.state.status is JobStatus.SUCCEEDED
        assert len(fake.requests_to(Route.RESUME_JOB)) == 1


@pytest.mark.parametrize(
    ("key", "account"), [("fw_" + "wrong0123456789a" * 2, "acme"), (KEY, "not-our-account")]
)
async def test_a_wrong_key_or_account_is_one_message_for_an_admin_and_nothing_is_created(
    tmp_path: Path, key: str, account: str
) -> None:
    async with _fireworks(tmp_path, key=key, account=account) as (w, fake):
        reply = await _uploaded(w, tmp_path)
        assert reply.tone is Tone.ERROR
        assert "The provider rejected the API key. Ask an admin to check it." in _text(reply)
        assert fake.datasets == {}
        assert await w.store.list_files(TEAM) == []
        started = await w.run(f"start file=t model={MODEL}", actor())
        assert started.tone is Tone.ERROR  # no such file: nothing was kept to start from
        await _nothing_started(w, fake)
