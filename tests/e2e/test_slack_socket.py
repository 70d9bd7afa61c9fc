"""Slack in Socket Mode: the real Bolt socket client on a local websocket handed out by the
fake Web API's apps.connections.open; commands are acked over the socket, work runs after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.e2e


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, RunningBot]]:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            slack_bot_token="xoxb-test",
            slack_app_token="xapp-1-A1-1-abc",
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
        )
        bot = await start_bot(settings, stack)
        yield slack, bot


async def test_commands_arrive_and_are_acked_over_the_socket(
    running: tuple[FakeSlack, RunningBot],
) -> None:
    slack, bot = running
    assert slack.of("apps.connections.open")[0].token == "xapp-1-A1-1-abc"
    await slack.wait_for(lambda: bool(slack._sockets), what="the socket connection")
    ready = dict([(a.platform.value, await a.ready()) for a in bot.adapters])
    assert ready["slack"] == (True, "")
    await slack.send_envelope(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "team_id": "T1",
                "channel_id": "C1",
                "user_id": "U1",
                "user_name": "u",
                "command": "/finetune",
                "text": "list",
                "api_app_id": "A1",
                "response_url": slack.response_url(),
                "trigger_id": "t1",
            },
        }
    )
    await slack.wait_for(
        lambda: any(a.get("envelope_id") == "env-1" for a in slack.socket_acks),
        what="the ack over the socket",
    )
    await slack.wait_for(lambda: bool(slack.responses), what="the answer")
    assert slack.responses[0]["text"] == "No jobs."
    # A read-only answer is the asker's (with its Share in channel button).
    assert slack.responses[0]["response_type"] == "ephemeral"
