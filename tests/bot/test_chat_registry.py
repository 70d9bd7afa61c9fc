"""The chat registry: one entry per platform `run` starts, chosen by its settings; no cycle."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import SecretStr

from bot.app.config import Settings
from bot.app.platforms import CHAT_PLATFORMS, configured, nothing_configured
from handlers.model import Platform

ROOT = Path(__file__).resolve().parents[2]


def test_every_platform_but_the_console_is_registered_under_its_name() -> None:
    assert set(CHAT_PLATFORMS) == {p.value for p in Platform} - {Platform.CONSOLE.value}
    assert all(entry.platform.value == name for name, entry in CHAT_PLATFORMS.items())


def test_the_settings_pick_the_platforms_and_none_picked_names_what_to_set() -> None:
    slack = Settings(provider="sandbox", slack_bot_token=SecretStr("xoxb-1"))
    discord = Settings(provider="sandbox", discord_token=SecretStr("d"))
    both = Settings(
        provider="sandbox",
        slack_bot_token=SecretStr("xoxb-1"),
        discord_token=SecretStr("d"),
    )
    assert [e.platform for e in configured(slack)] == [Platform.SLACK]
    assert [e.platform for e in configured(discord)] == [Platform.DISCORD]
    assert [e.platform for e in configured(both)] == [Platform.SLACK, Platform.DISCORD]
    assert configured(Settings(provider="sandbox")) == []
    message = nothing_configured()
    assert all(entry.enable in message for entry in CHAT_PLATFORMS.values())


def test_no_import_contract_ignores_an_import() -> None:
    """The adapters' base names no implementation, so no contract needs an exception."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    assert [c["name"] for c in contracts if c.get("ignore_imports")] == []
