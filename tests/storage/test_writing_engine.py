"""SQLite: code we do not own that reads and then writes in one transaction (slack_sdk's
installation stores) gets the write lock at BEGIN, so a writer in between makes it wait
instead of failing at once with "database is locked"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine, writing_engine
from tests.dbutil import open_store
from tests.storage import factories as f


async def _read_then_write_while_another_writes(engine: AsyncEngine, other: AsyncEngine) -> None:
    async with engine.begin() as mine:
        await mine.execute(text("SELECT COUNT(*) FROM t"))  # a read snapshot is taken here
        async with other.begin() as theirs:  # another writer commits in between
            await theirs.execute(text("INSERT INTO t VALUES (1)"))
        await mine.execute(text("INSERT INTO t VALUES (2)"))


async def _engines(tmp_path: Path) -> tuple[AsyncEngine, AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    engine, other = create_engine(url), create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (v INTEGER)"))
    return engine, other


async def test_a_deferred_read_then_write_fails_when_another_writer_got_in(
    tmp_path: Path,
) -> None:
    engine, other = await _engines(tmp_path)
    try:
        with pytest.raises(OperationalError, match="locked"):
            await _read_then_write_while_another_writes(engine, other)
    finally:
        await engine.dispose()
        await other.dispose()


async def test_the_writing_engine_holds_the_lock_from_begin(tmp_path: Path) -> None:
    engine, other = await _engines(tmp_path)
    writer = writing_engine(engine)
    try:
        async with writer.begin() as mine:
            await mine.execute(text("SELECT COUNT(*) FROM t"))
            # The other writer now waits for us (busy timeout) instead of getting in between.
            theirs = asyncio.create_task(_insert(other, 1))
            await asyncio.sleep(0.2)
            assert not theirs.done()
            await mine.execute(text("INSERT INTO t VALUES (2)"))
        await theirs
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT v FROM t ORDER BY v"))).scalars().all()
        assert rows == [1, 2]
    finally:
        await engine.dispose()
        await other.dispose()


async def _insert(engine: AsyncEngine, value: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})


async def test_a_stores_writers_take_turns_on_sqlite_and_never_meet_at_its_lock(
    tmp_path: Path,
) -> None:
    """Twenty writes at once through one store: one write connection out at a time (the
    others wait their turn in the process, not in SQLite's sleeping busy handler), and all
    of them land."""
    async with open_store(f"sqlite+aiosqlite:///{tmp_path / 's.db'}") as store:
        out = [0]
        most = [0]

        @event.listens_for(store.engine.sync_engine, "checkout")
        def _out(*_: object) -> None:
            out[0] += 1
            most[0] = max(most[0], out[0])

        @event.listens_for(store.engine.sync_engine, "checkin")
        def _in(*_: object) -> None:
            out[0] -= 1

        await asyncio.gather(*(store.ensure_team(f.team(f"T{n}")) for n in range(20)))
        assert most[0] == 1
        assert all([await store.get_team(f"slack:T{n}") is not None for n in range(20)])
