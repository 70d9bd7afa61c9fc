"""A whole job life on Together AI through each chat platform: `start_bot` with Together as the
deployment's provider (the real together SDK against the fake Together server), Slack in HTTP
mode with signed requests to the real Bolt app, and Discord through the real discord.py client
against the fake gateway; the watcher and dispatcher run as in production."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.e2e.job_messages import is_card, is_notice, title
from tests.fakes.discord_api import GUILD_A, Attachment, FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers
from tests.fakes.together_server import BASE_MODELS, FakeTogether
from tests.world import chat_example

pytestmark = pytest.mark.e2e
KEY = "tgp_v1_" + "e2e0123456789abc" * 2
MODEL = BASE_MODELS[0]
FAST = {
    "sweep_seconds": 0.2,
    "dispatch_seconds": 0.1,
    "running_poll_seconds": 0.3,
    "queued_poll_seconds": 0.3,
    "metric_interval_seconds": 0.5,
}


def _dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


@asynccontextmanager
async def together_world() -> AsyncIterator[FakeTogether]:
    """The fake Together on loopback, its jobs moving one tick every 0.2 s of real time."""
    async with FakeTogether(api_key=KEY, clock=time.time) as fake:

        async def ticking() -> None:
            while True:
                await asyncio.sleep(0.2)
                fake.advance()

        ticker = asyncio.create_task(ticking())
        try:
            yield fake
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


async def _start(
    stack: AsyncExitStack, fake: FakeTogether, tmp_path: Path, **chat: Any
) -> RunningBot:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="together",
        together_api_key=KEY,
        together_base_url=fake.base_url,
        http_host="127.0.0.1",
        http_port=0,
        **FAST,
        **chat,
    )
    return await start_bot(settings, stack)


async def test_a_job_life_on_together_through_slack(tmp_path: Path) -> None:
    async with together_world() as together, FakeSlack() as slack, AsyncExitStack() as stack:
        bot = await _start(
            stack,
            together,
            tmp_path,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
        )
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def command(text: str) -> None:
                body = command_body(text, response_url=slack.response_url())
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200

            shared = slack.share_file(
                name="train.jsonl", content=_dataset(), user="U1", channel="C1"
            )
            await command("upload alias=train")
            await slack.wait_for(
                lambda: any(
                    c.args.get("thread_ts") == shared.share_ts
                    for c in slack.of("chat.postMessage")
                ),
                what="the upload report",
            )
            assert together.files, "the file went to Together"

            await command(f"start file=train model={MODEL} epochs=1 suffix=e2e")
            await slack.wait_for(
                lambda: any("Started ft-" in str(r.get("text", "")) for r in slack.responses),
                what="the start reply",
            )
            (job_id,) = together.jobs
            assert together.jobs[job_id]["model"] == MODEL

            def keys() -> list[str]:
                return [
                    str(c.args["metadata"]["event_payload"]["dedupe_key"])
                    for c in slack.of("chat.postMessage")
                    if c.args.get("metadata")
                ]

            await slack.wait_for(
                lambda: any(k.startswith(f"{job_id}:status:succeeded") for k in keys()),
                within=60,
                what="the completion notice",
            )
            await command(f"inspect {job_id}")
            await slack.wait_for(
                lambda: any("completed" in str(r) and job_id in str(r) for r in slack.responses),
                what="inspect showing Together's own status",
            )
        assert len(keys()) == len(set(keys())), "no message was posted twice"


async def test_a_job_life_on_together_through_discord(tmp_path: Path) -> None:
    async with together_world() as together, FakeDiscord() as discord, AsyncExitStack() as stack:
        await _start(
            stack,
            together,
            tmp_path,
            discord_token="fake-token",
            discord_api_base_url=discord.api_base,
            discord_gateway_url=discord.gateway_url,
            discord_commands_hash_file=tmp_path / "commands.sha256",
        )
        await asyncio.wait_for(discord.identified.wait(), timeout=30)
        iid = await discord.command(
            "upload", {"file": Attachment("train.jsonl", _dataset()), "alias": "train"}
        )
        uploaded = await discord.wait_followup(iid)
        assert uploaded["embeds"][0]["title"] == "Uploaded train.jsonl as 'train'"

        iid = await discord.command("start", {"file": "train", "model": MODEL, "epochs": 1})
        started = str((await discord.wait_followup(iid))["embeds"][0]["title"])
        (job_id,) = together.jobs
        assert started == f"Started {job_id}"

        def titles() -> list[str]:
            return [title(m) for m in messages()]

        def messages() -> list[dict[str, Any]]:
            return [m for m in discord.channel_messages(GUILD_A.channel_id) if m.get("embeds")]

        for _ in range(300):
            if any(is_notice(m, job_id, "succeeded") for m in messages()):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"no completion notice; channel: {titles()}")
        # One card, edited in place; Together's own word shown beside the canonical status.
        (card,) = [title(m) for m in messages() if is_card(m, job_id)]
        assert card.endswith(" · succeeded (completed)")
