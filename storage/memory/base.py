"""Storage layer: the in-memory tables (a dict per SQL table) and what the store parts share."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from handlers.model import (
    Approval,
    AuditEntry,
    Budget,
    ChannelAddress,
    Job,
    JobState,
    MetricPoint,
    RoleGrant,
    SpendEntry,
    StartIntent,
    Subscription,
    Team,
    TeamFile,
    TeamModel,
)

Clock = Callable[[], datetime]
"""Where the store reads the time when the port does not pass `now`; timezone-aware UTC."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class IntegrityError(Exception):
    """A write the SQL schema refuses too: a row of a team that does not exist, or a second
    row under a primary key. A bug in the caller, never a user's mistake."""


def utc(value: datetime) -> datetime:
    """What the SQL UTCDateTime column does: refuse naive times, hand aware ones back in UTC."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the store takes UTC-aware times only")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def json_copy(value: Any) -> Any:
    """What a JSON column does to a value: a deep copy in JSON's own types (tuples to lists)."""
    return json.loads(json.dumps(value))


def stored_state(state: JobState, *, job_id: str | None = None) -> JobState:
    """A JobState as the jobs table keeps it: UTC times, metadata as str to str; the job id
    column never changes, so a write keeps the row's id."""
    return replace(
        state,
        id=state.id if job_id is None else job_id,
        created_at=utc(state.created_at),
        finished_at=utc_or_none(state.finished_at),
        estimated_finish=utc_or_none(state.estimated_finish),
        metadata={str(k): str(v) for k, v in state.metadata.items()},
        provider_cost=None,  # never stored (the SQL stores have no column for it)
    )


def read_job(job: Job) -> Job:
    """A copy for a caller: the frozen parts are shared, the metadata mapping is not."""
    return replace(job, state=replace(job.state, metadata=dict(job.state.metadata)))


# rows: what one SQL row holds beyond the core value it maps to


@dataclass(slots=True, kw_only=True)
class TeamRow:
    team: Team
    created_at: datetime
    backoff_until: datetime | None = None
    default_provider: str | None = None


@dataclass(slots=True, kw_only=True)
class JobRow:
    """A job and its watch state; `next_poll_at` None means never poll again."""

    id: int
    job: Job
    next_poll_at: datetime | None
    cursor: str | None = None
    polls_without_news: int = 0
    last_notified_metric_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    fence: int = 0

    def lease_free(self, now: datetime) -> bool:
        return self.lease_until is None or self.lease_until < now


@dataclass(slots=True, kw_only=True)
class MetricSeries:
    """A job's metric points by step (the SQL table is unique on job and step)."""

    team_id: str
    points: dict[int, MetricPoint] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class SubscriptionRow:
    id: int
    subscription: Subscription
    created_at: datetime


@dataclass(slots=True, kw_only=True)
class OutboxRow:
    id: int
    team_id: str
    dedupe_key: str
    kind: str
    job_id: str | None
    card_key: str | None
    target: ChannelAddress
    body_json: str
    """The reply as the SQL JSON column holds it, so what comes back is what SQL gives back."""
    created_at: datetime
    available_at: datetime
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    message_id: str | None = None
    last_error: str | None = None
    dead: bool = False
    superseded: bool = False

    @property
    def pending(self) -> bool:
        """Still to post: not sent and not given up on."""
        return self.sent_at is None and not self.dead

    def lease_free(self, now: datetime) -> bool:
        return self.lease_until is None or self.lease_until < now


@dataclass(slots=True, kw_only=True)
class CardRow:
    message_id: str
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class CredentialRow:
    """A team's key as the SQL row holds it: the Fernet token, never the key itself."""

    provider: str
    endpoint: str | None
    api_version: str | None
    token: str
    fingerprint: str
    set_by: str
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class FileCopyRow:
    content: bytes
    created_at: datetime


@dataclass(kw_only=True)
class MemoryDatabase:
    """Every table of storage/tables.py as a dict; two stores over one database behave like
    two engines over one SQL database (they see each other's writes at once)."""

    teams: dict[str, TeamRow] = field(default_factory=dict)
    files: dict[int, TeamFile] = field(default_factory=dict)
    file_copies: dict[tuple[str, str], FileCopyRow] = field(default_factory=dict)
    jobs: dict[str, JobRow] = field(default_factory=dict)
    """By the provider's job id, unique across teams as in SQL."""
    job_metrics: dict[str, MetricSeries] = field(default_factory=dict)
    models: dict[int, TeamModel] = field(default_factory=dict)
    subscriptions: dict[int, SubscriptionRow] = field(default_factory=dict)
    audit: dict[int, AuditEntry] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    outbox_keys: dict[str, int] = field(default_factory=dict)
    """The outbox's unique dedupe_key index: key to row id."""
    cards: dict[str, CardRow] = field(default_factory=dict)
    webhook_inbox: dict[str, datetime] = field(default_factory=dict)
    team_roles: dict[tuple[str, str], RoleGrant] = field(default_factory=dict)
    team_credentials: dict[tuple[str, str], CredentialRow] = field(default_factory=dict)
    provider_backoffs: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """One family's pause for one team, by (team, family)."""
    """By (team, family), the SQL table's primary key."""
    team_budgets: dict[str, Budget] = field(default_factory=dict)
    spend: dict[tuple[str, str], SpendEntry] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    request_ids: dict[str, datetime] = field(default_factory=dict)
    """A request identity and when its redelivery window ends."""
    start_intents: dict[str, StartIntent] = field(default_factory=dict)
    """By the intent's key (the provider idempotency key), unique as in SQL."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def new_id(self) -> int:
        """The next row id: increasing, as an autoincrement column's are (one sequence serves
        every table; nothing compares ids across tables)."""
        return next(self._ids)


class MemoryBase:
    """Holds the database and the clock; what every section of the in-memory store shares.

    Each public call first yields to the event loop once, as a database round trip does, so
    concurrent callers interleave as they do on SQL; after that a call never awaits, so its
    body is atomic and stands in for the SQL transaction without any lock.
    """

    def __init__(self, database: MemoryDatabase | None = None, *, clock: Clock = utc_now) -> None:
        self._db = MemoryDatabase() if database is None else database
        self._clock = clock

    @property
    def database(self) -> MemoryDatabase:
        return self._db

    async def _turn(self) -> None:
        await asyncio.sleep(0)

    def _require_team(self, team_id: str) -> TeamRow:
        """The foreign key every team-owned table has in SQL."""
        row = self._db.teams.get(team_id)
        if row is None:
            raise IntegrityError(f"no team {team_id!r}: call ensure_team before writing its rows")
        return row
