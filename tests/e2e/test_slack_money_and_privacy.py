"""Through the real Bolt app with signed requests against the fake Slack: a costly typed start
asks for its Start button (which acts once), read-only answers are private with a Share in
channel button that posts them once, and the completion notice names what the job cost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    action_body,
    command_body,
    signed_headers,
    view_submission_body,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"
TEAM = "slack:T1"


class Bot:
    def __init__(self, slack: FakeSlack, bot: RunningBot, http: aiohttp.ClientSession) -> None:
        self.slack = slack
        self.bot = bot
        self.http = http
        self._urls = 0

    async def post(self, body: str) -> None:
        url = f"http://127.0.0.1:{self.bot.web.port}/slack/events"
        async with self.http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
            assert r.status == 200

    def url(self) -> str:
        self._urls += 1
        return self.slack.response_url(f"r{self._urls}")

    async def command(self, text: str, **kw: str) -> dict[str, Any]:
        """The one answer to a command, from its own response URL."""
        url = self.url()
        await self.post(command_body(text, response_url=url, **kw))
        return await self.answer(url)

    async def press(self, action: str, value: str, **kw: str) -> dict[str, Any]:
        url = self.url()
        await self.post(action_body(f"ftbot_{action}", value, response_url=url, **kw))
        return await self.answer(url)

    async def answer(self, url: str) -> dict[str, Any]:
        name = url.rsplit("/", 1)[1]
        await self.slack.wait_for(
            lambda: any(r["name"] == name for r in self.slack.responses), what=name
        )
        return next(r for r in self.slack.responses if r["name"] == name)


def _buttons(response: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of every button in the answer's blocks."""
    out: dict[str, str] = {}
    for block in response.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button":
                out[element["action_id"]] = element.get("value", "")
    return out


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            sandbox_speed=40.0,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            sweep_seconds=0.2,
            dispatch_seconds=0.1,
            running_poll_seconds=0.3,
            queued_poll_seconds=0.3,
            metric_interval_seconds=0.5,
            confirm_over_usd=0.0,
        )
        running = await start_bot(settings, stack)
        async with aiohttp.ClientSession() as http:
            yield Bot(slack, running, http)


async def _upload(bot: Bot) -> None:
    content = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()
    bot.slack.share_file(name="train.jsonl", content=content, user="U1", channel="C1")
    await bot.post(command_body("upload alias=train", response_url=bot.url()))
    await bot.slack.wait_for(
        lambda: any(
            "Uploaded" in str(c.args.get("text")) for c in bot.slack.of("chat.postMessage")
        )
    )


async def test_a_costly_start_waits_for_start_and_the_button_acts_once(bot: Bot) -> None:
    await _upload(bot)
    asked = await bot.command(f"start file=train model={MODEL} epochs=1 suffix=money")
    assert asked["response_type"] == "ephemeral"
    assert "billed tokens" in json.dumps(asked["blocks"])
    assert "per 1M tokens" in json.dumps(asked["blocks"])
    assert await bot.bot.runtime.store.list_jobs(TEAM) == [], "nothing created before the press"
    token = _buttons(asked)["ftbot_confirm_start"]
    assert token.startswith("cs-")
    started = await bot.press("confirm_start", token)
    assert "Started ftjob-" in str(started["text"]), started
    assert started["response_type"] == "ephemeral", "the channel gets the job's card"
    again = await bot.press("confirm_start", token)
    assert "nothing was started" in str(again["text"])
    jobs = await bot.bot.runtime.store.list_jobs(TEAM)
    assert len(jobs) == 1
    job_id = jobs[0].id

    def completion() -> list[Any]:
        return [
            c
            for c in bot.slack.of("chat.postMessage")
            if ":status:succeeded" in str(c.args.get("metadata"))
        ]

    await bot.slack.wait_for(lambda: bool(completion()), within=60, what="the completion")
    text = json.dumps(completion()[0].args["blocks"])
    assert "Duration" in text
    assert "Trained tokens" in text
    assert "per 1M, the price of the start" in text
    # The card leads with the human name; times are Slack date tokens, read in local time.
    cards = [
        c
        for c in bot.slack.of("chat.postMessage")
        if f"{job_id}:card:" in str(c.args.get("metadata"))
    ]
    assert cards
    assert cards[0].args["text"].startswith(f"money · train on {MODEL} (sandbox)")
    assert job_id not in cards[0].args["text"]
    inspected = await bot.command(f"inspect {job_id}")
    created = next(j for j in jobs if j.id == job_id).state.created_at
    assert f"<!date^{int(created.timestamp())}^{{date_short_pretty}} {{time}}|" in json.dumps(
        inspected["blocks"]
    )


async def test_the_start_forms_submit_is_its_confirmation(bot: Bot) -> None:
    """The form shows the cost before its submit: a costly start from it is not asked again."""
    await _upload(bot)
    values = {
        "file": {"file": {"type": "plain_text_input", "value": "train"}},
        "model": {
            "ftbot_models": {"type": "external_select", "selected_option": {"value": MODEL}}
        },
    }
    await bot.post(view_submission_body(values))
    await bot.slack.wait_for(
        lambda: any(
            "Started ftjob-" in str(c.args.get("text")) for c in bot.slack.of("chat.postEphemeral")
        ),
        what="the started reply",
    )
    assert len(await bot.bot.runtime.store.list_jobs(TEAM)) == 1


async def test_read_only_answers_are_private_and_shared_once(bot: Bot) -> None:
    listed = await bot.command("files")
    assert listed["response_type"] == "ephemeral"
    share = _buttons(listed)["ftbot_share"]
    shared = await bot.press("share", share)
    assert shared["response_type"] == "in_channel"
    assert shared["text"].split("\n")[0] == listed["text"].split("\n")[0]
    assert "ftbot_share" not in _buttons(shared)
    again = await bot.press("share", share)
    assert again["response_type"] == "ephemeral"
    assert "shared already" in again["text"]
    # Another workspace cannot post this team's answer.
    theirs = await bot.command("budget", team="T2", user="U2")
    assert theirs["response_type"] == "ephemeral"
    stranger = await bot.press("share", _buttons(theirs)["ftbot_share"], team="T1")
    assert "shared already" in stranger["text"]
