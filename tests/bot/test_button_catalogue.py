"""Every catalogued button, rendered by the real renderers, is routed by the real Slack and
Discord apps as the catalogue says (confirm step, who sees the answer); others are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from bot.chat.slack.blocks import reply_blocks
from handlers.actions import ACTIONS, UNSUPPORTED, Audience
from handlers.features.jobs import HELD_START
from handlers.model import ChannelAddress, Platform
from handlers.playground import DRAFT_PREFIX
from handlers.replies import Button, Reply
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, action_body, signed_headers
from tests.world import world

Json = dict[str, Any]


VALUES = {
    "dataset": f"{DRAFT_PREFIX}abc12345",
    "confirm_start": f"{HELD_START}0123456789ab",
    "share": "sh-0123456789ab",
}
"""A value each action takes, where a job id is not one."""


def every_button() -> Reply:
    """One message carrying one button per catalogued action, each with a value it takes."""
    return Reply(
        title="Everything",
        buttons=tuple(
            Button(
                label=name,
                action=name,
                value=VALUES.get(name, "ftjob-abc123"),
                confirm="Sure?" if entry.confirm else None,
            )
            for name, entry in ACTIONS.items()
        ),
    )


def slack_buttons(reply: Reply) -> list[Json]:
    return [
        element
        for block in reply_blocks(reply)
        if block["type"] == "actions"
        for element in block["elements"]
    ]


@pytest.fixture
async def slack_url(tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, str]]:
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
        yield slack, f"http://127.0.0.1:{bot.web.port}/slack/events"


async def test_slack_routes_each_rendered_button_and_refuses_others(
    slack_url: tuple[FakeSlack, str],
) -> None:
    slack, url = slack_url
    elements = slack_buttons(every_button())
    rendered = {e["action_id"].removeprefix("ftbot_"): e for e in elements}
    assert set(rendered) == set(ACTIONS)
    assert {a for a, e in rendered.items() if "confirm" in e} == {
        a for a, entry in ACTIONS.items() if entry.confirm
    }
    async with aiohttp.ClientSession() as http:

        async def press(action_id: str, value: str, response: str) -> int:
            body = action_body(action_id, value, response_url=slack.response_url(response))
            async with http.post(url, data=body, headers=signed_headers(body)) as answer:
                return answer.status

        for name, element in rendered.items():
            assert await press(element["action_id"], element["value"], name) == 200, name
        await slack.wait_for(
            lambda: {r["name"] for r in slack.responses} >= set(ACTIONS),
            what="an answer to every button",
        )
        # Bolt answers 404 to an action no listener takes: the app listens for the catalogue.
        assert await press("ftbot_frobnicate", "ftjob-abc123", "other") == 404
    for name, entry in ACTIONS.items():
        answer = next(r for r in slack.responses if r["name"] == name)
        if entry.audience is Audience.PRESSER:
            assert answer["response_type"] == "ephemeral", name


async def test_discord_routes_each_rendered_button_as_the_catalogue_says(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        channel = ChannelAddress(
            platform=Platform.DISCORD, workspace_id=GUILD_A.id, channel_id=GUILD_A.channel_id
        )
        message_id = await adapter.notifier.post(channel, every_button(), dedupe_key="all")
        message = fake.messages[message_id]
        rendered = {
            b["custom_id"].split(":")[1]: b["custom_id"]
            for row in message["components"]
            for b in row["components"]
        }
        assert set(rendered) == set(ACTIONS)
        for name, entry in ACTIONS.items():
            iid = await fake.press(message, rendered[name])
            callback = (await fake.wait_callback(iid)).json
            if entry.confirm:
                assert callback["type"] == 4, name  # the "Really?" prompt, nothing run yet
                assert callback["data"]["flags"] == EPHEMERAL
                confirm = callback["data"]["components"][0]["components"][0]
                assert confirm["custom_id"] == rendered[name].replace(name, f"{name}!", 1)
                continue
            assert callback["type"] == 5, name  # deferred: the command runs
            private = bool(callback.get("data", {}).get("flags", 0) & EPHEMERAL)
            assert private == (entry.audience is not Audience.CHANNEL), name
            await fake.wait_followup(iid)
        # A button an older version put on a message, whose action the catalogue no longer has.
        old = Reply(title="Old", buttons=(Button(label="F", action="frobnicate", value="x"),))
        old_id = await adapter.notifier.post(channel, old, dedupe_key="old")
        iid = await fake.press(fake.messages[old_id], "ftbot:frobnicate:x")
        refused = (await fake.wait_callback(iid)).json
        assert refused["type"] == 4
        assert refused["data"]["embeds"][0]["title"] == UNSUPPORTED


def test_every_button_prints_the_command_that_presses_it() -> None:
    """The console shows each button as a command: typing it makes the press's request."""
    from bot.chat.console.render import button_text
    from handlers.actions import button_command, button_request
    from handlers.parse import parse

    for button in every_button().buttons:
        command = button_command(button.action, button.value)
        assert command is not None, button.action
        assert parse(command) == button_request(button.action, button.value), button.action
        assert button_text(button) == f"[{button.label}: {command}]"
    assert button_command("frobnicate", "x") is None
