"""Storage layer: the SQLAlchemy Core tables every backend shares (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

from storage.crypto import TeamSecret, require_key_ring

# Explicit constraint names keep the hand-written migration and autogenerate comparisons in step.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out on every backend.

    SQLite has no zone-aware type: its DATETIME formatter drops tzinfo, so a value in another
    zone would be stored off by its offset and compare wrongly. Normalise to UTC on the way in,
    and put the UTC zone back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store takes UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EncryptedSecret(TypeDecorator[TeamSecret]):
    """A TEXT column holding a Fernet token (storage.crypto); Python sees a TeamSecret only."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: TeamSecret | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return require_key_ring().encrypt(value.team_id, value.value.reveal())

    def process_result_value(self, value: str | None, dialect: Dialect) -> TeamSecret | None:
        if value is None:
            return None
        return require_key_ring().decrypt(value)


def _created_at() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


teams = Table(
    "teams",
    metadata,
    Column("id", Text, primary_key=True),
    Column("platform", Text, nullable=False),
    Column("workspace_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("metric_interval_seconds", Integer, nullable=False, server_default="60"),
    Column("backoff_until", UTCDateTime(), nullable=True),
    _created_at(),
    # the family `start` uses when it names none; NULL: the deployment's (0006)
    Column("default_provider", Text, nullable=True),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("alias", Text, nullable=False),
    Column("provider_file_id", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("examples", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("tokens", BigInteger, nullable=True),
    Column("uploaded_by", Text, nullable=True),
    _created_at(),
    # the provider family (a profile name) and whose key: "team" or "deployment" (0006)
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    UniqueConstraint("team_id", "alias"),
    Index(None, "team_id", "sha256"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("base_model", Text, nullable=False),
    Column("job_id", Text, nullable=False),
    _created_at(),
    # the provider family (a profile name) and whose key: "team" or "deployment" (0006)
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    UniqueConstraint("team_id", "name"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("job_id", Text, nullable=False, unique=True),
    # JobState
    Column("model", Text, nullable=False),
    Column("status", Text, nullable=False),
    # the provider's own word for the status (status holds the core's JobStatus)
    Column("provider_status", Text, nullable=True),
    _created_at(),
    Column("training_file", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("validation_file", Text, nullable=True),
    Column("hyperparameters", JSON, nullable=False),
    Column("suffix", Text, nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("fine_tuned_model", Text, nullable=True),
    Column("trained_tokens", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("estimated_finish", UTCDateTime(), nullable=True),
    Column("job_metadata", JSON, nullable=False),
    # where the job was started and who started it
    Column("channel_platform", Text, nullable=True),
    Column("channel_workspace_id", Text, nullable=True),
    Column("channel_id", Text, nullable=True),
    Column("channel_thread_id", Text, nullable=True),
    Column("requester_id", Text, nullable=True),
    Column("card_message_id", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    # watch state; next_poll_at NULL means never poll again
    Column("cursor", Text, nullable=True),
    Column("next_poll_at", UTCDateTime(), nullable=True),
    Column("polls_without_news", Integer, nullable=False, server_default="0"),
    Column("last_notified_metric_at", UTCDateTime(), nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("fence", BigInteger, nullable=False, server_default="0"),
    # the provider family (a profile name) and whose key: "team" or "deployment" (0006)
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    # the start as asked (a replay reads it) and the job a replay's recipe came from (0007)
    Column("recipe", JSON, nullable=True),
    Column("origin_job_id", Text, nullable=True),
    Index(None, "team_id", "created_at"),
    Index(None, "next_poll_at"),
)

job_metrics = Table(
    "job_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, nullable=False),
    Column("job_id", Text, ForeignKey("jobs.job_id"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("total_steps", Integer, nullable=True),
    Column("train_loss", Double, nullable=True),
    Column("train_accuracy", Double, nullable=True),
    Column("valid_loss", Double, nullable=True),
    Column("valid_accuracy", Double, nullable=True),
    UniqueConstraint("job_id", "step"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("platform", Text, nullable=False),
    Column("workspace_id", Text, nullable=False),
    Column("channel_id", Text, nullable=False),
    Column("thread_id", Text, nullable=True),
    Column("filter", Text, nullable=False),
    Column("created_by", Text, nullable=True),
    _created_at(),
    UniqueConstraint("team_id", "platform", "workspace_id", "channel_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, nullable=False),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("job_id", Text, nullable=True),
    Column("card_key", Text, nullable=True),
    Column("target_platform", Text, nullable=False),
    Column("target_workspace_id", Text, nullable=False),
    Column("target_channel_id", Text, nullable=False),
    Column("target_thread_id", Text, nullable=True),
    Column("body_json", JSON, nullable=False),
    _created_at(),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("message_id", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("dead", Boolean, nullable=False, server_default=false()),
    Column("superseded", Boolean, nullable=False, server_default=false()),
    Index(None, "sent_at", "available_at"),
    Index(None, "card_key"),
)

cards = Table(
    "cards",
    metadata,
    Column("card_key", Text, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("webhook_id", Text, primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("arguments", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index(None, "team_id", "at"),
)

# teams, keys and permissions (migration 0002)

team_roles = Table(
    "team_roles",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("granted_by", Text, nullable=False),
    Column("granted_at", UTCDateTime(), nullable=False),
)

team_credentials = Table(
    "team_credentials",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    # one key per family (0006); `provider` is the family's account kind (openai, azure...)
    Column("family", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("endpoint", Text, nullable=True),
    Column("api_version", Text, nullable=True),
    Column("secret", EncryptedSecret(), nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("set_by", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # the account kind's own non-secret fields (project, region, bucket...) (0008)
    Column("settings", JSON, nullable=True),
)

team_budgets = Table(
    "team_budgets",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    Column("monthly_cap", Double, nullable=True),
    Column("approve_over", Double, nullable=True),
)

spend = Table(
    "spend",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("job_id", Text, nullable=False),
    Column("month", Text, nullable=False),
    Column("estimated", Double, nullable=False),
    Column("price_per_million", Double, nullable=True),
    Column("actual", Double, nullable=True),
    UniqueConstraint("team_id", "job_id"),
    Index(None, "team_id", "month"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Text, primary_key=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("requester_id", Text, nullable=False),
    Column("channel_platform", Text, nullable=False),
    Column("channel_workspace_id", Text, nullable=False),
    Column("channel_id", Text, nullable=False),
    Column("channel_thread_id", Text, nullable=True),
    Column("request", JSON, nullable=False),
    Column("cost", Double, nullable=True),
    Column("status", Text, nullable=False),
    _created_at(),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("decided_by", Text, nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("job_id", Text, nullable=True),
    Index(None, "team_id", "created_at"),
)

# one family's pause for one team after a team-wide provider error (migration 0006)

provider_backoffs = Table(
    "provider_backoffs",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("until", UTCDateTime(), nullable=False),
)

# local copies of small uploaded files (migration 0003)

file_copies = Table(
    "file_copies",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    Column("provider_file_id", Text, primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    _created_at(),
)

# replays and crash-safe starts (migration 0004)

request_ids = Table(
    "request_ids",
    metadata,
    # A chat request's identity (Slack trigger_id/event_id/signature, Discord interaction id),
    # kept while the platform could still deliver it again.
    Column("identity", Text, primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
)

start_intents = Table(
    "start_intents",
    metadata,
    # The idempotency key the provider's create is called with, on every try.
    Column("key", Text, primary_key=True),
    Column("team_id", Text, ForeignKey("teams.id"), nullable=False),
    Column("requester_id", Text, nullable=False),
    Column("channel_platform", Text, nullable=False),
    Column("channel_workspace_id", Text, nullable=False),
    Column("channel_id", Text, nullable=False),
    Column("channel_thread_id", Text, nullable=True),
    Column("fingerprint", Text, nullable=False),
    Column("request", JSON, nullable=False),
    Column("estimated", Double, nullable=True),
    Column("price_per_million", Double, nullable=True),
    Column("account", Text, nullable=False),
    Column("approval_id", Text, nullable=True),
    _created_at(),
    Column("job_id", Text, nullable=True),
    Column("settled_at", UTCDateTime(), nullable=True),
    Column("provider", Text, nullable=False),
    Column("provider_account", Text, nullable=False),
    Index(None, "team_id", "requester_id", "fingerprint"),
    Index(None, "settled_at"),
)
