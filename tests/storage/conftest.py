"""Store test fixtures: every test here runs once per backend (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.store import SqlStore
from tests.dbutil import open_store
from tests.fakes.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(db_url: str, clock: ManualClock) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, clock=clock, clear=True) as opened:
        yield opened
