"""Slack admin rights follow the workspace: a demotion announced by a signed `user_change` event
takes effect on the next command, through the real Bolt app and the fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, event_body, signed_headers

pytestmark = pytest.mark.e2e


@dataclass
class Bot:
    slack: FakeSlack
    bot: RunningBot
    http: aiohttp.ClientSession

    async def post(self, body: str, *, content_type: str) -> int:
        url = f"http://127.0.0.1:{self.bot.web.port}/slack/events"
        headers = signed_headers(body, content_type=content_type)
        async with self.http.post(url, data=body.encode(), headers=headers) as response:
            return response.status

    async def command(self, text: str) -> dict[str, object]:
        """Run a slash command as U1 and wait for its answer."""
        seen = len(self.slack.responses)
        body = command_body(text, response_url=self.slack.response_url())
        assert await self.post(body, content_type="application/x-www-form-urlencoded") == 200
        await self.slack.wait_for(lambda: len(self.slack.responses) > seen, what=text)
        return self.slack.responses[seen]


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Bot]:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
        )
        bot = await start_bot(settings, stack)
        async with aiohttp.ClientSession() as http:
            yield Bot(slack=slack, bot=bot, http=http)


async def test_a_demoted_admin_loses_admin_commands_when_user_change_arrives(
    running: Bot,
) -> None:
    slack = running.slack
    assert "U1" in slack.admins
    first = await running.command("audit")
    assert "needs the admin role" not in str(first["text"])
    asked = len(slack.of("users.info"))

    # The workspace demotes U1; Slack tells the app with a signed user_change event.
    slack.admins.discard("U1")
    event = {
        "type": "user_change",
        "user": {"id": "U1", "team_id": "T1", "name": "user-U1", "is_admin": False},
        "event_ts": "1800000000.000100",
    }
    assert await running.post(event_body(event), content_type="application/json") == 200

    refused = await running.command("audit")
    assert "needs the admin role" in str(refused["text"])
    assert len(slack.of("users.info")) == asked + 1  # the cached answer was dropped


async def test_user_change_for_someone_else_keeps_the_cached_answer(running: Bot) -> None:
    slack = running.slack
    await running.command("audit")
    asked = len(slack.of("users.info"))
    event = {"type": "user_change", "user": {"id": "U7", "team_id": "T1"}}
    assert await running.post(event_body(event), content_type="application/json") == 200
    again = await running.command("audit")
    assert "needs the admin role" not in str(again["text"])
    assert len(slack.of("users.info")) == asked
