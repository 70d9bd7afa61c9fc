"""Storage layer: Azure OpenAI becomes a family of its own; its rows and keys move to it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Written by hand to match storage/tables.py; frozen: never import the app's tables here.
Before this revision Azure OpenAI was an account kind ("azure") of the OpenAI family: a team
key of that kind was stored under the family "openai", and every row made with it says
"openai". Such a key moves to the family "azure", and so do the team's rows made with its own
key (account "team"), its open starts, its backoffs and its default. Rows made on the
deployment's own account are Azure's only when the deployment runs Azure
(FINETUNE_BOT_PROVIDER=azure), which the bot passes in as `deployment_family`; a migration run
without it (or for another family) leaves them as they are. No schema changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "openai"
_NEW = "azure"
_AZURE_TEAMS = (
    "SELECT team_id FROM team_credentials WHERE family = 'openai' AND provider = 'azure'"
)
_ROWS = (("files", "account"), ("models", "account"), ("jobs", "account"))


def _move(old: str, new: str, teams: str, deployment: bool) -> None:
    """Rows of `old` made with the team's own key (of those teams), and with the deployment's
    account when `deployment`, become `new`'s."""
    for table, account in (*_ROWS, ("start_intents", "provider_account")):
        op.execute(
            f"UPDATE {table} SET provider = '{new}' WHERE provider = '{old}' "
            f"AND {account} = 'team' AND team_id IN ({teams})"
        )
        if deployment:
            op.execute(
                f"UPDATE {table} SET provider = '{new}' WHERE provider = '{old}' "
                f"AND {account} = 'deployment'"
            )
    op.execute(
        f"UPDATE provider_backoffs SET provider = '{new}' WHERE provider = '{old}' "
        f"AND team_id IN ({teams})"
    )
    op.execute(
        f"UPDATE teams SET default_provider = '{new}' WHERE default_provider = '{old}' "
        f"AND id IN ({teams})"
    )


def upgrade() -> None:
    deployment = context.config.attributes.get("deployment_family") == _NEW
    _move(_OLD, _NEW, _AZURE_TEAMS, deployment)
    # Last: the rows above find their teams by the key still filed under "openai".
    op.execute(
        f"UPDATE team_credentials SET family = '{_NEW}' "
        f"WHERE family = '{_OLD}' AND provider = 'azure'"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE team_credentials SET family = '{_OLD}' "
        f"WHERE family = '{_NEW}' AND provider = 'azure'"
    )
    deployment = context.config.attributes.get("deployment_family") == _NEW
    _move(_NEW, _OLD, _AZURE_TEAMS, deployment)
