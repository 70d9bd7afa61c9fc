"""Storage layer: a job keeps the start it was asked as, and the job whose recipe it replays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
Jobs started before this revision have no recipe (NULL): a replay of one reads what the
provider reports it ran. None of them replays another job.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("recipe", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("origin_job_id", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("origin_job_id")
        batch.drop_column("recipe")
