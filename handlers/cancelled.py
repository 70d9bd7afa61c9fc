"""Waiting for tasks this code has cancelled, without cancelling them again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def settle(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Wait until the (already cancelled) tasks have ended, even when this wait is itself
    cancelled, and re-raise that cancel afterwards.

    A second cancel would reach a task while it closes a database connection: SQLAlchemy then
    abandons the connection's graceful close (a shielded task that never finishes, since
    aiosqlite's thread is stopped), and the event loop cannot close. `asyncio.gather` passes a
    cancel of its waiter on to every task it waits for; this never does. A task that never
    ends holds the stop up to the process's own deadline (bot/app/shutdown.py).
    """
    waited = list(tasks)
    pending = {task for task in waited if not task.done()}
    interrupted = False
    while pending:
        try:
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True
    for task in waited:
        if not task.cancelled():
            task.exception()  # retrieved, as gather(return_exceptions=True) would
    if interrupted:
        raise asyncio.CancelledError


async def stop_within(task: asyncio.Future[Any] | None, grace: float) -> None:
    """Let a running task finish for `grace` seconds, then cancel it and settle it."""
    if task is None:
        return
    _, pending = await asyncio.wait({task}, timeout=grace)
    for late in pending:
        late.cancel()
    await settle([task])
