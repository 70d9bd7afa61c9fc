"""Test helpers: signed Slack requests (slash commands, interactivity, events) for HTTP mode."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    """A fresh id per request, as Slack gives (the bot acts on each identity once)."""
    return f"{prefix}-{time.time_ns()}-{next(_serial)}"


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    at: float | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(at if at is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # the SDK returns None only when given no secret
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def command_body(
    text: str,
    *,
    team: str = "T1",
    channel: str = "C1",
    user: str = "U1",
    response_url: str = "",
    trigger_id: str | None = None,
) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": f"user-{user}",
            "command": "/finetune",
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger_id or unique("trig"),
        }
    )


def action_body(
    action: str,
    value: str,
    *,
    team: str = "T1",
    channel: str = "C1",
    user: str = "U1",
    message_ts: str = "1800000000.000001",
    response_url: str = "",
) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team, "domain": "t"},
        "user": {"id": user, "username": f"user-{user}", "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": unique("trig"),
        "channel": {"id": channel, "name": "general"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"type": "message", "ts": message_ts, "text": "card"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "action_ts": "1800000001.0",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    values: dict[str, Any],
    *,
    channel: str = "C1",
    team: str = "T1",
    user: str = "U1",
    callback_id: str = "ftbot_start",
) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": team, "domain": "t"},
        "user": {"id": user, "username": f"user-{user}", "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": unique("trig"),
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": callback_id,
            "team_id": team,
            "private_metadata": json.dumps({"channel_id": channel}),
            "state": {"values": values},
            "hash": "h",
            "title": {"type": "plain_text", "text": "Start fine-tuning"},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def suggestion_body(
    action: str,
    query: str,
    *,
    team: str = "T1",
    user: str = "U1",
    picked: dict[str, str] | None = None,
) -> str:
    """An options load from the start modal; `picked` is what its static selects hold now
    (block id -> value), as Slack sends the view's state along."""
    values = {
        block: {block: {"type": "static_select", "selected_option": {"value": value}}}
        for block, value in (picked or {}).items()
    }
    payload = {
        "type": "block_suggestion",
        "action_id": action,
        "block_id": "model",
        "value": query,
        "team": {"id": team, "domain": "t"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "ftbot_start",
            "state": {"values": values},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], *, team: str = "T1") -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": unique("Ev"),
            "event_time": int(time.time()),
        }
    )


def view_action_body(
    action: str, values: dict[str, Any], *, channel: str = "C1", team: str = "T1", user: str = "U1"
) -> str:
    """A block_actions payload from inside the start modal (an input with dispatch_action)."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "t"},
        "user": {"id": user, "username": f"user-{user}", "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": unique("trig"),
        "container": {"type": "view", "view_id": "V1"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "ftbot_start",
            "team_id": team,
            "private_metadata": json.dumps({"channel_id": channel}),
            "hash": "h1",
            "state": {"values": values},
            "title": {"type": "plain_text", "text": "Start fine-tuning"},
        },
        "actions": [
            {
                "action_id": action,
                "block_id": "model",
                "type": "external_select",
                "selected_option": {"value": "x"},
                "action_ts": "1.0",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})
