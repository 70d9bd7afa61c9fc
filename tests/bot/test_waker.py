"""A wake-up (a start, a webhook) runs its round in the background; a stop ends it: a round
past the grace is cancelled and awaited, so nothing of it still uses the database when the
engine is disposed, and a wake-up after the stop starts nothing."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import cast

from bot.app.runtime import webhook_waker
from bot.infra.dispatcher import Dispatcher, DispatchStats
from bot.infra.metrics import Metrics
from bot.infra.waker import Waker
from handlers.watch import SweepStats, Watcher
from tests.bot.test_upkeep import _runtime
from tests.fakes.clock import ManualClock
from tests.scrape import sample
from tests.world import RecordingNotifier


class _Rounds:
    """A dispatcher and watcher whose sweep can hang; cancelled, it takes a moment to close
    what it holds (as a database connection does)."""

    def __init__(self, *, hang: bool) -> None:
        self.hang = hang
        self.sweeps = 0
        self.ticks = 0
        self.closing = False
        self.closed = False

    async def tick(self) -> DispatchStats:
        self.ticks += 1
        return DispatchStats()

    async def sweep(self) -> SweepStats:
        self.sweeps += 1
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.closing = True
                await asyncio.sleep(0.05)
                self.closed = True
                raise
        return SweepStats()


def _waker(rounds: _Rounds) -> Waker:
    return Waker(
        watcher=cast(Watcher, rounds),
        dispatcher=cast(Dispatcher, rounds),
        clock=ManualClock(),
        metrics=Metrics(),
    )


async def test_a_round_past_the_grace_is_cancelled_and_awaited() -> None:
    rounds = _Rounds(hang=True)
    waker = _waker(rounds)
    waker()
    await asyncio.sleep(0.01)
    assert rounds.sweeps == 1
    await waker.stop(grace=0.05)
    assert rounds.closing, "cancelled after the grace"
    assert rounds.closed, "and awaited until it closed what it held"


async def test_a_round_within_the_grace_finishes_and_none_starts_after_stop() -> None:
    rounds = _Rounds(hang=False)
    waker = _waker(rounds)
    waker()
    await asyncio.sleep(0)  # the round begins
    await waker.stop(grace=1.0)
    assert (rounds.sweeps, rounds.ticks) == (1, 2), "the round ran to its end"
    waker()
    await asyncio.sleep(0.05)
    assert rounds.sweeps == 1, "stopped: no more rounds"


async def test_the_runtime_stops_its_wakers_with_its_ticks(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, ManualClock(), RecordingNotifier())
        waker = webhook_waker(runtime)
        await runtime.stop_ticks()
        waker()
        await waker.wait()
        text = await runtime.metrics.render()
        assert sample(text, "finetune_bot_sweeps_total") == 0, "no round after the stop"
