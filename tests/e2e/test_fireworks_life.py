"""A whole job life on Fireworks AI through each chat platform: `start_bot` with Fireworks as
the deployment's provider (the real fireworks-ai SDK against the fake Fireworks server), Slack
in HTTP mode with signed requests to the real Bolt app, and Discord through the real discord.py
client against the fake gateway; the watcher and dispatcher run as in production."""

from __future__ import annotations

import asyncio
import contextlib
import re
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
from tests.fakes.fireworks_server import BASE_MODELS, FakeFireworks
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers
from tests.world import chat_example

pytestmark = pytest.mark.e2e
KEY = "fw_" + "e2e0123456789abc" * 2
ACCOUNT = "acme"
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
async def fireworks_world() -> AsyncIterator[FakeFireworks]:
    """The fake Fireworks on loopback, its jobs moving one tick every 0.2 s of real time."""
    async with FakeFireworks(api_key=KEY, account=ACCOUNT, clock=time.time) as fake:

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
    stack: AsyncExitStack, fake: FakeFireworks, tmp_path: Path, **chat: Any
) -> RunningBot:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="fireworks",
        fireworks_api_key=KEY,
        fireworks_account_id=ACCOUNT,
        fireworks_base_url=fake.base_url,
        http_host="127.0.0.1",
        http_port=0,
        **FAST,
        **chat,
    )
    return await start_bot(settings, stack)


async def test_a_job_life_on_fireworks_through_slack(tmp_path: Path) -> None:
    async with fireworks_world() as fireworks, FakeSlack() as slack, AsyncExitStack() as stack:
        bot = await _start(
            stack,
            fireworks,
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
            assert fireworks.datasets, "the file went to Fireworks as a dataset"
            (dataset,) = fireworks.datasets.values()
            assert dataset["state"] == "READY"

            await command(f"start file=train model={MODEL} epochs=1 seed=7")
            await slack.wait_for(
                lambda: any("seed" in str(r.get("text", "")) for r in slack.responses),
                what="the seed refusal",
            )
            assert fireworks.jobs == {}, "a refused option creates nothing"
            await command("start file=train model=gpt-4o-mini epochs=1")
            await slack.wait_for(
                lambda: any(
                    "model=gpt-4o-mini is not a base model at Fireworks AI" in str(r)
                    for r in slack.responses
                ),
                what="the base model refusal",
            )
            assert fireworks.jobs == {}, "a model Fireworks does not tune creates nothing"

            await command(f"start file=train model={MODEL} epochs=1 suffix=e2e")
            await slack.wait_for(
                lambda: any("Started ftb-" in str(r.get("text", "")) for r in slack.responses),
                what="the start reply",
            )
            (job_id,) = fireworks.jobs
            assert fireworks.jobs[job_id]["baseModel"] == MODEL
            started = next(str(r) for r in slack.responses if f"Started {job_id}" in str(r))
            # Before the start: the local estimate, labelled; after: Fireworks' own, on the job.
            assert "local estimate from the price table" in started
            assert "Fireworks AI's own, on the job" in started

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

            def cards() -> list[str]:
                return [
                    str(c.args) for m in ("chat.postMessage", "chat.update") for c in slack.of(m)
                ]

            # The card's progress came from the metrics file, its total from jobProgress.
            await slack.wait_for(
                lambda: any(re.search(r"\(step \d+/10\)", c) for c in cards()),
                what="a card with the metrics file's steps",
            )
            notice = next(p for p in cards() if f"{job_id}:status:succeeded" in p)
            assert "Final train loss" in notice
            assert "Provider's estimate" in notice
            await slack.wait_for(
                lambda: bool(slack.of("files.getUploadURLExternal")),
                what="the loss chart with the notice",
            )
            await command(f"chart {job_id}")
            await slack.wait_for(
                lambda: any("10 steps; last" in str(r) for r in slack.responses),
                what="the chart from the stored points of the metrics file",
            )
            await command(f"inspect {job_id}")
            await slack.wait_for(
                lambda: any(
                    "JOB_STATE_COMPLETED" in str(r) and job_id in str(r) for r in slack.responses
                ),
                what="inspect showing Fireworks' own status",
            )
            inspected = next(str(r) for r in slack.responses if f"Job {job_id}" in str(r))
            assert "Fireworks AI's own, on the job" in inspected
            assert "(step 10/10)" in inspected, inspected
        assert len(keys()) == len(set(keys())), "no message was posted twice"


async def test_a_job_life_on_fireworks_through_discord(tmp_path: Path) -> None:
    async with fireworks_world() as fireworks, FakeDiscord() as discord, AsyncExitStack() as stack:
        await _start(
            stack,
            fireworks,
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
        (job_id,) = fireworks.jobs
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
        # One card, edited in place; Fireworks' own word shown beside the canonical status.
        (card,) = [title(m) for m in messages() if is_card(m, job_id)]
        # Discord's markdown would italicise the underscores: the adapter escapes them.
        assert card.endswith(" · succeeded (JOB\\_STATE\\_COMPLETED)")
