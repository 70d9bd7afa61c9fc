"""Slack adapter: the app manifest a user pastes into api.slack.com to create the app at once."""

from __future__ import annotations

from typing import Any

import yaml

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:read",
    "files:write",
    "users:read",
    "channels:history",
    "groups:history",
)
"""*:history lets the watcher find a notice it posted just before a crash (conversations.history
with the notice's metadata) instead of posting it twice."""
BOT_EVENTS = ("file_shared", "user_change")
"""user_change (scope users:read) drops a cached admin answer the moment a role changes."""


def manifest(*, http_url: str | None = None, name: str = "finetune-bot") -> dict[str, Any]:
    """Socket Mode by default; with `http_url` (the bot's public base URL) request URLs."""
    events_url = f"{http_url.rstrip('/')}/slack/events" if http_url else None
    command: dict[str, Any] = {
        "command": "/finetune",
        "description": "Run fine-tuning jobs: upload, start, list, inspect, cancel, chart",
        "usage_hint": "help | upload | start file=ALIAS model=MODEL | list | inspect JOB_ID",
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if events_url:
        command["url"] = events_url
        interactivity["request_url"] = events_url
        interactivity["message_menu_options_url"] = events_url
        events["request_url"] = events_url
    oauth: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if http_url:
        oauth["redirect_urls"] = [f"{http_url.rstrip('/')}/slack/oauth_redirect"]
    settings: dict[str, Any] = {
        "event_subscriptions": events,
        "interactivity": interactivity,
        "org_deploy_enabled": False,
        "socket_mode_enabled": http_url is None,
        "token_rotation_enabled": False,
    }
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Fine-tuning operations for your team, in Slack.",
            "background_color": "#1f2937",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": oauth,
        "settings": settings,
    }


def manifest_yaml(*, http_url: str | None = None) -> str:
    return yaml.safe_dump(manifest(http_url=http_url), sort_keys=False, allow_unicode=True)
