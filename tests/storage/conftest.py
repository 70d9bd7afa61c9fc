"""Store test fixtures: every test here runs once per backend (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.backends import MEMORY, SQLITE, sqlite_url, store_backend_params
from tests.dbutil import AnyStore, memory_url, open_any_store
from tests.fakes.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=store_backend_params())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The in-memory store and a SQLite file always; PostgreSQL when TEST_DATABASE_URL is set."""
    if request.param == MEMORY:
        return memory_url()
    if request.param == SQLITE:
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
async def store(store_url: str, clock: ManualClock) -> AsyncIterator[AnyStore]:
    async with open_any_store(store_url, clock=clock, clear=True) as opened:
        yield opened
