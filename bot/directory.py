"""Composition root: which provider serves a team (today one deployment-wide account)."""

from __future__ import annotations

from handlers.ports import Provider


class SharedProviderDirectory:
    """Every team uses the deployment's provider; per-team credentials come later."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    @property
    def provider(self) -> Provider:
        return self._provider

    async def for_team(self, team_id: str) -> Provider:
        return self._provider
