"""Test helpers: the real Discord adapter on real parts against the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.app.config import Settings
from bot.chat.base import AdapterContext
from bot.chat.discord.adapter import DiscordAdapter
from bot.infra.dispatcher import Dispatcher
from bot.infra.metrics import Metrics
from handlers.model import Platform
from storage.store import SqlStore
from tests.fakes.discord_api import FakeDiscord
from tests.world import World


def discord_settings(fake: FakeDiscord, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": SecretStr("fake-token"),
        "discord_api_base_url": fake.api_base,
        "discord_gateway_url": fake.gateway_url,
        "provider": "sandbox",
        "discord_commands_hash_file": tmp_path / "discord-commands.sha256",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_adapter(
    fake: FakeDiscord, w: World, tmp_path: Path, **overrides: Any
) -> AsyncIterator[DiscordAdapter]:
    """Start the adapter (login, sync, gateway) and wait for READY; stop it on exit."""
    settings = discord_settings(fake, tmp_path, **overrides)
    assert isinstance(w.store, SqlStore)  # tests/bot run on SQLite: the adapter gets its engine
    context = AdapterContext(
        service=w.service,
        store=w.store,
        watch_store=w.store,
        clock=w.clock,
        settings=settings,
        metrics=Metrics(),
        database_engine=w.store.engine,
    )
    adapter = DiscordAdapter(context, guild_ready_timeout=0.05, identify_delay=0.0)
    await adapter.start()
    try:
        await asyncio.wait_for(adapter.client.wait_until_ready(), 5)
        yield adapter
    finally:
        await adapter.stop()


def discord_dispatcher(w: World, adapter: DiscordAdapter) -> Dispatcher:
    return Dispatcher(
        watch_store=w.store,
        notifiers={Platform.DISCORD: adapter.notifier},
        clock=w.clock,
        owner="discord-test",
        pace={Platform.DISCORD: 0.0},
    )
