"""Chat adapters: what every chat adapter is and may use; it names no implementation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from aiohttp import web

from bot.app.config import Settings
from bot.infra.metrics import Metrics
from handlers.model import Platform
from handlers.ports import Clock, Notifier, Store, WatchStore
from handlers.service import Service


@dataclass(frozen=True, slots=True, kw_only=True)
class AdapterContext:
    """What an adapter may use: the core's entry, the store's ports, time and settings."""

    service: Service
    store: Store
    watch_store: WatchStore
    clock: Clock
    settings: Settings
    metrics: Metrics
    database_engine: object
    """The AsyncEngine, for SDK stores that keep their own tables in our database."""

    async def first_delivery(self, identity: str, *, window: timedelta) -> bool:
        """True the first time any replica sees this request identity; False for a replay.

        The identity is kept in the database for `window`, the platform's redelivery window.
        """
        return await self.store.claim_request(identity, expires_at=self.clock.now() + window)


class ChatAdapter(Protocol):
    """One chat platform: translates its events to core requests and posts notices."""

    @property
    def platform(self) -> Platform: ...

    @property
    def notifier(self) -> Notifier: ...

    def web_routes(self) -> Sequence[web.RouteDef]:
        """Routes to mount on the bot's web server (HTTP mode, OAuth); may be empty."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> tuple[bool, str]:
        """Connected and able to post; the detail says why not."""
        ...
