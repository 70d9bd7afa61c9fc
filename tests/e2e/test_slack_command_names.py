"""On Slack every hint and help line names the command as Slack has it (`/finetune access`,
`key=value`) with the member's real mention; a mistyped command or option gets a "did you
mean"; help's usage is what parsing accepts. Through the real Bolt app with signed requests
against the fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from handlers.commands.catalog import cap_option
from handlers.compare import DEFAULT_MAX_EXAMPLES
from handlers.requests import SPECS
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers

pytestmark = pytest.mark.e2e


@dataclass
class Bot:
    slack: FakeSlack
    bot: RunningBot
    http: aiohttp.ClientSession

    async def command(self, text: str, user: str = "U1") -> str:
        """Run a slash command and wait for its answer's text."""
        seen = len(self.slack.responses)
        body = command_body(text, user=user, response_url=self.slack.response_url())
        url = f"http://127.0.0.1:{self.bot.web.port}/slack/events"
        async with self.http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
            assert r.status == 200
        await self.slack.wait_for(lambda: len(self.slack.responses) > seen, what=text)
        answer = self.slack.responses[seen]
        return f"{answer.get('text', '')}\n{answer.get('blocks', '')}"


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
            compare_max_examples=200,
        )
        bot = await start_bot(settings, stack)
        try:
            async with aiohttp.ClientSession() as http:
                yield Bot(slack=slack, bot=bot, http=http)
        finally:
            # The cap is the process's catalogue: the next test's bot starts with the default.
            cap_option("compare", "n", DEFAULT_MAX_EXAMPLES)


async def test_a_refusal_names_slacks_command_and_the_members_mention(running: Bot) -> None:
    assert "U7" not in running.slack.admins
    text = await running.command("budget cap=100", user="U7")
    assert "/finetune budget needs the admin role" in text
    assert "/finetune access grant <@U7> admin" in text
    assert "@you" not in text
    assert "/finetune team" not in text


async def test_help_lists_the_commands_as_slack_takes_them(running: Bot) -> None:
    text = await running.command("help")
    assert "/finetune access — " in text
    assert "/finetune team" not in text
    dataset = await running.command("help dataset")
    assert "/finetune dataset from-logs model=MODEL [meta=KEY=VALUE]" in dataset


async def test_the_compare_cap_in_help_is_the_one_applied(running: Bot) -> None:
    assert "[n=1-200]" in await running.command("help compare")
    refused = await running.command("compare ft:gpt-4.1-mini:acme::x n=201")
    assert "n=201 must be at most 200" in refused
    assert SPECS["compare"].option("n").maximum == 200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "guess"),
    [
        ("strat file=train model=gpt-4.1-mini", "Did you mean 'start'?"),
        ("start file=train model=gpt-4.1-mini epoch=3", "Did you mean 'epochs'?"),
        ("start file=train modle=gpt-4.1-mini", "Did you mean 'model'?"),
    ],
)
async def test_a_mistyped_name_gets_a_did_you_mean(running: Bot, line: str, guess: str) -> None:
    assert guess in await running.command(line)
