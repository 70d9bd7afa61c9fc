"""Core test fixtures: tests/world.py opens the in-memory store here unless TEST_STORE says not.

TEST_STORE=sqlite runs every test here on a SQLite file instead (what they ran on before the
in-memory store; its contract suite in tests/storage keeps the two in step). A test marked
`sqlite_store` reads the SQL store's own rows or files, so it runs on SQLite either way.
"""

from __future__ import annotations

import os

import pytest

from tests import world
from tests.dbutil import MEMORY, SQLITE


@pytest.fixture(autouse=True)
def _store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = request.node.get_closest_marker("sqlite_store") is not None
    backend = SQLITE if pinned else os.environ.get(world.STORE_ENV, MEMORY)
    monkeypatch.setattr(world, "default_backend", backend)
