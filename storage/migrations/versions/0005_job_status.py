"""Storage layer: jobs keep the core's status and, beside it, the provider's own word for it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
Every status stored before this revision is one of the OpenAI API's strings (the sandbox
uses them too); all but validating_files already equal the core's name for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CORE = ("validating", "queued", "running", "pausing", "paused", "cancelling")
_FINAL = ("succeeded", "failed", "cancelled")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("provider_status", sa.Text(), nullable=True))
    op.execute("UPDATE jobs SET provider_status = status")
    op.execute("UPDATE jobs SET status = 'validating' WHERE status = 'validating_files'")
    # A string no profile knew was live: it stays polled, as running (its word is kept beside).
    known = ", ".join(f"'{s}'" for s in _CORE + _FINAL)
    op.execute(f"UPDATE jobs SET status = 'running' WHERE status NOT IN ({known})")


def downgrade() -> None:
    op.execute("UPDATE jobs SET status = provider_status WHERE provider_status IS NOT NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("provider_status")
