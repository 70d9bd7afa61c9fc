"""Slack adapter: builds the Bolt app for the configured mode and runs it on the bot's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.config import Settings, SlackMode
from bot.app.supervisor import PlatformUnavailable
from bot.chat.base import AdapterContext
from bot.chat.slack.app import REPLAY_WINDOW, SlackHandlers
from bot.chat.slack.gate import Refusal, SlackGate
from bot.chat.slack.manifest import BOT_SCOPES
from bot.chat.slack.notifier import SlackNotifier
from bot.chat.slack.oauth import Installations
from handlers.errors import ConfigError
from handlers.model import Platform

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SOCKET_CONNECT_SECONDS = 30.0
"""How long one Socket Mode attempt may take before it counts as failed."""
REJECTED_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type"}
)


def api_base(configured: str | None) -> str:
    base = configured or DEFAULT_API_BASE
    return base if base.endswith("/") else base + "/"  # slack_sdk joins base + method


def _check(settings: Settings) -> None:
    """One ConfigError naming the first missing or conflicting Slack setting."""
    oauth = settings.slack_client_id is not None
    if oauth and settings.slack_bot_token is not None:
        raise ConfigError(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use SLACK_BOT_TOKEN for one "
            "workspace, or SLACK_CLIENT_ID/SLACK_CLIENT_SECRET for installs by OAuth."
        )
    if oauth and settings.slack_client_secret is None:
        raise ConfigError("SLACK_CLIENT_SECRET is not set: export SLACK_CLIENT_SECRET=...")
    if oauth and settings.slack_mode is not SlackMode.HTTP:
        raise ConfigError(
            "SLACK_MODE must be http for installs by OAuth (Slack redirects to the bot's "
            "/slack/oauth_redirect): export SLACK_MODE=http"
        )
    if settings.slack_mode is SlackMode.HTTP and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set; HTTP mode needs it to verify Slack's "
            "requests: export SLACK_SIGNING_SECRET=..."
        )
    if settings.slack_mode is SlackMode.SOCKET and settings.slack_app_token is None:
        raise ConfigError(
            "SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token: export "
            "SLACK_APP_TOKEN=xapp-... (or SLACK_MODE=http with SLACK_SIGNING_SECRET)"
        )


class SlackAdapter:
    """Slack in Socket Mode (default) or HTTP mode; one workspace, or many installed by OAuth."""

    def __init__(self, context: AdapterContext) -> None:
        settings = context.settings
        _check(settings)
        self._mode = settings.slack_mode
        self._base_url = api_base(settings.slack_api_base_url)
        self._clients: dict[str, AsyncWebClient] = {}
        self._app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        secret = settings.slack_signing_secret
        signing_secret = secret.get_secret_value() if secret else ""
        self._gate = SlackGate(signing_secret) if signing_secret else None
        logger = logging.getLogger("bot.chat.slack.bolt")
        self.installations: Installations | None = None
        self._token: str | None = None
        # Tokens live in our clients and the secret is passed explicitly, so Bolt's
        # environment fallbacks never decide anything.
        if settings.slack_client_id is not None:
            assert settings.slack_client_secret is not None
            client_secret = settings.slack_client_secret.get_secret_value()
            self._client = self._web_client(None)
            self.installations = Installations(
                engine=context.database_engine,
                client_id=settings.slack_client_id,
                client_secret=client_secret,
                web_client=self._client,
            )
            self.app = AsyncApp(
                signing_secret=signing_secret,
                client=self._client,
                # Given here too, Bolt refreshes rotating tokens through our client.
                installation_store=self.installations.store,
                oauth_settings=AsyncOAuthSettings(
                    client_id=settings.slack_client_id,
                    client_secret=client_secret,
                    scopes=list(BOT_SCOPES),
                    installation_store=self.installations.store,
                    state_store=self.installations.states,
                    install_path=INSTALL_PATH,
                    redirect_uri_path=REDIRECT_PATH,
                ),
                logger=logger,
            )
        else:
            assert settings.slack_bot_token is not None
            self._token = settings.slack_bot_token.get_secret_value()
            self._client = self._web_client(self._token)
            self.app = AsyncApp(
                signing_secret=signing_secret,
                client=self._client,
                request_verification_enabled=self._mode is SlackMode.HTTP,
                logger=logger,
            )
        self._handlers = SlackHandlers(
            service=context.service,
            list_files=context.store.list_files,
            token_for=self.token_for,
            first_delivery=lambda identity: context.first_delivery(identity, window=REPLAY_WINDOW),
        )
        self._handlers.register(self.app)
        if self.installations is not None:
            self._listen_for_revocations(self.installations)
        self._notifier = SlackNotifier(self.client_for)
        self._socket: AsyncSocketModeHandler | None = None
        self._started = False

    def _listen_for_revocations(self, installations: Installations) -> None:
        """Bolt's own revocation listeners, run as the bot's tracked background work.

        Bolt runs event listeners as tasks nobody holds, so a stop during an uninstall cut
        its two deletes apart and left a database connection to the garbage collector; the
        background pool finishes what it holds before the database closes.
        """
        revocations = AsyncTokenRevocationListeners(installations.store)
        background = self._handlers.background

        async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
            background.submit(revocations.handle_tokens_revoked_events(event, context))

        async def app_uninstalled(context: AsyncBoltContext) -> None:
            background.submit(revocations.handle_app_uninstalled_events(context))

        self.app.event("tokens_revoked")(tokens_revoked)
        self.app.event("app_uninstalled")(app_uninstalled)

    def _web_client(self, token: str | None) -> AsyncWebClient:
        return AsyncWebClient(
            token=token,
            base_url=self._base_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            ],
        )

    async def token_for(self, workspace_id: str) -> str:
        """The bot token for a workspace: the one configured, or its installation's."""
        if self.installations is None:
            assert self._token is not None
            return self._token
        return await self.installations.bot_token(workspace_id)

    async def client_for(self, workspace_id: str) -> AsyncWebClient:
        token = await self.token_for(workspace_id)
        client = self._clients.get(token)
        if client is None:
            client = self._clients[token] = self._web_client(token)
        return client

    @property
    def platform(self) -> Platform:
        return Platform.SLACK

    @property
    def notifier(self) -> SlackNotifier:
        return self._notifier

    def web_routes(self) -> Sequence[web.RouteDef]:
        if self._mode is not SlackMode.HTTP:
            return []

        gate = self._gate
        assert gate is not None  # _check: HTTP mode needs SLACK_SIGNING_SECRET

        async def events(request: web.Request) -> web.Response:
            body = await request.read()
            verdict = gate.check(
                body,
                timestamp=request.headers.get("X-Slack-Request-Timestamp"),
                signature=request.headers.get("X-Slack-Signature"),
                content_type=request.headers.get("Content-Type", "").split(";")[0].strip(),
            )
            if isinstance(verdict, Refusal):
                log.warning("slack request refused (%d): %s", verdict.status, verdict.reason)
                return web.json_response({"error": "invalid request"}, status=verdict.status)
            if verdict.ssl_check:
                return web.Response(status=200)
            bolt_request = AsyncBoltRequest(
                body=verdict.text,
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

        routes = [web.post(EVENTS_PATH, events)]
        flow = self.app.oauth_flow
        if flow is not None:
            routes += [
                web.get(INSTALL_PATH, _oauth_view(flow.handle_installation)),
                web.get(REDIRECT_PATH, _oauth_view(flow.handle_callback)),
            ]
        return routes

    async def start(self) -> None:
        if self.installations is not None:
            await self.installations.create_tables()
        self._handlers.background.start()
        if self._mode is SlackMode.SOCKET:
            assert self._app_token is not None
            url = await self._socket_url(self._app_token)
            self._socket = AsyncSocketModeHandler(
                self.app,
                app_token=self._app_token,
                web_client=self._client,
                logger=logging.getLogger("bot.chat.slack.socket"),
            )
            # The SDK's own connect asks for a URL and retries forever, a traceback each
            # time; the URL asked for here turns a refused token into one clear line.
            self._socket.client.wss_uri = url
            try:
                await asyncio.wait_for(
                    self._socket.connect_async(),  # type: ignore[no-untyped-call]
                    SOCKET_CONNECT_SECONDS,
                )
            except TimeoutError:
                raise PlatformUnavailable(
                    f"Socket Mode: no websocket within {SOCKET_CONNECT_SECONDS:.0f} s"
                ) from None
        self._started = True
        log.info(
            "slack adapter started",
            extra={"mode": self._mode.value, "oauth": self.installations is not None},
        )

    async def _socket_url(self, app_token: str) -> str:
        try:
            response = await self._client.apps_connections_open(app_token=app_token)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            if code in REJECTED_TOKEN_ERRORS:
                raise PlatformUnavailable(
                    f"SLACK_APP_TOKEN was rejected by Slack ({code}): make an app-level token "
                    "with connections:write (Basic Information > App-Level Tokens) and "
                    "export SLACK_APP_TOKEN=xapp-...",
                    rejected=True,
                ) from None
            raise PlatformUnavailable(f"Slack refused Socket Mode ({code})") from None
        except (OSError, aiohttp.ClientError, TimeoutError) as error:
            raise PlatformUnavailable(
                f"cannot reach Slack at {self._base_url} ({type(error).__name__}); check the "
                "network (and SLACK_API_BASE_URL if set)"
            ) from None
        return str(response["url"])

    async def stop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
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


def _oauth_view(
    handle: Callable[..., Awaitable[BoltResponse]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def view(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await handle(await to_bolt_request(request)))

    return view
