"""Storage layer: builds the async engine for a DATABASE_URL and migrates it at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from handlers.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant shared by every replica; it only has to differ from other apps' locks.
MIGRATION_LOCK_ID = 727_274_001
BEGIN_OPTION = "ftbot_sqlite_begin"
"""Execution option: "IMMEDIATE" makes a SQLite transaction take the write lock at BEGIN."""

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_SUPPORTED = "sqlite+aiosqlite:///path/to/bot.db or postgresql+asyncpg://user@host:5432/db"


def create_engine(url: str) -> AsyncEngine:
    """An AsyncEngine for SQLite (aiosqlite) or PostgreSQL (asyncpg), tuned for this service."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL; use {_SUPPORTED}.") from exc
    # Plain scheme names are common in settings; they mean the async driver we ship.
    driver = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    parsed = parsed.set(drivername=driver)
    if driver == "sqlite+aiosqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ConfigError(
                "DATABASE_URL must name a SQLite file (an in-memory database is one "
                f"connection's alone); use {_SUPPORTED}."
            )
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed)
        _tune_sqlite(engine)
        return engine
    if driver == "postgresql+asyncpg":
        return create_async_engine(parsed, pool_pre_ping=True)
    raise ConfigError(f"DATABASE_URL driver {driver!r} is not supported; use {_SUPPORTED}.")


def writing_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, every transaction begun IMMEDIATE on SQLite (nothing changes on
    PostgreSQL): for code we do not own that reads and then writes in one transaction,
    such as slack_sdk's installation stores, which would otherwise fail at once with
    "database is locked" when the watcher writes in between."""
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Legacy sqlite3 transaction control would run SELECTs outside any transaction;
        # SQLAlchemy's documented recipe: let the driver do nothing and emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY at once
        # (no busy wait) when another writer got in between; writers ask for IMMEDIATE.
        mode = conn.get_execution_options().get(BEGIN_OPTION, "")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def alembic_config() -> Config:
    """The Alembic configuration, built in code so it works from an installed wheel."""
    config = Config()
    # Config values go through ConfigParser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _upgrade(sync_conn: Connection, config: Config) -> None:
    config.attributes["connection"] = sync_conn
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, *, deployment_family: str | None = None) -> None:
    """Apply every migration up to head; safe to run from several replicas at once.

    `deployment_family` is the provider family the deployment runs (FINETUNE_BOT_PROVIDER's):
    a revision that moves rows between families needs to know whose account made the rows
    the deployment's own key made (0008)."""
    async with engine.connect() as conn:
        await conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                # Concurrent CREATE TABLEs race on pg_type; replicas take turns instead.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            config = alembic_config()
            config.attributes["deployment_family"] = deployment_family
            await conn.run_sync(_upgrade, config)
