"""Core test fixtures: tests/world.py opens the in-memory store here unless TEST_STORE says not.

TEST_STORE=sqlite runs every test here on a SQLite file instead (what they ran on before the
in-memory store; its contract suite in tests/storage keeps the two in step). Tests that read
the SQL store's own rows or files live in tests/storage (e.g. test_secrets_at_rest.py).
"""

from __future__ import annotations

import os

import pytest

from tests import world
from tests.backends import MEMORY


@pytest.fixture(autouse=True)
def _store_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world, "default_backend", os.environ.get(world.STORE_ENV, MEMORY))
