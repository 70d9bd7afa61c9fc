"""Composition root: the chat platforms `run` can start, name -> factory, one entry each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.chat.base import AdapterContext, ChatAdapter
from bot.config import Settings
from handlers.model import Platform


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatPlatform:
    """One platform `run` starts when its settings are there."""

    platform: Platform
    label: str
    configured: Callable[[Settings], bool]
    enable: str
    """What an operator sets to turn it on, for the one line when nothing is configured."""
    build: Callable[[AdapterContext], ChatAdapter]
    """Imports the platform's SDK only when called: an unconfigured platform costs nothing."""


def _slack(context: AdapterContext) -> ChatAdapter:
    from bot.slack.adapter import SlackAdapter

    return SlackAdapter(context)


def _discord(context: AdapterContext) -> ChatAdapter:
    from bot.discord.adapter import DiscordAdapter

    return DiscordAdapter(context)


def _registry(*entries: ChatPlatform) -> Mapping[str, ChatPlatform]:
    return MappingProxyType({e.platform.value: e for e in entries})


CHAT_PLATFORMS: Mapping[str, ChatPlatform] = _registry(
    ChatPlatform(
        platform=Platform.SLACK,
        label="Slack",
        configured=lambda s: s.slack_configured,
        enable="SLACK_BOT_TOKEN",
        build=_slack,
    ),
    ChatPlatform(
        platform=Platform.DISCORD,
        label="Discord",
        configured=lambda s: s.discord_configured,
        enable="DISCORD_TOKEN",
        build=_discord,
    ),
)
"""The console is not here: `finetune-bot console` runs it in the foreground, on its own."""


def configured(settings: Settings) -> list[ChatPlatform]:
    return [entry for entry in CHAT_PLATFORMS.values() if entry.configured(settings)]


def build_adapters(settings: Settings, context: AdapterContext) -> list[ChatAdapter]:
    """Every adapter the settings configure, in registry order."""
    return [entry.build(context) for entry in configured(settings)]


def nothing_configured() -> str:
    """The one line `run` stops with when no platform is configured, naming what to set."""
    labels = [e.label for e in CHAT_PLATFORMS.values()]
    enables = " or ".join(e.enable for e in CHAT_PLATFORMS.values())
    if len(labels) == 2:
        which = f"Neither {labels[0]} nor {labels[1]} is configured"
    else:
        which = f"None of {', '.join(labels[:-1])} or {labels[-1]} is configured"
    return f"{which}: set {enables} (or try the bot in a terminal with `finetune-bot console`)."
