"""Test helpers: the SQL store's own rows, for core tests run with TEST_STORE=sqlite.

tests/handlers runs on the in-memory store and imports this module only when a test is given a
SQL store, so SQLAlchemy is loaded by the SQLite pass alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, text

from storage.store import SqlStore
from storage.tables import cards, job_metrics, jobs, models, outbox


async def forget_jobs(store: SqlStore) -> None:
    """Every job, metric, notice, card and model row gone: a lost database's jobs."""
    async with store.engine.begin() as conn:
        for table in (job_metrics, outbox, cards, models, jobs):
            await conn.execute(delete(table))


async def team_rows(
    store: SqlStore, tables: Sequence[str], team_id: str
) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows that belong to team_id, sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with store.engine.connect() as conn:
        for table in tables:
            column = "id" if table == "teams" else "team_id"
            query = text(f"SELECT * FROM {table} WHERE {column} = :team")
            rows = (await conn.execute(query, {"team": team_id})).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out
