"""The watcher says when a commit queued messages, while its sweep goes on, so the app can
dispatch them at once; the nudge that listens runs one dispatch at a time and none after stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.infra.metrics import Metrics
from bot.infra.nudge import DispatchNudge
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def _start_two_teams(w: World, tmp_path: Path) -> None:
    for workspace in ("T1", "T2"):
        person = actor(workspace=workspace)
        path = write_dataset(tmp_path / f"t-{workspace}.jsonl")
        await w.run(f"upload {path} alias=t", person)
        await w.run(f"start file=t model={MODEL}", person)
    while (await w.dispatcher.tick()).sent:  # the start cards
        pass


async def test_each_account_commit_with_messages_is_news_and_a_quiet_sweep_is_not(
    w: World, tmp_path: Path
) -> None:
    await _start_two_teams(w, tmp_path)
    news: list[int] = []
    w.watcher.on_news(lambda: news.append(len(news)))
    w.clock.advance(120)  # both jobs have moved on at the sandbox
    stats = await w.watcher.sweep()
    assert stats.messages > 0
    assert len(news) == 2, "one commit per account, each with messages"
    assert (await w.watcher.sweep()).claimed == 0
    assert len(news) == 2, "nothing committed, no news"


async def test_the_nudge_posts_the_news_during_the_sweep_without_a_dispatch_tick(
    w: World, tmp_path: Path
) -> None:
    await _start_two_teams(w, tmp_path)
    nudge = DispatchNudge(w.dispatcher, Metrics())
    w.watcher.on_news(nudge)
    posted = len(w.notifier.posts)
    w.clock.advance(120)
    await w.watcher.sweep()
    await nudge.stop()  # lets the nudged dispatch finish
    assert len(w.notifier.posts) > posted, "the news went out with no tick of our own"
    assert (
        await w.store.claim_outbox(owner="check", now=w.clock.now(), lease_seconds=1, limit=10)
        == []
    ), "nothing left queued"


class _SlowDispatcher:
    """Counts ticks; each takes a moment, so nudges arrive while one runs."""

    def __init__(self) -> None:
        self.ticks = 0
        self.busy_ticks = 0
        """The first ticks that post something (a tick that posts is followed by another)."""
        self.running = 0
        self.most_at_once = 0

    async def tick(self):  # type: ignore[no-untyped-def]
        from bot.infra.dispatcher import DispatchStats

        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        self.ticks += 1
        return DispatchStats(sent=1 if self.ticks <= self.busy_ticks else 0)


async def test_nudges_during_a_dispatch_make_one_more_and_none_after_stop() -> None:
    slow = _SlowDispatcher()
    nudge = DispatchNudge(slow, Metrics())  # type: ignore[arg-type]
    nudge()
    await asyncio.sleep(0.01)
    for _ in range(5):  # all while the first runs
        nudge()
    await asyncio.sleep(0.3)
    assert (slow.ticks, slow.most_at_once) == (2, 1)
    nudge()
    await asyncio.sleep(0.01)
    nudge()  # waits for the running one; stop lets that finish and drops this
    await nudge.stop()
    assert slow.ticks == 3
    nudge()
    await asyncio.sleep(0.1)
    assert slow.ticks == 3, "stopped: no more dispatches"


async def test_a_dispatch_after_news_ticks_until_a_tick_posts_nothing() -> None:
    slow = _SlowDispatcher()
    slow.busy_ticks = 3  # three batches of news, then an empty claim
    nudge = DispatchNudge(slow, Metrics())  # type: ignore[arg-type]
    nudge()
    await asyncio.sleep(0.5)
    assert slow.ticks == 4
    await nudge.stop()


async def test_a_dispatch_that_outlives_the_stop_grace_is_cancelled() -> None:
    class Hanging(_SlowDispatcher):
        async def tick(self):  # type: ignore[no-untyped-def]
            self.running += 1
            await asyncio.Event().wait()

    hanging = Hanging()
    nudge = DispatchNudge(hanging, Metrics())  # type: ignore[arg-type]
    nudge()
    await asyncio.sleep(0.01)
    await nudge.stop(grace=0.05)
    assert (hanging.running, hanging.ticks) == (1, 0), "cancelled, never finished"
