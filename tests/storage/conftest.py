"""Store test fixtures: every test here runs once per backend (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.store import SqlStore
from tests.dbutil import (
    SQLITE,
    backend_params,
    fresh_postgres_database,
    open_store,
    postgres_url,
    sqlite_url,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """The store's injected clock; tests move it by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throw-away database for the session's PostgreSQL tests."""
    base = postgres_url()
    assert base, "TEST_DATABASE_URL is not set"
    with fresh_postgres_database(base) as url:
        yield url


@pytest.fixture(params=backend_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == SQLITE:
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(db_url: str, clock: ManualClock) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, clock=clock, clear=True) as opened:
        yield opened
