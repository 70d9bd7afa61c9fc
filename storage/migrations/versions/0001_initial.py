"""Storage layer: the initial schema (teams, files, models, jobs, metrics, outbox, cards...).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[object]:
    # UTCDateTime in tables.py is a Python-side wrapper; the column type itself is this.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "teams",
        _text("id"),
        _text("platform"),
        _text("workspace_id"),
        _text("name"),
        sa.Column("metric_interval_seconds", sa.Integer(), server_default="60", nullable=False),
        _utc("backoff_until", nullable=True),
        _utc("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
    )
    op.create_table(
        "files",
        _id(),
        _text("team_id"),
        _text("alias"),
        _text("provider_file_id"),
        _text("filename"),
        _text("sha256"),
        _text("format"),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=True),
        _text("uploaded_by", nullable=True),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_files_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.UniqueConstraint("team_id", "alias", name="uq_files_team_id_alias"),
    )
    op.create_index("ix_files_team_id_sha256", "files", ["team_id", "sha256"])
    op.create_table(
        "models",
        _id(),
        _text("team_id"),
        _text("name"),
        _text("base_model"),
        _text("job_id"),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_models_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("team_id", "name", name="uq_models_team_id_name"),
    )
    op.create_table(
        "jobs",
        _id(),
        _text("team_id"),
        _text("job_id"),
        _text("model"),
        _text("status"),
        _utc("created_at", nullable=False),
        _text("training_file"),
        _text("method"),
        _text("validation_file", nullable=True),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        _text("suffix", nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        _text("fine_tuned_model", nullable=True),
        sa.Column("trained_tokens", sa.BigInteger(), nullable=True),
        _text("error", nullable=True),
        _utc("finished_at", nullable=True),
        _utc("estimated_finish", nullable=True),
        sa.Column("job_metadata", sa.JSON(), nullable=False),
        _text("channel_platform", nullable=True),
        _text("channel_workspace_id", nullable=True),
        _text("channel_id", nullable=True),
        _text("channel_thread_id", nullable=True),
        _text("requester_id", nullable=True),
        _text("card_message_id", nullable=True),
        _utc("updated_at", nullable=True),
        _text("cursor", nullable=True),
        _utc("next_poll_at", nullable=True),
        sa.Column("polls_without_news", sa.Integer(), server_default="0", nullable=False),
        _utc("last_notified_metric_at", nullable=True),
        _text("lease_owner", nullable=True),
        _utc("lease_until", nullable=True),
        sa.Column("fence", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_jobs_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("job_id", name="uq_jobs_job_id"),
    )
    op.create_index("ix_jobs_next_poll_at", "jobs", ["next_poll_at"])
    op.create_index("ix_jobs_team_id_created_at", "jobs", ["team_id", "created_at"])
    op.create_table(
        "job_metrics",
        _id(),
        _text("team_id"),
        _text("job_id"),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=True),
        sa.Column("train_loss", sa.Double(), nullable=True),
        sa.Column("train_accuracy", sa.Double(), nullable=True),
        sa.Column("valid_loss", sa.Double(), nullable=True),
        sa.Column("valid_accuracy", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name="fk_job_metrics_job_id_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_job_metrics"),
        sa.UniqueConstraint("job_id", "step", name="uq_job_metrics_job_id_step"),
    )
    op.create_table(
        "subscriptions",
        _id(),
        _text("team_id"),
        _text("platform"),
        _text("workspace_id"),
        _text("channel_id"),
        _text("thread_id", nullable=True),
        _text("filter"),
        _text("created_by", nullable=True),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_subscriptions_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint(
            "team_id",
            "platform",
            "workspace_id",
            "channel_id",
            name="uq_subscriptions_team_id_platform_workspace_id_channel_id",
        ),
    )
    op.create_table(
        "outbox",
        _id(),
        _text("team_id"),
        _text("dedupe_key"),
        _text("kind"),
        _text("job_id", nullable=True),
        _text("card_key", nullable=True),
        _text("target_platform"),
        _text("target_workspace_id"),
        _text("target_channel_id"),
        _text("target_thread_id", nullable=True),
        sa.Column("body_json", sa.JSON(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("available_at", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _text("lease_owner", nullable=True),
        _utc("lease_until", nullable=True),
        _utc("sent_at", nullable=True),
        _text("message_id", nullable=True),
        _text("last_error", nullable=True),
        sa.Column("dead", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("superseded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index("ix_outbox_sent_at_available_at", "outbox", ["sent_at", "available_at"])
    op.create_index("ix_outbox_card_key", "outbox", ["card_key"])
    op.create_table(
        "cards",
        _text("card_key"),
        _text("message_id"),
        _utc("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("card_key", name="pk_cards"),
    )
    op.create_table(
        "webhook_inbox",
        _text("webhook_id"),
        _utc("received_at", nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_webhook_inbox"),
    )
    op.create_table(
        "audit",
        _id(),
        _text("team_id"),
        _text("user_id"),
        _text("command"),
        _text("arguments"),
        _text("result"),
        _utc("at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_team_id_at", "audit", ["team_id", "at"])


def downgrade() -> None:
    for table in (
        "audit",
        "webhook_inbox",
        "cards",
        "outbox",
        "subscriptions",
        "job_metrics",
        "jobs",
        "models",
        "files",
        "teams",
    ):
        op.drop_table(table)
