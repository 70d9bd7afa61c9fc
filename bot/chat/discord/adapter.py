"""Discord adapter: the discord.py client on the shared loop, command sync and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from aiohttp import web
from discord import app_commands

from bot.app.supervisor import PlatformUnavailable
from bot.chat.base import AdapterContext
from bot.chat.discord.buttons import JobButton
from bot.chat.discord.commands import DEFAULT_MAX_UPLOAD_BYTES, DiscordCommands
from bot.chat.discord.notifier import DiscordNotifier
from handlers.errors import ConfigError
from handlers.model import Platform

log = logging.getLogger(__name__)

CLOSE_SECONDS = 2.0
DRAIN_SECONDS = 1.0
"""How long a stop lets the interactions being handled finish before cancelling them."""
"""How long stop() lets discord.py close before the connect task is cancelled."""

REPLAY_WINDOW = timedelta(minutes=15)
"""An interaction's token lives 15 minutes: nothing can act on it after that."""


class _Client(discord.Client):
    """A plain client carrying the handler its persistent buttons hand presses to."""

    button_handler: DiscordCommands | None = None


class _ShardedClient(discord.AutoShardedClient):
    button_handler: DiscordCommands | None = None

    def __init__(self, *, identify_delay: float, **options: Any) -> None:
        super().__init__(**options)
        self._identify_delay = identify_delay

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s per bucket; tests and proxies may shorten it.
        if not initial:
            await asyncio.sleep(self._identify_delay)


def parse_guild_ids(text: str) -> list[int]:
    """DISCORD_GUILD_IDS: comma-separated snowflakes."""
    ids = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ConfigError(
                "DISCORD_GUILD_IDS is invalid: use comma-separated server ids, "
                "e.g. export DISCORD_GUILD_IDS=123456789012345678"
            )
        ids.append(int(part))
    return ids


