"""A whole job life on Azure OpenAI through each chat platform: `start_bot` with Azure as the
deployment's provider (the real openai SDK's AsyncAzureOpenAI against the fake OpenAI server in
Azure mode: /openai routes with api-version, the api-key header, `pending`, deployments), Slack
in HTTP mode with signed requests to the real Bolt app, and Discord through the real discord.py
client against the fake gateway; the watcher and dispatcher run as in production."""

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
from bot.providers.azure.profile import DEPLOY_NOTE
from tests.e2e.job_messages import is_card, is_notice
from tests.fakes.discord_api import GUILD_A, Attachment, FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Route
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    command_body,
    signed_headers,
    view_action_body,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
KEY = "0123456789abcdef" * 2
MODEL = "gpt-4o-mini-2024-07-18"
VERSION = "2024-10-21"
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
async def azure_world() -> AsyncIterator[FakeOpenAI]:
    """The fake Azure resource on loopback, its jobs moving one tick every 0.2 s."""
    async with FakeOpenAI(api_key=KEY, azure=True, clock=time.time) as fake:

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
    stack: AsyncExitStack, fake: FakeOpenAI, tmp_path: Path, **chat: Any
) -> RunningBot:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="azure",
        azure_openai_endpoint=fake.azure_endpoint,
        azure_openai_api_key=KEY,
        openai_api_version=VERSION,
        azure_openai_training_type="standard",
        http_host="127.0.0.1",
        http_port=0,
        **FAST,
        **chat,
    )
    return await start_bot(settings, stack)


async def test_a_job_life_on_azure_through_slack(tmp_path: Path) -> None:
    async with azure_world() as azure, FakeSlack() as slack, AsyncExitStack() as stack:
        bot = await _start(
            stack,
            azure,
            tmp_path,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
        )
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def post(body: str) -> None:
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200

            async def command(text: str) -> None:
                await post(command_body(text, response_url=slack.response_url()))

            def said(text: str) -> bool:
                return any(text in str(r.get("text", "")) for r in slack.responses)

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
            assert len(azure.files) == 1

            # An option Azure does not take: one reply naming it and the family, nothing sent.
            await command(f"start file=train model={MODEL} lora_r=8")
            await slack.wait_for(
                lambda: said("lora_r is not an option Azure OpenAI supports"),
                what="the lora_r refusal",
            )
            assert azure.jobs == {}, "a refused option creates nothing"

            # The start form names the model's retirement once a model is picked.
            await command("start")
            await slack.wait_for(lambda: bool(slack.of("views.open")), what="the modal")
            values = {
                "file": {
                    "ftbot_start_file": {
                        "type": "static_select",
                        "selected_option": {"value": "train"},
                    }
                },
                "model": {
                    "ftbot_models": {
                        "type": "external_select",
                        "selected_option": {"value": MODEL},
                    }
                },
            }
            await post(view_action_body("ftbot_models", values))
            await slack.wait_for(lambda: bool(slack.of("views.update")), what="the estimate")
            estimate = str(slack.of("views.update")[0].args["view"]["blocks"][-1])
            assert f"Training {MODEL} at Azure OpenAI ends no earlier than 2027-04-01" in estimate

            await command(f"start file=train model={MODEL} epochs=1 suffix=e2e")
            await slack.wait_for(lambda: said("Started ftjob-"), what="the start reply")
            (job_id,) = azure.jobs
            create = azure.requests_to(Route.CREATE_JOB)[0]
            assert create.json["trainingType"] == "standard"
            assert create.query["api-version"] == VERSION
            assert create.headers["api-key"] == "<redacted>"

            def notices() -> list[dict[str, Any]]:
                return [
                    c.args
                    for c in slack.of("chat.postMessage")
                    if c.args.get("metadata")
                    and str(c.args["metadata"]["event_payload"]["dedupe_key"]).startswith(
                        f"{job_id}:status:succeeded"
                    )
                ]

            await slack.wait_for(lambda: bool(notices()), within=60, what="the completion")
            notice = str(notices()[0])
            assert "Before Try" in notice
            assert DEPLOY_NOTE.split(":")[0] in notice
            model = azure.jobs[job_id]["fine_tuned_model"]
            assert model.startswith(f"{MODEL}.ft-")

            # Try before the model is deployed: the step it needs, not a failure.
            await command(f"try {job_id} How do I reset my password?")
            await slack.wait_for(
                lambda: said("has no deployment at this Azure resource"), what="the try refusal"
            )
            # The operator deploys it under its name (Azure's management API); try answers.
            async with http.put(
                azure.deployment_url(model) + "?api-version=2023-05-01",
                json={
                    "sku": {"name": "Standard", "capacity": 1},
                    "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
                },
                headers={"api-key": KEY},
            ) as made:
                assert made.status == 201
            await command(f"try {job_id} How do I reset my password?")
            await slack.wait_for(lambda: said(f"{model} answered"), what="the model's answer")
            assert "echo: How do I reset my password?" in str(slack.responses[-1])
            chat = azure.requests_to(Route.AZURE_CHAT)[-1]
            assert chat.path == f"/deployments/{model}/chat/completions"


async def test_a_job_life_on_azure_through_discord(tmp_path: Path) -> None:
    async with azure_world() as azure, FakeDiscord() as discord, AsyncExitStack() as stack:
        await _start(
            stack,
            azure,
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
        started = (await discord.wait_followup(iid))["embeds"][0]
        (job_id,) = azure.jobs
        assert started["title"] == f"Started {job_id}"
        assert "ends no earlier than 2027-04-01" in str(started)

        def messages() -> list[dict[str, Any]]:
            return [m for m in discord.channel_messages(GUILD_A.channel_id) if m.get("embeds")]

        def embeds() -> list[dict[str, Any]]:
            return [m["embeds"][0] for m in messages()]

        for _ in range(300):
            if any(is_notice(m, job_id, "succeeded") for m in messages()):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"no completion notice; channel: {embeds()}")
        (notice,) = [m["embeds"][0] for m in messages() if is_notice(m, job_id, "succeeded")]
        before = [f for f in notice.get("fields", []) if f["name"] == "Before Try"]
        assert before, notice
        assert "deployment" in before[0]["value"]
        # The card leads with the job's human name; its id is a field.
        (card,) = [m["embeds"][0] for m in messages() if is_card(m, job_id)]
        assert str(card["title"]).endswith(" · succeeded")

        # Try before the deployment exists: the same step, said in Discord.
        iid = await discord.command(
            "try", {"model": job_id, "prompt": "How do I reset my password?"}
        )
        answer = await discord.wait_followup(iid)
        assert "has no deployment at this Azure resource" in str(answer)
