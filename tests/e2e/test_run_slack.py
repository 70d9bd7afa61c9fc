"""`finetune-bot run` as a real process in Slack HTTP mode on the sandbox: a signed-request
client drives a whole job life (upload, start, card updates, chart, completion), then SIGTERM
stops the bot cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, action_body, command_body, signed_headers
from tests.world import chat_example

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_healthy(
    http: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process, log: Path
) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"the bot exited {proc.returncode}:\n{_tail(log)}")
        try:
            async with http.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bot never became ready:\n" + _tail(log))


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def test_run_serves_a_whole_job_life_to_a_signed_client(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "bot.log"
    async with FakeSlack() as slack, aiohttp.ClientSession() as http:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FINETUNE_BOT_", "SLACK_", "DISCORD_", "OPENAI_"))
        }
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            FINETUNE_BOT_PROVIDER="sandbox",
            FINETUNE_BOT_SANDBOX_SPEED="40",
            FINETUNE_BOT_HTTP_HOST="127.0.0.1",
            FINETUNE_BOT_HTTP_PORT=str(port),
            FINETUNE_BOT_SWEEP_SECONDS="0.3",
            FINETUNE_BOT_DISPATCH_SECONDS="0.2",
            FINETUNE_BOT_RUNNING_POLL_SECONDS="0.5",
            FINETUNE_BOT_QUEUED_POLL_SECONDS="0.5",
            FINETUNE_BOT_METRIC_INTERVAL_SECONDS="1",
            SLACK_MODE="http",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_BASE_URL=slack.base_url,
        )
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                stdout=out,
                stderr=out,
                cwd=tmp_path,
            )
        try:
            await _wait_healthy(http, base, proc, log)

            async def post(body: str) -> None:
                async with http.post(
                    f"{base}/slack/events", data=body.encode(), headers=signed_headers(body)
                ) as response:
                    assert response.status == 200

            data = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()
            slack.share_file(name="train.jsonl", content=data, user="U1", channel="C1")
            await post(command_body("upload alias=train", response_url=slack.response_url()))
            await slack.wait_for(
                lambda: any(
                    "Uploaded train.jsonl" in str(c.args.get("text"))
                    for c in slack.of("chat.postMessage")
                ),
                what="the upload",
            )
            await post(
                command_body(
                    f"start file=train model={MODEL} epochs=1", response_url=slack.response_url()
                )
            )
            await slack.wait_for(
                lambda: any("Started ftjob-" in str(r.get("text")) for r in slack.responses),
                what="the start",
            )
            job_id = next(
                str(r["text"]).split()[1]
                for r in slack.responses
                if "Started ftjob-" in str(r.get("text"))
            )

            def keys() -> list[str]:
                return [
                    str(c.args["metadata"]["event_payload"]["dedupe_key"])
                    for c in slack.of("chat.postMessage")
                    if c.args.get("metadata")
                ]

            # The card comes with the job: posted (with Cancel) within 2 s of the start's
            # answer, before any status change, then edited in place.
            await slack.wait_for(
                lambda: any(k.startswith(f"{job_id}:card:") for k in keys()),
                within=2,
                what="the job card right after the start",
            )
            first_card = next(
                c
                for c in slack.of("chat.postMessage")
                if str(
                    c.args.get("metadata", {}).get("event_payload", {}).get("dedupe_key", "")
                ).startswith(f"{job_id}:card:")
            )
            assert "ftbot_cancel" in str(first_card.args.get("blocks"))
            start_answer = next(
                r for r in slack.responses if "Started ftjob-" in str(r.get("text"))
            )
            assert start_answer.get("response_type") == "ephemeral"

            await slack.wait_for(
                lambda: any(k.startswith(f"{job_id}:status:succeeded") for k in keys()),
                within=60,
                what="the completion",
            )
            assert sum(1 for k in keys() if k.startswith(f"{job_id}:card:")) == 1
            assert slack.of("chat.update"), "the card was edited in place"
            assert any(":metric:" in k for k in keys()), "metric updates in the thread"
            completion = next(
                c
                for c in slack.of("chat.postMessage")
                if ":status:succeeded" in str(c.args.get("metadata"))
            )
            assert "<@U1>" in completion.args["text"]
            await slack.wait_for(
                lambda: bool(slack.of("files.completeUploadExternal")),
                what="the chart with the completion",
            )
            charts = len(slack.of("files.completeUploadExternal"))
            await post(action_body("ftbot_chart", job_id, response_url=slack.response_url()))
            await slack.wait_for(
                lambda: len(slack.of("files.completeUploadExternal")) > charts,
                what="the chart from the button",
            )
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        assert code == 0, log.read_text()[-2000:]
        assert "Traceback" not in log.read_text()


async def test_a_rejected_slack_app_token_is_one_line_and_discord_and_the_watcher_run(
    tmp_path: Path,
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "bot.log"
    async with FakeSlack() as slack, FakeDiscord() as discord, aiohttp.ClientSession() as http:
        slack.rejected_tokens.add("xapp-1-revoked")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FINETUNE_BOT_", "SLACK_", "DISCORD_", "OPENAI_"))
        }
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            FINETUNE_BOT_PROVIDER="sandbox",
            FINETUNE_BOT_HTTP_HOST="127.0.0.1",
            FINETUNE_BOT_HTTP_PORT=str(port),
            FINETUNE_BOT_SWEEP_SECONDS="0.2",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN="xapp-1-revoked",
            SLACK_API_BASE_URL=slack.base_url,
            DISCORD_TOKEN="fake-token",
            DISCORD_API_BASE_URL=discord.api_base,
            DISCORD_GATEWAY_URL=discord.gateway_url,
            DISCORD_COMMANDS_HASH_FILE=str(tmp_path / "commands.sha256"),
        )
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, stdout=out, stderr=out, cwd=tmp_path
            )
        try:
            # Discord still connects and answers while Slack refuses the app token.
            await asyncio.wait_for(discord.identified.wait(), timeout=60)
            iid = await discord.command("list")
            message = await discord.wait_followup(iid, within=30)
            assert message["embeds"][0]["title"] == "No jobs."

            async def metric(name: str) -> float:
                async with http.get(f"{base}/metrics") as response:
                    for line in (await response.text()).splitlines():
                        series = line.split(" ", 1)[0]  # prefixed: finetune_bot_sweeps_total
                        if not line.startswith("#") and series.endswith(name):
                            return float(line.rsplit(" ", 1)[1])
                return 0.0

            sweeps = await metric("sweeps_total")
            for _ in range(300):
                if await metric("sweeps_total") > sweeps:
                    break
                await asyncio.sleep(0.1)
            assert await metric("sweeps_total") > sweeps, "the watcher sweeps"
            for _ in range(300):  # READY follows the guilds; /readyz reports each platform
                async with http.get(f"{base}/readyz") as response:
                    ready = await response.json()
                if ready["checks"]["discord"] == "ok":
                    break
                await asyncio.sleep(0.1)
            assert ready["checks"]["discord"] == "ok"
            assert (
                "SLACK_APP_TOKEN was rejected by Slack (invalid_auth)" in ready["checks"]["slack"]
            )
            assert ready["status"] == "not ready"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        text = log.read_text(errors="replace")
        assert code == 0, text[-2000:]
        assert "Traceback" not in text, text[-3000:]
        rejected = [line for line in text.splitlines() if "SLACK_APP_TOKEN" in line]
        assert len(rejected) == 1, rejected
        assert "export SLACK_APP_TOKEN=xapp-" in rejected[0], "the line says the fix"
        assert "xapp-1-revoked" not in text, "the token is never logged"
