"""Infrastructure: a wake-up (a webhook arrived, a job started): what is queued goes out, one
sweep and one dispatch run now, never two at once."""

from __future__ import annotations

import asyncio
import logging

from bot.infra.dispatcher import Dispatcher
from bot.infra.metrics import Metrics
from bot.infra.round_trips import RoundTrips, counting
from bot.infra.watch_metrics import record_dispatch, record_sweep
from handlers.cancelled import stop_within
from handlers.ports import Clock
from handlers.watch import Watcher

log = logging.getLogger(__name__)


class Waker:
    """Runs a dispatch, a sweep and a dispatch right away (a webhook arrived, a job started and
    its card is queued: the card goes out before the sweep's polls); never two at once."""

    def __init__(
        self,
        *,
        watcher: Watcher,
        dispatcher: Dispatcher,
        clock: Clock,
        metrics: Metrics,
        round_trips: RoundTrips | None = None,
    ) -> None:
        self._round_trips = round_trips
        self._watcher = watcher
        self._dispatcher = dispatcher
        self._clock = clock
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._stopped = False

    def __call__(self) -> None:
        if self._stopped:
            return  # stopping: the next process's first tick does this round's work
        if self._task is not None and not self._task.done():
            self._again = True  # the running round may have claimed before the job was due
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stopped:
            self._again = False
            try:
                record_dispatch(self._metrics, await self._dispatcher.tick())
                started = self._clock.now()
                with counting(self._round_trips) as trips:
                    stats = await self._watcher.sweep()
                elapsed = (self._clock.now() - started).total_seconds()
                record_sweep(self._metrics, stats, elapsed, trips.statements if trips else None)
                record_dispatch(self._metrics, await self._dispatcher.tick())
            except Exception:
                log.exception("webhook-triggered sweep failed")
            if not self._again:
                return

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self, *, grace: float = 2.0) -> None:
        """No more rounds; a running one gets `grace` seconds, then is cancelled and awaited,
        so it is not still using the database when the engine is disposed (its leases expire
        and what it did not post stays queued)."""
        self._stopped = True
        self._again = False
        task, self._task = self._task, None
        await stop_within(task, grace)
