"""Together AI under the core: upload, start, watch and cancel through the service, watcher
and dispatcher, on the real together SDK against the fake Together server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.wiring import Core, ServiceOptions, build_core
from bot.providers.together.provider import TogetherProvider
from handlers.commands.requests import Request, StartRequest
from handlers.model import Platform, Role
from handlers.parse import parse
from handlers.replies import Reply, Tone
from handlers.scope import SharedProviderDirectory
from handlers.watch import WatchSettings
from storage.memory.store import MemoryStore
from tests.fakes.clock import ManualClock
from tests.fakes.together_server import BASE_MODELS, FakeTogether
from tests.world import FakeCharts, RecordingNotifier, actor, as_shared, write_dataset

KEY = "tgp_v1_" + "core0123456789" * 2
MODEL = BASE_MODELS[0]


@dataclass
class Bot:
    clock: ManualClock
    fake: FakeTogether
    store: MemoryStore
    core: Core
    notifier: RecordingNotifier

    async def run(self, line: str) -> Reply:
        return await self.handle(as_shared(parse(line)))

    async def handle(self, request: Request) -> Reply:
        reply: Reply = await self.core.service.handle(request, actor())
        return reply

    async def start(self, suffix: str | None = None) -> Reply:
        """A start built as the form would: the text grammar refuses a model id with a '/'
        (handlers/commands/options.py _ID_RE), which every Together model has."""
        return await self.handle(StartRequest(model=MODEL, training_file="train", suffix=suffix))

    async def settle(self, ticks: int) -> None:
        """The fake's world and the bot's clock move together; the watcher sweeps each tick."""
        for _ in range(ticks):
            self.clock.advance(5)
            self.fake.advance()
            await self.core.watcher.sweep()
            while (await self.core.dispatcher.tick()).sent:
                pass


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    clock = ManualClock()
    async with (
        FakeTogether(api_key=KEY, clock=lambda: clock.now().timestamp()) as fake,
        TogetherProvider.connect(KEY, base_url=fake.base_url, max_retries=0) as provider,
    ):
        store = MemoryStore(clock=clock)
        notifier = RecordingNotifier()
        core = build_core(
            store=store,
            watch_store=store,
            providers=SharedProviderDirectory(provider),
            clock=clock,
            charts=FakeCharts(),
            notifiers={Platform.SLACK: notifier},
            owner="w1",
            options=ServiceOptions(default_role=Role.OPERATOR),
            watch=WatchSettings(
                running_poll_seconds=5,
                slow_poll_seconds=5,
                slow_poll_max_seconds=5,
                running_poll_max_seconds=5,
                jitter=0.0,
                metric_interval_seconds=0,
            ),
            pace={Platform.SLACK: 0.0},
        )
        yield Bot(clock=clock, fake=fake, store=store, core=core, notifier=notifier)


async def test_a_whole_job_on_together_runs_through_the_core(bot: Bot, tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "train.jsonl")
    uploaded = await bot.run(f"/finetune upload {path} alias=train")
    assert uploaded.tone is Tone.SUCCESS, uploaded
    started = await bot.start(suffix="support")
    assert started.tone is Tone.SUCCESS, started
    [job] = await bot.store.list_jobs(actor().team_id)

    await bot.settle(40)

    [done] = await bot.store.list_jobs(actor().team_id)
    assert done.state.provider_status == "completed"
    assert done.state.fine_tuned_model
    assert done.state.suffix == "support"
    [sent] = [r.json for r in bot.fake.requests if r.route == "POST /fine-tunes"]
    assert sent["suffix"].startswith("support-ftb-")
    points = await bot.store.list_metric_points(actor().team_id, job.id)
    assert [p.step for p in points] == sorted({p.step for p in points})
    assert points
    assert points[-1].train_loss is not None
    assert bot.notifier.posts


async def test_pause_is_refused_from_the_profile_and_cancel_works(
    bot: Bot, tmp_path: Path
) -> None:
    path = write_dataset(tmp_path / "train.jsonl")
    await bot.run(f"/finetune upload {path} alias=train")
    await bot.start()
    [job] = await bot.store.list_jobs(actor().team_id)
    await bot.settle(3)

    paused = await bot.run(f"/finetune pause {job.id}")
    cancelled = await bot.run(f"/finetune cancel {job.id}")
    await bot.settle(3)

    assert paused.tone is Tone.ERROR
    assert "cannot pause a job" in paused.title
    assert not [r for r in bot.fake.requests if "pause" in r.path]
    assert cancelled.tone is Tone.WARNING, cancelled
    [ended] = await bot.store.list_jobs(actor().team_id)
    assert ended.state.provider_status == "cancelled"
