"""Fixtures shared by every test package: the databases to run on (see tests/backends.py).

SQLAlchemy is imported only by a test that opens PostgreSQL: tests/handlers never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.backends import SQLITE, backend_params, postgres_url, sqlite_url

# Property tests without a count of their own run Hypothesis's default (100 examples) in the
# everyday run; `pytest --hypothesis-profile=thorough` runs ten times as many, e.g. before a
# release or after changing the parser, the dataset checker or the codec.
settings.register_profile("thorough", max_examples=1000)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throw-away database for the session's PostgreSQL tests."""
    from tests.dbutil import fresh_postgres_database  # loads SQLAlchemy: only when asked for

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
