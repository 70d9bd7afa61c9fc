"""Waiting for cancelled tasks never cancels them a second time, even when the wait itself is
cancelled (a second cancel cuts a database connection's close short)."""

from __future__ import annotations

import asyncio

import pytest

from handlers.cancelled import settle


class _Closing:
    """A task body that, cancelled, takes a moment to close what it holds; a second cancel
    during that close is counted."""

    def __init__(self) -> None:
        self.cancels = 0
        self.closed = False

    async def run(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancels += 1
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                self.cancels += 1
                raise
            self.closed = True
            raise


async def test_a_cancelled_wait_still_lets_the_tasks_close_and_then_is_cancelled() -> None:
    body = _Closing()
    task = asyncio.create_task(body.run())
    await asyncio.sleep(0)
    task.cancel()
    waiting = asyncio.create_task(settle([task]))
    await asyncio.sleep(0.02)
    waiting.cancel()  # the caller gives up, as a stop step's time limit does
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (body.cancels, body.closed) == (1, True), "cancelled once, closed in full"
    assert task.cancelled()


async def test_errors_of_the_tasks_are_retrieved_and_an_uncancelled_wait_returns() -> None:
    async def fails() -> None:
        raise ValueError("at cancel time")

    failing = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await settle([failing])
    assert isinstance(failing.exception(), ValueError)
