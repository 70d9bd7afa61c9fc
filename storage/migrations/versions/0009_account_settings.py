"""Storage layer: a team's account keeps its own non-secret settings (project, region, bucket).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
Accounts stored before this revision are one key with an endpoint: no settings (NULL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("team_credentials") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("team_credentials") as batch:
        batch.drop_column("settings")