class DiscordAdapter:
    """The ChatAdapter for Discord: one gateway client, the `/finetune` group, the notifier."""

    def __init__(
        self,
        context: AdapterContext,
        *,
        guild_ready_timeout: float = 2.0,
        identify_delay: float = 5.0,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        hash_path: Path | None = None,
    ) -> None:
        settings = context.settings
        if settings.discord_token is None:
            raise ConfigError("DISCORD_TOKEN is not set: export DISCORD_TOKEN=...")
        self._token = settings.discord_token.get_secret_value()
        self._guild_ids = parse_guild_ids(settings.discord_guild_ids)
        self._api_base = settings.discord_api_base_url
        self._gateway = settings.discord_gateway_url
        self._hash_path = hash_path or settings.discord_commands_hash_file
        self.commands = DiscordCommands(
            service=context.service,
            store=context.store,
            max_upload_bytes=max_upload_bytes,
            first_delivery=lambda identity: context.first_delivery(identity, window=REPLAY_WINDOW),
        )
        # Default intents only: slash commands, buttons and autocomplete need no privileged one.
        options: dict[str, Any] = {
            "intents": discord.Intents.default(),
            "guild_ready_timeout": guild_ready_timeout,
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        # The bot never joins voice: discord.py's start-up warnings about voice libraries are
        # noise in the one-line-per-problem log.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        # Auto-sharded always: with DISCORD_SHARD_COUNT unset it runs as many shards as the
        # gateway recommends (GET /gateway/bot), one for a small bot.
        self.client: _Client | _ShardedClient = _ShardedClient(
            shard_count=settings.discord_shard_count, identify_delay=identify_delay, **options
        )
        self.client.button_handler = self.commands
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self.client)
        self.tree.add_command(self.commands.build_group())
        self.tree.error(self._on_tree_error)
        self._notifier = DiscordNotifier(self.client)
        self._task: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self.synced = False

    @property
    def platform(self) -> Platform:
        return Platform.DISCORD

    @property
    def notifier(self) -> DiscordNotifier:
        return self._notifier

    def web_routes(self) -> list[web.RouteDef]:
        return []  # the gateway brings every interaction; nothing to mount

    async def start(self) -> None:
        """Log in, sync commands and connect in the background; PlatformUnavailable (and the
        client reset, ready for another try) when Discord refuses the token or is unreachable."""
        self._point_at_endpoints()
        if self.client.is_closed():
            self._reset_client()
        try:
            await self.client.login(self._token)
        except discord.LoginFailure:
            await self.stop()
            raise PlatformUnavailable(
                "DISCORD_TOKEN was rejected by Discord: copy the bot token again from the "
                "Developer Portal (Bot > Reset Token) and export DISCORD_TOKEN=...",
                rejected=True,
            ) from None
        except (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError) as error:
            await self.stop()
            raise PlatformUnavailable(
                f"cannot reach Discord's API ({type(error).__name__}); check the network "
                "(and DISCORD_API_BASE_URL if set)"
            ) from None
        except BaseException:
            await self.stop()
            raise
        self.client.add_dynamic_items(JobButton)
        try:
            await self.sync_commands()
        except discord.HTTPException as error:
            # Commands already registered keep working; a failed sync must not stop the bot.
            log.error("command sync failed", extra={"status": error.status, "code": error.code})
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")

    def _reset_client(self) -> None:
        # A closed client can log in again once cleared; its HTTP connector was closed with
        # it, and discord.py makes a new one only when none is set.
        self.client.clear()
        self.client.http.connector = discord.utils.MISSING

    async def stop(self) -> None:
        try:
            # Interactions being handled finish (or are cancelled) while the client can still
            # answer them, before it closes and before the database goes.
            await self.commands.drain(DRAIN_SECONDS)
            if self._task is not None and not self.client.is_ready():
                # Never connected: discord.py is retrying its first gateway connection, a
                # loop that does not look at is_closed(); it only ends when cancelled.
                self._task.cancel()
            if not self.client.is_closed():
                with contextlib.suppress(Exception, TimeoutError):
                    await asyncio.wait_for(self.client.close(), CLOSE_SECONDS)
            if self._task is not None:
                # Whatever still runs after the close gets cancelled.
                done, _ = await asyncio.wait({self._task}, timeout=CLOSE_SECONDS)
                if not done:
                    self._task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self._task
                self._task = None
            await self.commands.close()
        finally:
            self._restore_endpoints()

    async def ready(self) -> tuple[bool, str]:
        if self._task is None:
            return False, "not started"
        if self._task.done():
            error = None if self._task.cancelled() else self._task.exception()
            return (
                False,
                f"gateway connection ended: {type(error).__name__ if error else 'closed'}",
            )
        if self.client.is_closed():
            return False, "closed"
        if not self.client.is_ready():
            return False, "waiting for READY from the gateway"
        return True, ""

    # ------------------------------------------------------------------ command sync

    def command_payload(self) -> dict[str, Any]:
        """What a sync would send, per scope; its hash decides whether to sync at all."""
        scopes: dict[str, Any] = {}
        if self._guild_ids:
            for guild_id in self._guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                scopes[str(guild_id)] = [
                    c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)
                ]
        else:
            scopes["global"] = [c.to_dict(self.tree) for c in self.tree.get_commands()]
        return {"application_id": str(self.client.application_id), "scopes": scopes}

    def command_hash(self) -> str:
        payload = json.dumps(self.command_payload(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync only when the payload changed: Discord caps command creates at 200 a day."""
        digest = self.command_hash()
        if not force and self._stored_hash() == digest:
            log.info("commands unchanged; no sync")
            return False
        if self._guild_ids:
            # Per-guild commands take effect at once: the development setting.
            for guild_id in self._guild_ids:
                await self.tree.sync(guild=discord.Object(id=guild_id))
        else:
            await self.tree.sync()
        self._store_hash(digest)
        self.synced = True
        log.info("commands synced", extra={"guilds": len(self._guild_ids) or "global"})
        return True

    def _stored_hash(self) -> str | None:
        try:
            return self._hash_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _store_hash(self, digest: str) -> None:
        self._hash_path.parent.mkdir(parents=True, exist_ok=True)
        temp = self._hash_path.with_name(self._hash_path.name + ".tmp")
        temp.write_text(digest + "\n", encoding="utf-8")
        os.replace(temp, self._hash_path)

    # ------------------------------------------------------------------ internals

    def _point_at_endpoints(self) -> None:
        # discord.py builds every REST and webhook URL from this class attribute, and the
        # gateway URL likewise: process-wide, so they are restored on stop.
        self._saved_urls = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        if self._api_base:
            discord.http.Route.BASE = self._api_base.rstrip("/")
        if self._gateway:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway)

    def _restore_endpoints(self) -> None:
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved_urls
            )
            self._saved_urls = None

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error(
            "command failed",
            exc_info=error,
            extra={"command": interaction.command.name if interaction.command else None},
        )
        text = "Something went wrong on our side; the error was logged."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
