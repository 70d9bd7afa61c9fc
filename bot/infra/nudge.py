"""Infrastructure: a dispatch as soon as a sweep commits news, beside the periodic dispatch
tick, ticking until the news is out; nudges while one runs make one more, never a pile."""

from __future__ import annotations

import asyncio
import logging

from bot.infra.dispatcher import Dispatcher
from bot.infra.metrics import Metrics
from bot.infra.watch_metrics import record_dispatch
from handlers.cancelled import stop_within

log = logging.getLogger(__name__)


class DispatchNudge:
    def __init__(self, dispatcher: Dispatcher, metrics: Metrics) -> None:
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._stopped = False

    def __call__(self) -> None:
        if self._stopped:
            return
        if self._task is not None and not self._task.done():
            self._again = True  # the running tick may have claimed before this news
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stopped:
            self._again = False
            try:
                stats = await self._dispatcher.tick()
            except Exception:
                log.exception("dispatch after news failed")
                return
            record_dispatch(self._metrics, stats)
            # A tick posts one batch: one that posted may have left more of the news queued.
            if not self._again and not stats.sent:
                return

    async def stop(self, *, grace: float = 2.0) -> None:
        """No more dispatches; a running one gets `grace` seconds to finish its posts, then
        is cancelled (what it did not post stays queued for the next process)."""
        self._stopped = True
        task, self._task = self._task, None
        self._again = False
        await stop_within(task, grace)
