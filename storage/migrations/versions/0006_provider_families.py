"""Storage layer: every row names its provider family and account; team keys per family.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
Before this revision a deployment had one provider family, and every row that exists was made
on the OpenAI family (the sandbox speaks its shapes), so existing rows become "openai". Which
key made them was not recorded: a team that has its own key now is taken to have made its
rows with it ("team"); every other row was made on the deployment's account ("deployment").
Team keys were one per team; each becomes that team's OpenAI-family key and its default.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_FAMILY = "openai"
_ROWS = ("files", "models", "jobs")
_HAS_KEY = "team_id IN (SELECT team_id FROM team_credentials)"


def _backfill(table: str, family: str, account: str) -> None:
    op.execute(f"UPDATE {table} SET {family} = '{_OLD_FAMILY}'")
    op.execute(
        f"UPDATE {table} SET {account} = CASE WHEN {_HAS_KEY} THEN 'team' ELSE 'deployment' END"
    )


def _add(table: str, family: str, account: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(family, sa.Text(), nullable=True))
        batch.add_column(sa.Column(account, sa.Text(), nullable=True))
    _backfill(table, family, account)
    with op.batch_alter_table(table) as batch:
        batch.alter_column(family, existing_type=sa.Text(), nullable=False)
        batch.alter_column(account, existing_type=sa.Text(), nullable=False)


def upgrade() -> None:
    for table in _ROWS:
        _add(table, "provider", "account")
    _add("start_intents", "provider", "provider_account")
    with op.batch_alter_table("team_credentials") as batch:
        batch.add_column(sa.Column("family", sa.Text(), nullable=True))
    op.execute(f"UPDATE team_credentials SET family = '{_OLD_FAMILY}'")
    with op.batch_alter_table("team_credentials") as batch:
        batch.alter_column("family", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint("pk_team_credentials", type_="primary")
        batch.create_primary_key("pk_team_credentials", ["team_id", "family"])
    with op.batch_alter_table("teams") as batch:
        # NULL: the team uses the deployment's family unless `start provider=` names another.
        batch.add_column(sa.Column("default_provider", sa.Text(), nullable=True))
    op.execute(
        f"UPDATE teams SET default_provider = '{_OLD_FAMILY}' "
        "WHERE id IN (SELECT team_id FROM team_credentials)"
    )
    # A refused key or a rate limit at one family pauses that family's jobs of the team only.
    op.create_table(
        "provider_backoffs",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_provider_backoffs_team_id_teams"
        ),
        sa.PrimaryKeyConstraint("team_id", "provider", name="pk_provider_backoffs"),
    )


def downgrade() -> None:
    op.drop_table("provider_backoffs")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("default_provider")
    # One key per team again: keep each team's OpenAI-family key, drop the others.
    op.execute(f"DELETE FROM team_credentials WHERE family <> '{_OLD_FAMILY}'")
    with op.batch_alter_table("team_credentials") as batch:
        batch.drop_constraint("pk_team_credentials", type_="primary")
        batch.create_primary_key("pk_team_credentials", ["team_id"])
        batch.drop_column("family")
    with op.batch_alter_table("start_intents") as batch:
        batch.drop_column("provider_account")
        batch.drop_column("provider")
    for table in _ROWS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("account")
            batch.drop_column("provider")
