"""Storage layer: what every store module shares: units of work, upserts and row mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handlers.model import (
    ChannelAddress,
    Hyperparameters,
    Job,
    JobState,
    Platform,
    Team,
)
from handlers.profile import UNKNOWN_STATUS, JobStatus
from storage.engine import BEGIN_OPTION

Clock = Callable[[], datetime]
"""Where the store reads the time when the port does not pass `now`; timezone-aware UTC."""

Insert = postgresql.Insert | sqlite.Insert


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """Holds the engine and the clock; each public call is one unit of work on one connection."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        # Autobegun and rolled back on close: a read never holds anything past the call.
        async with self._engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on success; on SQLite it holds the write lock from BEGIN.

        On SQLite this process's writers also take turns before they connect: SQLite lets one
        writer in at a time and makes the others poll in its busy handler, sleeping up to
        100 ms between tries, so concurrent writers in one process (a sweep's accounts, the
        dispatcher) waited on sleeps rather than on each other. Other processes still meet
        at SQLite's lock."""
        async with _writer_turn(self._engine), self._engine.connect() as conn:
            await conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
            async with conn.begin():
                yield conn


_TURNS: WeakKeyDictionary[asyncio.AbstractEventLoop, WeakKeyDictionary[Engine, asyncio.Lock]] = (
    WeakKeyDictionary()
)


def _writer_turn(engine: AsyncEngine) -> AbstractAsyncContextManager[object]:
    """This process's turn to write through `engine` on SQLite (one lock per engine and event
    loop); nothing on PostgreSQL, whose writers do not exclude each other."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    by_engine = _TURNS.setdefault(asyncio.get_running_loop(), WeakKeyDictionary())
    return by_engine.setdefault(engine.sync_engine, asyncio.Lock())


def insert(conn: AsyncConnection, table: Table) -> Insert:
    """An INSERT that knows ON CONFLICT for this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def state_values(state: JobState) -> dict[str, Any]:
    """The jobs columns that hold a JobState (job_id excluded: it never changes)."""
    hp = state.hyperparameters
    return {
        "model": state.model,
        "status": str(state.status),
        "provider_status": state.provider_status or None,
        "created_at": state.created_at,
        "training_file": state.training_file,
        "method": state.method,
        "validation_file": state.validation_file,
        "hyperparameters": {
            "n_epochs": hp.n_epochs,
            "batch_size": hp.batch_size,
            "learning_rate_multiplier": hp.learning_rate_multiplier,
            "beta": hp.beta,
            # The options only some families take, kept only when the job has them.
            **{
                k: v
                for k, v in (
                    ("n_checkpoints", hp.n_checkpoints),
                    ("n_evals", hp.n_evals),
                    ("warmup_ratio", hp.warmup_ratio),
                    ("lora_r", hp.lora_r),
                    ("lora_alpha", hp.lora_alpha),
                    ("warmup_steps", hp.warmup_steps),
                    ("context_length", hp.context_length),
                )
                if v is not None
            },
        },
        "suffix": state.suffix,
        "seed": state.seed,
        "fine_tuned_model": state.fine_tuned_model,
        "trained_tokens": state.trained_tokens,
        "error": state.error,
        "finished_at": state.finished_at,
        "estimated_finish": state.estimated_finish,
        "job_metadata": dict(state.metadata),
    }


def _hyperparameters(raw: Mapping[str, Any] | None) -> Hyperparameters:
    raw = raw or {}
    return Hyperparameters(
        n_epochs=raw.get("n_epochs"),
        batch_size=raw.get("batch_size"),
        learning_rate_multiplier=raw.get("learning_rate_multiplier"),
        beta=raw.get("beta"),
        n_checkpoints=raw.get("n_checkpoints"),
        n_evals=raw.get("n_evals"),
        warmup_ratio=raw.get("warmup_ratio"),
        lora_r=raw.get("lora_r"),
        lora_alpha=raw.get("lora_alpha"),
        warmup_steps=raw.get("warmup_steps"),
        context_length=raw.get("context_length"),
    )


def _status(stored: str) -> JobStatus:
    """The stored status; every row holds a JobStatus value since migration 0005."""
    try:
        return JobStatus(stored)
    except ValueError:
        return UNKNOWN_STATUS


def job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    state = JobState(
        id=m["job_id"],
        model=m["model"],
        status=_status(m["status"]),
        provider_status=m["provider_status"] or "",
        created_at=m["created_at"],
        training_file=m["training_file"],
        method=m["method"],
        validation_file=m["validation_file"],
        hyperparameters=_hyperparameters(m["hyperparameters"]),
        suffix=m["suffix"],
        seed=m["seed"],
        fine_tuned_model=m["fine_tuned_model"],
        trained_tokens=m["trained_tokens"],
        error=m["error"],
        finished_at=m["finished_at"],
        estimated_finish=m["estimated_finish"],
        metadata={str(k): str(v) for k, v in (m["job_metadata"] or {}).items()},
    )
    channel = None
    if m["channel_platform"] is not None:
        channel = ChannelAddress(
            platform=Platform(m["channel_platform"]),
            workspace_id=m["channel_workspace_id"],
            channel_id=m["channel_id"],
            thread_id=m["channel_thread_id"],
        )
    return Job(
        team_id=m["team_id"],
        state=state,
        channel=channel,
        requester_id=m["requester_id"],
        card_message_id=m["card_message_id"],
        updated_at=m["updated_at"],
        provider=m["provider"],
        account=m["account"],
        recipe=m["recipe"],
        origin=m["origin_job_id"],
    )


def channel_from_row(row: Row[Any]) -> ChannelAddress:
    """The channel a row was made in, from its `channel_*` columns."""
    return ChannelAddress(
        platform=Platform(row.channel_platform),
        workspace_id=row.channel_workspace_id,
        channel_id=row.channel_id,
        thread_id=row.channel_thread_id,
    )


def team_from_row(row: Row[Any]) -> Team:
    m = row._mapping
    return Team(
        id=m["id"],
        platform=Platform(m["platform"]),
        workspace_id=m["workspace_id"],
        name=m["name"],
        metric_interval_seconds=m["metric_interval_seconds"],
    )
