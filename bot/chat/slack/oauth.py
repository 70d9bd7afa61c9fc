"""Slack adapter: multi-workspace installs: OAuth stores on the bot's database, token lookup."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import FineTuneError

log = logging.getLogger(__name__)

STATE_SECONDS = 600
ROTATE_MINUTES_BEFORE_EXPIRY = 120


class NotInstalledError(FineTuneError):
    """No installation of the app for that workspace (never installed, or uninstalled)."""


class Installations:
    """slack_sdk's SQLAlchemy installation and state stores, sharing the bot's database."""

    def __init__(
        self, *, engine: Any, client_id: str, client_secret: str, web_client: AsyncWebClient
    ) -> None:
        self.store = AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine)
        self.states = AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_SECONDS, engine=engine
        )
        # The rotator gets our client so refreshes go where every other call goes.
        self._rotator = AsyncTokenRotator(
            client_id=client_id, client_secret=client_secret, client=web_client
        )

    async def create_tables(self) -> None:
        """Idempotent; a replica racing another on first boot retries once."""
        for attempt in (1, 2):
            try:
                await self.store.create_tables()  # type: ignore[no-untyped-call]
                await self.states.create_tables()  # type: ignore[no-untyped-call]
                return
            except Exception:
                if attempt == 2:
                    raise
                log.info("slack oauth tables raced another replica; retrying")

    async def bot_token(self, workspace_id: str) -> str:
        """The workspace's bot token, refreshed first when token rotation is on and due."""
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=workspace_id)
        if bot is None or not bot.bot_token:
            raise NotInstalledError(f"finetune-bot is not installed in workspace {workspace_id}.")
        if bot.bot_refresh_token:
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE_EXPIRY
            )
            if refreshed is not None:
                await self.store.async_save_bot(refreshed)
                bot = refreshed
        assert bot.bot_token is not None
        return bot.bot_token
