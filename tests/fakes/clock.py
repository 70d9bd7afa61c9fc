"""Test fake: a Clock that only moves when a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """The `handlers.ports.Clock` port, fast-forwarded by hand: no sleeps in tests."""

    def __init__(self, start: datetime = T0) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.current = start

    def now(self) -> datetime:
        return self.current

    def __call__(self) -> datetime:
        # Some ports take a plain callable instead of a Clock; one fake serves both.
        return self.current

    def advance(self, seconds: float = 0.0) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current

    def set(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.current = moment
        return self.current
