"""Test helpers: the names of the stores a test can run on, and which of them this run has.

Nothing here imports a database library: tests/handlers (and the root conftest) read these
names without loading SQLAlchemy. The helpers that open SQL stores are in tests/dbutil.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

SQLITE = "sqlite"
POSTGRES = "postgresql"
MEMORY = "memory"
MEMORY_SCHEME = "memory://"
"""A store URL of the in-memory store: stores opened on one such URL share one database."""


def postgres_url() -> str | None:
    """TEST_DATABASE_URL, or None when the PostgreSQL pass is not asked for."""
    return os.environ.get("TEST_DATABASE_URL") or None


def database_urls() -> list[str]:
    """Backend names to parametrize over: always "sqlite", plus "postgresql" when configured."""
    return [SQLITE, POSTGRES] if postgres_url() else [SQLITE]


def backend_params() -> list[Any]:
    """database_urls() as pytest params; the PostgreSQL one carries the `postgres` marker."""
    return [
        pytest.param(name, id=name, marks=[pytest.mark.postgres] if name == POSTGRES else [])
        for name in database_urls()
    ]


def store_backend_params() -> list[Any]:
    """backend_params() and the in-memory store: the backends the store contract runs on."""
    return [pytest.param(MEMORY, id=MEMORY), *backend_params()]


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'bot.db'}"
