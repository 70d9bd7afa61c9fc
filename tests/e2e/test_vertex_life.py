"""A whole job life on Vertex AI through each chat platform: `start_bot` with Vertex as the
deployment's provider (google-genai in Vertex mode against the fake Vertex service, the
training data staged through google-cloud-storage into gcp-storage-emulator), Slack in HTTP
mode with signed requests to the real Bolt app, and Discord through the real discord.py client
against the fake gateway; the watcher and dispatcher run as in production."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.cloud import storage

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.e2e.job_messages import is_card, is_notice, title
from tests.fakes.discord_api import GUILD_A, Attachment, FakeDiscord
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator, gcs_reader
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers
from tests.fakes.vertex_server import BASE_MODELS, FakeVertex
from tests.world import chat_example

pytestmark = pytest.mark.e2e
TOKEN = "ya29.e2e-0123456789abcdefghijklmn"
BUCKET = "deployment-ftbot"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Cloud:
    fake: FakeVertex
    storage_url: str
    bucket: storage.Bucket


@asynccontextmanager
async def vertex_world() -> AsyncIterator[Cloud]:
    """The fake Vertex and the GCS emulator on loopback, jobs moving a tick every 0.2 s."""
    with gcs_emulator(BUCKET) as storage_url:
        client = gcs_client(storage_url, project="acme-ml")
        async with FakeVertex(token=TOKEN, read=gcs_reader(client), clock=time.time) as fake:

            async def ticking() -> None:
                while True:
                    await asyncio.sleep(0.2)
                    # The fake reads the staged file from the emulator: off the event loop.
                    await asyncio.to_thread(fake.advance)

            ticker = asyncio.create_task(ticking())
            try:
                yield Cloud(fake=fake, storage_url=storage_url, bucket=client.bucket(BUCKET))
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker


async def _start(stack: AsyncExitStack, cloud: Cloud, tmp_path: Path, **chat: Any) -> RunningBot:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="vertex",
        vertex_project="acme-ml",
        vertex_bucket=BUCKET,
        vertex_access_token=TOKEN,
        vertex_base_url=cloud.fake.base_url,
        vertex_storage_url=cloud.storage_url,
        http_host="127.0.0.1",
        http_port=0,
        **FAST,
        **chat,
    )
    return await start_bot(settings, stack)


def _staged(cloud: Cloud) -> list[str]:
    return sorted(b.name for b in cloud.bucket.list_blobs())


async def test_a_job_life_on_vertex_through_slack(tmp_path: Path) -> None:
    async with vertex_world() as cloud, FakeSlack() as slack, AsyncExitStack() as stack:
        bot = await _start(
            stack,
            cloud,
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
            staged = _staged(cloud)
            assert [n.split("/")[1] for n in staged] == ["gemini", "source"], staged
            gemini = cloud.bucket.blob(staged[0]).download_as_bytes().splitlines()
            assert json.loads(gemini[0])["contents"][1]["role"] == "model"

            await command(f"start file=train model={MODEL} epochs=1 lr=0.5 suffix=e2e")
            await slack.wait_for(lambda: bool(cloud.fake.jobs), what="the tuning job")
            (job_id,) = cloud.fake.jobs
            await slack.wait_for(
                lambda: any(
                    f"Started {job_id}" in str(r.get("text", "")) for r in slack.responses
                ),
                what="the start reply",
            )
            sent = cloud.fake.jobs[job_id]
            assert sent["baseModel"] == MODEL
            assert (
                sent["supervisedTuningSpec"]["trainingDatasetUri"] == f"gs://{BUCKET}/{staged[0]}"
            )
            assert sent["supervisedTuningSpec"]["hyperParameters"] == {
                "epochCount": 1,
                "learningRateMultiplier": 0.5,
            }
            assert sent["tunedModelDisplayName"] == "e2e"

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
                lambda: any(
                    "JOB_STATE_SUCCEEDED" in str(r) and job_id in str(r) for r in slack.responses
                ),
                what="inspect showing Vertex's own state",
            )
            endpoint = cloud.fake.jobs[job_id]["tunedModel"]["endpoint"]
            await command(f"try {endpoint} How do I reset my password?")
            await slack.wait_for(
                lambda: any(f"(tuned {MODEL})" in str(r) for r in slack.responses),
                within=30,
                what="the tuned model's answer from its endpoint",
            )
        assert len(keys()) == len(set(keys())), "no message was posted twice"


async def test_a_job_life_on_vertex_through_discord(tmp_path: Path) -> None:
    async with vertex_world() as cloud, FakeDiscord() as discord, AsyncExitStack() as stack:
        await _start(
            stack,
            cloud,
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
        assert len(_staged(cloud)) == 2

        iid = await discord.command("start", {"file": "train", "model": MODEL, "epochs": 1})
        started = str((await discord.wait_followup(iid))["embeds"][0]["title"])
        (job_id,) = cloud.fake.jobs
        assert started == f"Started {job_id}"

        def messages() -> list[dict[str, Any]]:
            return [m for m in discord.channel_messages(GUILD_A.channel_id) if m.get("embeds")]

        def titles() -> list[str]:
            return [title(m) for m in messages()]

        for _ in range(300):
            if any(is_notice(m, job_id, "succeeded") for m in messages()):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"no completion notice; channel: {titles()}")
        # One card, edited in place; Vertex's own state shown beside the canonical status
        # (its underscores escaped, as Discord's markdown needs).
        (card,) = [title(m) for m in messages() if is_card(m, job_id)]
        assert card.endswith(" · succeeded (JOB\\_STATE\\_SUCCEEDED)")

        iid = await discord.command("rm-file", {"alias": "train"})
        removed = await discord.wait_followup(iid)
        assert str(removed["embeds"][0]["title"]).startswith("Deleted 'train'")
        assert _staged(cloud) == []
