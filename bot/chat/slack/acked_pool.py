"""Slack adapter: a small pool of workers that runs chat work after the platform's ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from handlers.cancelled import settle

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 2.0


class Background:
    """Work queued by listeners that have already acked, run by a few workers.

    A burst of commands should see every ack answered before the work behind them competes
    for the event loop; a handful of workers keeps the work from crowding out the acks.
    """

    def __init__(self, *, workers: int = 8, name: str = "work") -> None:
        self._queue: asyncio.Queue[Coroutine[Any, Any, object]] = asyncio.Queue()
        self._size = workers
        self._name = name
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()

    def submit(self, work: Coroutine[Any, Any, object]) -> None:
        self._queue.put_nowait(work)

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        """Long work as a task of its own: it never holds one of the workers that answer
        commands (the caller bounds how many run, per team and in all)."""
        task = asyncio.create_task(self._one(work), name=f"{self._name}-long")
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    @property
    def spawned(self) -> int:
        return len(self._spawned)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"{self._name}-{i}")
                for i in range(self._size)
            ]

    async def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """Queued work gets `grace` seconds to finish (an uninstall's deletes, a reply
        half-sent), then whatever is left, long work included, is cancelled."""
        if self._tasks and grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), grace)
        tasks = [*self._tasks, *self._spawned]
        for task in tasks:
            task.cancel()
        await settle(tasks)
        self._tasks = []
        self._spawned.clear()
        while not self._queue.empty():
            self._queue.get_nowait().close()

    async def _run(self) -> None:
        while True:
            work = await self._queue.get()
            try:
                await self._one(work)
            finally:
                self._queue.task_done()

    async def _one(self, work: Coroutine[Any, Any, object]) -> None:
        try:
            await work
        except Exception:
            log.exception("background work failed", extra={"pool": self._name})
