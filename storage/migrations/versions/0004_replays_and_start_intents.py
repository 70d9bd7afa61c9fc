"""Storage layer: replay-proof requests (request ids) and crash-safe starts (start intents).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "request_ids",
        _text("identity"),
        _utc("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("identity", name="pk_request_ids"),
    )
    op.create_index("ix_request_ids_expires_at", "request_ids", ["expires_at"])
    op.create_table(
        "start_intents",
        _text("key"),
        _text("team_id"),
        _text("requester_id"),
        _text("channel_platform"),
        _text("channel_workspace_id"),
        _text("channel_id"),
        _text("channel_thread_id", nullable=True),
        _text("fingerprint"),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("estimated", sa.Double(), nullable=True),
        sa.Column("price_per_million", sa.Double(), nullable=True),
        _text("account"),
        _text("approval_id", nullable=True),
        _utc("created_at", nullable=False),
        _text("job_id", nullable=True),
        _utc("settled_at", nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_start_intents_team_id_teams"),
        sa.PrimaryKeyConstraint("key", name="pk_start_intents"),
    )
    op.create_index(
        "ix_start_intents_team_id_requester_id_fingerprint",
        "start_intents",
        ["team_id", "requester_id", "fingerprint"],
    )
    op.create_index("ix_start_intents_settled_at", "start_intents", ["settled_at"])


def downgrade() -> None:
    op.drop_index("ix_start_intents_settled_at", table_name="start_intents")
    op.drop_index("ix_start_intents_team_id_requester_id_fingerprint", table_name="start_intents")
    op.drop_table("start_intents")
    op.drop_index("ix_request_ids_expires_at", table_name="request_ids")
    op.drop_table("request_ids")
