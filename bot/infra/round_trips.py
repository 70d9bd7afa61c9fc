"""Infrastructure: counts the database statements (round trips) one piece of work sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(slots=True)
class Tally:
    statements: int = 0


class RoundTrips:
    """Counts the statements executed on `engine` inside `counting()`, by the awaiting task and
    every task it starts (they share its context), not by other ticks running meanwhile."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._current: ContextVar[Tally | None] = ContextVar("round_trips", default=None)
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        # SQLAlchemy's asyncio layer runs the driver call in a greenlet that carries the
        # awaiting task's context, so the tally found here is that task's.
        tally = self._current.get()
        if tally is not None:
            tally.statements += 1

    @contextmanager
    def counting(self) -> Iterator[Tally]:
        tally = Tally()
        token = self._current.set(tally)
        try:
            yield tally
        finally:
            self._current.reset(token)


@contextmanager
def counting(round_trips: RoundTrips | None) -> Iterator[Tally | None]:
    """`round_trips.counting()`, or nothing counted (None) when there is no counter."""
    if round_trips is None:
        yield None
        return
    with round_trips.counting() as tally:
        yield tally
