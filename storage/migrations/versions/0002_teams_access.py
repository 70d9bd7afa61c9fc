"""Storage layer: teams, keys and permissions (roles, encrypted team keys, budgets, approvals).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _team_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=f"fk_{table}_team_id_teams")


def upgrade() -> None:
    op.create_table(
        "team_roles",
        _text("team_id"),
        _text("user_id"),
        _text("role"),
        _text("granted_by"),
        _utc("granted_at", nullable=False),
        _team_fk("team_roles"),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_team_roles"),
    )
    op.create_table(
        "team_credentials",
        _text("team_id"),
        _text("provider"),
        _text("endpoint", nullable=True),
        _text("api_version", nullable=True),
        # A Fernet token (storage.tables.EncryptedSecret); never the key itself.
        _text("secret"),
        _text("fingerprint"),
        _text("set_by"),
        _utc("updated_at", nullable=False),
        _team_fk("team_credentials"),
        sa.PrimaryKeyConstraint("team_id", name="pk_team_credentials"),
    )
    op.create_table(
        "team_budgets",
        _text("team_id"),
        sa.Column("monthly_cap", sa.Double(), nullable=True),
        sa.Column("approve_over", sa.Double(), nullable=True),
        _team_fk("team_budgets"),
        sa.PrimaryKeyConstraint("team_id", name="pk_team_budgets"),
    )
    op.create_table(
        "spend",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _text("team_id"),
        _text("job_id"),
        _text("month"),
        sa.Column("estimated", sa.Double(), nullable=False),
        sa.Column("price_per_million", sa.Double(), nullable=True),
        sa.Column("actual", sa.Double(), nullable=True),
        _team_fk("spend"),
        sa.PrimaryKeyConstraint("id", name="pk_spend"),
        sa.UniqueConstraint("team_id", "job_id", name="uq_spend_team_id_job_id"),
    )
    op.create_index("ix_spend_team_id_month", "spend", ["team_id", "month"])
    op.create_table(
        "approvals",
        _text("id"),
        _text("team_id"),
        _text("requester_id"),
        _text("channel_platform"),
        _text("channel_workspace_id"),
        _text("channel_id"),
        _text("channel_thread_id", nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=True),
        _text("status"),
        _utc("created_at", nullable=False),
        _utc("expires_at", nullable=False),
        _text("decided_by", nullable=True),
        _utc("decided_at", nullable=True),
        _text("job_id", nullable=True),
        _team_fk("approvals"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_team_id_created_at", "approvals", ["team_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_approvals_team_id_created_at", table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_spend_team_id_month", table_name="spend")
    op.drop_table("spend")
    op.drop_table("team_budgets")
    op.drop_table("team_credentials")
    op.drop_table("team_roles")
