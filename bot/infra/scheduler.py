"""Infrastructure: APScheduler 3.x used only as a timer for the watcher's and outbox's ticks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.cancelled import settle

log = logging.getLogger(__name__)
# A tick still running when its next turn comes is skipped by design (max_instances=1);
# APScheduler reports each skip as a warning, which would flood the log of a busy bot.
logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


class _InfoAsDebug(logging.Filter):
    """APScheduler's INFO lines ("Running job", "executed successfully": two a tick, most of
    a busy log) become DEBUG lines, shown only when the log level is DEBUG; the bot's own INFO
    lines are untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_INFO_AS_DEBUG = _InfoAsDebug()
for _name in ("apscheduler.executors.default", "apscheduler.scheduler", "apscheduler.jobstores"):
    logging.getLogger(_name).addFilter(_INFO_AS_DEBUG)


class Ticker:
    """Runs async ticks at fixed intervals on the running loop; no job store, no persistence.

    Every replica runs the same ticks; the database's leases decide who does what.
    """

    def __init__(self, *, grace_seconds: float = 5.0) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._started = False
        self._grace = grace_seconds
        self._running: set[asyncio.Task[object]] = set()

    def every(
        self, seconds: float, name: str, tick: Callable[[], Awaitable[object]], *, jitter: int = 0
    ) -> None:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await tick()
            except asyncio.CancelledError:
                # Only stop() cancels a tick; the leases it held expire and nothing is lost.
                log.info("tick cancelled at shutdown", extra={"tick": name})
            except Exception:
                log.exception("tick failed", extra={"tick": name})
            finally:
                if task is not None:
                    self._running.discard(task)

        self._scheduler.add_job(
            run,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(seconds * 2)),
            jitter=jitter or None,
        )

    def start(self) -> None:
        """Must be called from inside the running event loop."""
        self._scheduler.start()
        self._started = True

    async def stop(self) -> None:
        """No new ticks; running ones get a grace period, then are cancelled and awaited.

        Awaited so no tick is still using the database when the engine is disposed.
        """
        if self._started:
            self._scheduler.shutdown(wait=False)
            self._started = False
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=self._grace)
            for task in pending:
                task.cancel()
            await settle(pending)
