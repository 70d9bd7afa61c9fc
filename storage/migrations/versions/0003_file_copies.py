"""Storage layer: local copies of small uploaded files (test sets for try and compare).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_copies",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("provider_file_id", sa.Text(), nullable=False),
        # gzip-compressed: the provider does not let files uploaded for fine-tuning be read back.
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_file_copies_team_id_teams"),
        sa.PrimaryKeyConstraint("team_id", "provider_file_id", name="pk_file_copies"),
    )


def downgrade() -> None:
    op.drop_table("file_copies")
