"""A whole job life on Amazon Bedrock through each chat platform: `start_bot` with Bedrock as
the deployment's provider (the real aiobotocore clients, on the AWS default credential chain
and the SDK's own endpoint variables, against moto's S3 and the Bedrock fake), Slack in HTTP
mode with signed requests to the real Bolt app, and Discord through the real discord.py
client against the fake gateway; the watcher and dispatcher run as in production. And a
team's own AWS account set up through the Slack form, checked before it is stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from storage import crypto
from tests.e2e.job_messages import is_card, is_notice, title
from tests.fakes.bedrock_server import BUCKET, ROLE, SECRET_KEY, FakeBedrock
from tests.fakes.discord_api import GUILD_A, Attachment, FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    command_body,
    signed_headers,
    view_submission_body,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
PREFIX = "e2e/"
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
async def bedrock_world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBedrock]:
    """Moto's S3 and the Bedrock fake on loopback, the process's AWS variables pointing at
    them, and the jobs moving one phase every 0.2 s of real time."""
    async with FakeBedrock(clock=time.time) as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)

        async def ticking() -> None:
            while True:
                await asyncio.sleep(0.2)
                # On the loop, as the fake's handlers are (its S3 calls go to moto's thread).
                fake.advance()

        ticker = asyncio.create_task(ticking())
        try:
            yield fake
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


async def _start(stack: AsyncExitStack, tmp_path: Path, **chat: Any) -> RunningBot:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="bedrock",
        bedrock_role_arn=ROLE,
        bedrock_bucket=BUCKET,
        bedrock_prefix=PREFIX,
        http_host="127.0.0.1",
        http_port=0,
        **FAST,
        **chat,
    )
    return await start_bot(settings, stack)


async def test_a_job_life_on_bedrock_through_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        bedrock_world(monkeypatch) as bedrock,
        FakeSlack() as slack,
        AsyncExitStack() as stack,
    ):
        bot = await _start(
            stack,
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

            async def answered(needle: str, what: str) -> str:
                await slack.wait_for(
                    lambda: any(needle in str(r) for r in slack.responses), what=what
                )
                return next(str(r) for r in slack.responses if needle in str(r))

            image = {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is in this picture?"},
                            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                        ],
                    },
                    {"role": "assistant", "content": "A cat."},
                ]
            }
            lines = _dataset().decode().splitlines()
            lines[2] = json.dumps(image)
            slack.share_file(
                name="pictures.jsonl",
                content=("\n".join(lines) + "\n").encode(),
                user="U1",
                channel="C1",
            )
            await command("upload alias=pictures")

            def said() -> list[str]:
                calls = slack.of("chat.postMessage") + slack.of("chat.postEphemeral")
                return [str(r) for r in slack.responses] + [str(c.args) for c in calls]

            await slack.wait_for(
                lambda: any("pictures.jsonl is not ready" in x for x in said()),
                what="the refusal of a file Bedrock cannot take",
            )
            refusal = next(x for x in said() if "pictures.jsonl is not ready" in x)
            assert "line 3: an image part" in refusal
            assert "remove the image" in refusal
            assert "never sent, even with force=yes" in refusal
            assert bedrock.objects(PREFIX) == {}, "nothing was staged"

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
            staged = [k for k in bedrock.objects(PREFIX) if k.startswith(f"{PREFIX}files/")]
            assert len(staged) == 1, "the file was staged once, named by its sha256"

            # Claude 3 Haiku is tuned in us-west-2; the deployment is in us-east-1.
            await command(f"start file=train model={HAIKU}")
            refused = await answered("us-west-2", "the region refusal")
            assert "set the account's region" in refused
            assert bedrock.jobs == {}, "a refused start creates nothing"

            await command(f"start file=train model={NOVA} epochs=1 suffix=e2e")
            await answered("Started ftb-", "the start reply")
            (job_id,) = bedrock.jobs
            job = bedrock.jobs[job_id]
            assert job["baseModelArn"].endswith(f"foundation-model/{NOVA}")
            assert job["hyperParameters"] == {"epochCount": "1"}
            assert job["roleArn"] == ROLE
            converted = job["trainingDataConfig"]["s3Uri"]
            assert converted.startswith(f"s3://{BUCKET}/{PREFIX}converted/")
            first = bedrock.objects(converted.removeprefix(f"s3://{BUCKET}/"))
            (line, *_) = next(iter(first.values())).splitlines()
            assert json.loads(line)["schemaVersion"] == "bedrock-conversation-2024"

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
            posts = [str(c.args) for c in slack.of("chat.postMessage")]
            cards = posts + [str(c.args) for c in slack.of("chat.update")]
            assert any("shows no live loss" in c for c in cards), "the card said so"
            notice = next(p for p in posts if f"{job_id}:status:succeeded" in p)
            assert "Final train loss" in notice
            await slack.wait_for(
                lambda: bool(slack.of("files.getUploadURLExternal")),
                what="the loss chart going with the notice",
            )
            await command(f"chart {job_id}")
            await answered("3 steps; last", "the chart from the step-wise CSV")
            await command(f"inspect {job_id}")
            await answered("Completed", "inspect showing Bedrock's own status")
            model = bedrock.jobs[job_id]["outputModelArn"]
            await command(f'try {model} "Hello there"')
            await answered("An answer from", "Converse on the custom model's deployment")

            await command("rm-file train")
            await answered("Deleted 'train'", "the file removed")
            left = [k for k in bedrock.objects(PREFIX) if not k.startswith(f"{PREFIX}output/")]
            assert left == [], "the staged file and its converted form are gone"
        assert len(keys()) == len(set(keys())), "no message was posted twice"


async def test_a_job_life_on_bedrock_through_discord(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        bedrock_world(monkeypatch) as bedrock,
        FakeDiscord() as discord,
        AsyncExitStack() as stack,
    ):
        await _start(
            stack,
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

        iid = await discord.command("start", {"file": "train", "model": NOVA, "epochs": 1})
        started = str((await discord.wait_followup(iid))["embeds"][0]["title"])
        (job_id,) = bedrock.jobs
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
        # One card, edited in place; Bedrock's own word shown beside the canonical status.
        (card,) = [title(m) for m in messages() if is_card(m, job_id)]
        assert card.endswith(" · succeeded (Completed)")


async def test_a_teams_aws_account_is_checked_through_the_form_before_it_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        bedrock_world(monkeypatch) as bedrock,
        FakeSlack() as slack,
        aiohttp.ClientSession() as http,
        AsyncExitStack() as stack,
    ):
        bot = await _start(
            stack,
            tmp_path,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            encryption_keys=crypto.generate_key(),
        )
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"

        async def submit(**fields: str) -> str:
            values = {
                "key": "AKIAFAKEBEDROCK00001",
                "secret_access_key": SECRET_KEY,
                "region": "us-east-1",
                "role_arn": ROLE,
                "bucket": f"{BUCKET}/team-own/",
                **fields,
            }
            form: dict[str, Any] = {
                "provider": {
                    "provider": {
                        "type": "static_select",
                        "selected_option": {"value": "bedrock"},
                    }
                }
            }
            for name, value in values.items():
                block = "api_key" if name == "key" else name
                form[block] = {block: {"type": "plain_text_input", "value": value}}
            body = view_submission_body(form, callback_id="ftbot_setup")
            seen = len(slack.of("chat.postEphemeral"))
            async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                assert r.status == 200
            await slack.wait_for(lambda: len(slack.of("chat.postEphemeral")) > seen, what="reply")
            return str(slack.of("chat.postEphemeral")[seen].args["text"])

        store = bot.runtime.store
        refused = [
            await submit(key="AKIAUNKNOWNKEY000001"),
            await submit(bucket="not-our-bucket/team-own"),
            await submit(region="eu-west-3"),
        ]
        assert "AWS did not accept these credentials" in refused[0]
        assert "cannot write to s3://not-our-bucket/team-own/" in refused[1]
        assert "no model in eu-west-3" in refused[2]
        assert await store.get_credentials("slack:T1", "bedrock") is None

        saved = await submit()
        stored = await store.get_credentials("slack:T1", "bedrock")
        assert stored is not None, saved
        assert stored.settings["bucket"] == f"{BUCKET}/team-own/"
        assert stored.settings["region"] == "us-east-1"
        assert SECRET_KEY not in str(stored.settings)
        assert bedrock.objects("team-own/") == {}, "the probe object was deleted"
    crypto.use_keys(None)
    for record in caplog.records:
        shown = " ".join((record.getMessage(), str(record.exc_text or ""), repr(record.__dict__)))
        assert SECRET_KEY not in shown, record
