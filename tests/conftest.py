"""Fixtures shared by every test package: the databases to run on (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbutil import SQLITE, backend_params, fresh_postgres_database, postgres_url, sqlite_url


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throw-away database for the session's PostgreSQL tests."""
    base = postgres_url()
    assert base, "TEST_DATABASE_URL is not set"
    with fresh_postgres_database(base) as url:
        yield url


@pytest.fixture(params=backend_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file always; the session's PostgreSQL database when TEST_DATABASE_URL is set."""
    if request.param == SQLITE:
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    return url
