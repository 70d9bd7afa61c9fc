"""Test helpers: the stores a store test runs on, fresh PostgreSQL databases, open stores.

The in-memory store and SQLite (a temporary file) always; PostgreSQL too when TEST_DATABASE_URL
is set, e.g.
postgresql+asyncpg://postgres@127.0.0.1:5432/test. Each PostgreSQL test session works in a
database of its own, created here and dropped at the end, so runs never see each other's rows.
An unreachable TEST_DATABASE_URL fails the tests that need it; it never skips them.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.engine import create_engine, migrate
from storage.memory.base import MemoryDatabase
from storage.memory.store import MemoryStore
from storage.store import SqlStore
from storage.tables import metadata
from tests.backends import MEMORY_SCHEME, POSTGRES

AnyStore = SqlStore | MemoryStore
"""What the store contract suites take: every backend passes the same tests."""

T = TypeVar("T")


def memory_url() -> str:
    """A fresh in-memory database's URL (tests/dbutil's own scheme, known to open_store)."""
    return f"{MEMORY_SCHEME}{uuid.uuid4().hex}"


_memory_databases: weakref.WeakValueDictionary[str, MemoryDatabase] = weakref.WeakValueDictionary()
"""Open in-memory databases by URL; one goes when its last store does."""


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # A thread of its own: the calling thread may already belong to pytest-asyncio's loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, factory()).result()


async def _admin(base_url: str, sql: str) -> None:
    engine = create_async_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """Create an empty database next to base_url's, yield its URL, drop it afterwards."""
    name = f"ftbot_test_{uuid.uuid4().hex[:12]}"
    _run(lambda: _admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(lambda: _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def clear_tables(engine: AsyncEngine) -> None:
    """Delete every row (migrations stay applied): a clean slate per test on a shared database."""
    async with engine.begin() as conn:
        if conn.dialect.name == POSTGRES:
            names = ", ".join(table.name for table in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())


def open_memory_store(
    url: str, *, clock: Callable[[], datetime] | None = None, clear: bool = False
) -> MemoryStore:
    """A MemoryStore on the database `url` names, created (or emptied, if `clear`) here."""
    database = None if clear else _memory_databases.get(url)
    if database is None:
        database = _memory_databases[url] = MemoryDatabase()
    return MemoryStore(database) if clock is None else MemoryStore(database, clock=clock)


@asynccontextmanager
async def open_store(
    url: str, *, clock: Callable[[], datetime] | None = None, clear: bool = False
) -> AsyncIterator[SqlStore]:
    """An engine for url, migrated (and emptied if `clear`), as a SqlStore; disposed on exit."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        if clear:
            await clear_tables(engine)
        yield SqlStore(engine) if clock is None else SqlStore(engine, clock=clock)
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_any_store(
    url: str, *, clock: Callable[[], datetime] | None = None, clear: bool = False
) -> AsyncIterator[AnyStore]:
    """open_store, or for a memory:// URL a MemoryStore sharing the database of every other
    store open on that URL (as engines on one database share it)."""
    if url.startswith(MEMORY_SCHEME):
        yield open_memory_store(url, clock=clock, clear=clear)
        return
    async with open_store(url, clock=clock, clear=clear) as store:
        yield store
