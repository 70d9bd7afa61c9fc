"""One team cannot stall the others on Slack: the real Bolt app with signed requests over
loopback, long tasks held at a gate in the provider, short commands answered meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from bot.infra.clock import SystemClock
from bot.providers.sandbox.timing import FAST_TIMING
from tests.fakes.gated_provider import GatedProvider
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"
BUSY = "2 long tasks of this team are running"


@dataclass
class Harness:
    slack: FakeSlack
    provider: GatedProvider
    http: aiohttp.ClientSession
    url: str
    _ids: count[int]

    async def command(self, text: str, *, team: str, user: str = "U1") -> str:
        """Post one signed command (its own trigger and response URL); the name to wait on."""
        n = next(self._ids)
        name = f"r{n}"
        body = command_body(
            text,
            team=team,
            user=user,
            response_url=self.slack.response_url(name),
            trigger_id=f"trig-{n}",
        )
        async with self.http.post(self.url, data=body.encode(), headers=signed_headers(body)) as r:
            assert r.status == 200
        return name

    def answer(self, name: str) -> str | None:
        for response in self.slack.responses:
            if response["name"] == name:
                return str(response.get("text", ""))
        return None

    async def answered(self, name: str) -> str:
        await self.slack.wait_for(lambda: self.answer(name) is not None, what=f"answer {name}")
        answer = self.answer(name)
        assert answer is not None
        return answer


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    provider = GatedProvider(SystemClock(), timing=FAST_TIMING)
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
            team_long_tasks=2,
        )
        bot = await start_bot(settings, stack, provider=provider)
        async with aiohttp.ClientSession() as http:
            yield Harness(
                slack=slack,
                provider=provider,
                http=http,
                url=f"http://127.0.0.1:{bot.web.port}/slack/events",
                _ids=count(1),
            )
            provider.gate.set()  # let held work finish before the bot stops


async def test_long_tasks_never_hold_the_workers_that_answer_commands(harness: Harness) -> None:
    # Five teams, two long tasks each, all held at the gate: more than the 8 Slack workers.
    held = [
        await harness.command(f"try {MODEL} question {i}", team=f"T{i // 2}") for i in range(10)
    ]
    await harness.provider.until_waiting(10)

    # Another team's help, and the busy teams' own short commands, are answered meanwhile.
    assert "finetune-bot commands" in await harness.answered(
        await harness.command("help", team="T9")
    )
    assert "No jobs." in await harness.answered(await harness.command("list", team="T0"))

    # A busy team's third long task is refused at once, naming the limit; others' still start.
    refused = await harness.answered(await harness.command(f"try {MODEL} more", team="T0"))
    assert refused.startswith(BUSY)
    other_kind = f"compare {MODEL} gpt-4o-mini-2024-07-18"
    assert (await harness.answered(await harness.command(other_kind, team="T1"))).startswith(BUSY)
    started = await harness.command(f"try {MODEL} from a quiet team", team="T7")
    await harness.provider.until_waiting(11)
    assert all(harness.answer(name) is None for name in (*held, started))

    harness.provider.gate.set()
    for name in (*held, started):
        assert f"{MODEL} answered" in await harness.answered(name)
    # Slots came back: the busy team may run long work again.
    again = await harness.answered(await harness.command(f"try {MODEL} again", team="T0"))
    assert f"{MODEL} answered" in again
