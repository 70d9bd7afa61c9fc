"""Core layer: which of a team's provider families a command means, or one reply saying why not."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.errors import UsageError
from handlers.model import ACCOUNT_DEPLOYMENT, ACCOUNT_TEAM
from handlers.ports import ProviderDirectory
from handlers.text import clip_line


async def resolve_family(providers: ProviderDirectory, team_id: str, wanted: str | None) -> str:
    """The family named (None: the team's default), if the team can use it now; else a
    UsageError listing the families it has."""
    return pick_family(await providers.available(team_id), wanted)


def pick_family(available: Sequence[str], wanted: str | None) -> str:
    """`resolve_family` over the families the team can use, its default first."""
    if wanted is None:
        return available[0]
    if wanted in available:
        return wanted
    raise UsageError(
        f"This team has no provider '{clip_line(wanted, 40)}': it can use "
        + ", ".join(available)
        + ". An admin sets up another with /finetune setup; /finetune providers lists them all."
    )


def shown_provider(family: str, account: str) -> str:
    """A row's provider as `list`, `inspect`, `models` and `files` show it."""
    if not family:
        return "—"
    if account == ACCOUNT_TEAM:
        return f"{family} (team key)"
    if account == ACCOUNT_DEPLOYMENT:
        return f"{family} (deployment)"
    return family
