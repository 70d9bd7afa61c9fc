"""Slack adapter: builds the Bolt app for the configured mode and runs it on the bot's loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import AdapterContext
from bot.config import SlackMode
from bot.slack.app import SlackHandlers
from bot.slack.notifier import SlackNotifier
from handlers.errors import ConfigError
from handlers.model import Platform

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"


def api_base(configured: str | None) -> str:
    base = configured or DEFAULT_API_BASE
    return base if base.endswith("/") else base + "/"  # slack_sdk joins base + method


class SlackAdapter:
    """Slack in Socket Mode (default) or HTTP mode, single workspace with SLACK_BOT_TOKEN."""

    def __init__(self, context: AdapterContext) -> None:
        settings = context.settings
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set: export SLACK_BOT_TOKEN=xoxb-...")
        self._mode = settings.slack_mode
        self._token = settings.slack_bot_token.get_secret_value()
        self._base_url = api_base(settings.slack_api_base_url)
        if self._mode is SlackMode.HTTP and settings.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set; HTTP mode needs it to verify Slack's "
                "requests: export SLACK_SIGNING_SECRET=..."
            )
        if self._mode is SlackMode.SOCKET and settings.slack_app_token is None:
            raise ConfigError(
                "SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token: export "
                "SLACK_APP_TOKEN=xapp-... (or SLACK_MODE=http with SLACK_SIGNING_SECRET)"
            )
        self._app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        secret = settings.slack_signing_secret
        self._client = self._web_client(self._token)
        # The token lives in the client and the secret is passed explicitly, so Bolt's
        # environment fallbacks never decide anything.
        self.app = AsyncApp(
            signing_secret=secret.get_secret_value() if secret else "",
            client=self._client,
            request_verification_enabled=self._mode is SlackMode.HTTP,
            logger=logging.getLogger("bot.slack.bolt"),
        )
        self._handlers = SlackHandlers(
            service=context.service,
            list_files=context.store.list_files,
            token_for=self._token_for,
        )
        self._handlers.register(self.app)
        self._notifier = SlackNotifier(self._client_for)
        self._socket: AsyncSocketModeHandler | None = None
        self._started = False

    def _web_client(self, token: str) -> AsyncWebClient:
        return AsyncWebClient(
            token=token,
            base_url=self._base_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            ],
        )

    async def _token_for(self, workspace_id: str) -> str:
        return self._token

    async def _client_for(self, workspace_id: str) -> AsyncWebClient:
        return self._client

    @property
    def platform(self) -> Platform:
        return Platform.SLACK

    @property
    def notifier(self) -> SlackNotifier:
        return self._notifier

    def web_routes(self) -> Sequence[web.RouteDef]:
        if self._mode is not SlackMode.HTTP:
            return []

        async def events(request: web.Request) -> web.Response:
            bolt_request = await to_bolt_request(request)
            bolt_response = await self.app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        return [web.post(EVENTS_PATH, events)]

    async def start(self) -> None:
        self._handlers.background.start()
        if self._mode is SlackMode.SOCKET:
            assert self._app_token is not None
            self._socket = AsyncSocketModeHandler(
                self.app, app_token=self._app_token, web_client=self._client
            )
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        self._started = True
        log.info("slack adapter started", extra={"mode": self._mode.value})

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self._handlers.background.stop()
        self._started = False

    async def ready(self) -> tuple[bool, str]:
        if not self._started:
            return False, "not started"
        if self._socket is not None and not await self._socket.client.is_connected():
            return False, "socket mode disconnected"
        return True, ""
