"""Storage tests: engine set-up, migrations at start-up and schema drift, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.errors import ConfigError
from storage.engine import alembic_config, create_engine, migrate
from storage.store import SqlStore
from storage.tables import metadata
from tests.backends import postgres_url
from tests.dbutil import fresh_postgres_database
from tests.storage import factories as f


def _diff(sync_conn: Connection) -> list[object]:
    context = MigrationContext.configure(
        sync_conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _head(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    return [r[0] for r in rows]


async def test_migrated_schema_matches_tables_and_migrate_is_idempotent(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        assert await _head(engine) == [HEAD]
    finally:
        await engine.dispose()


async def test_times_come_back_utc_aware(store: SqlStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 5, 1, 14, 0, tzinfo=plus_two)
    await store.ensure_team(f.team())
    await store.set_team_backoff("slack:T1", until=local)
    back = await store.team_backoff_until("slack:T1")
    assert back == local
    assert back is not None
    assert back.tzinfo is UTC
    assert back.hour == 12


async def test_naive_times_are_refused(store: SqlStore) -> None:
    await store.ensure_team(f.team())
    with pytest.raises(Exception, match="naive datetime"):
        await store.set_team_backoff("slack:T1", until=datetime(2026, 1, 1))


def test_unsupported_url_names_database_url() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_engine("mysql+aiomysql://u@h/db")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_engine("not a url")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_engine("sqlite+aiosqlite:///:memory:")


async def test_plain_scheme_names_mean_the_async_drivers(tmp_path: Path) -> None:
    sqlite_engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    pg_engine = create_engine("postgresql://postgres@127.0.0.1:5432/test")
    try:
        assert sqlite_engine.url.drivername == "sqlite+aiosqlite"
        assert pg_engine.url.drivername == "postgresql+asyncpg"
    finally:
        await sqlite_engine.dispose()
        await pg_engine.dispose()


async def test_sqlite_creates_parent_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "still" / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        assert path.exists()
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        await engine.dispose()


async def test_sqlite_reads_run_inside_a_transaction(tmp_path: Path) -> None:
    # The driver's legacy mode would leave a SELECT outside any transaction.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            assert raw.driver_connection.in_transaction
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(postgres_url() is None, reason="TEST_DATABASE_URL is not set")
async def test_concurrent_migrate_on_postgres_takes_turns() -> None:
    base = postgres_url()
    assert base
    # A fresh database per trial: the race only exists while the tables are still missing.
    for _ in range(2):
        with fresh_postgres_database(base) as url:
            engines = [create_engine(url) for _ in range(4)]
            try:
                await asyncio.gather(*(migrate(engine) for engine in engines))
                assert await _head(engines[0]) == [HEAD]
                async with engines[0].connect() as conn:
                    assert await conn.run_sync(_diff) == []
            finally:
                for engine in engines:
                    await engine.dispose()
