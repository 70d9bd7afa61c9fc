"""A sandbox deployment offers two simulated families to every team, end to end: `start_bot`
with FINETUNE_BOT_PROVIDER=sandbox (its state in a file), Slack in HTTP mode with signed
requests to the real Bolt app. A team sees both families, uploads and starts on the
Together-shaped one by name, its card shows Together's statuses and no Pause button, the
watcher brings its metrics and completion, and `try` answers with the model it made."""

from __future__ import annotations

import json
import re
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from handlers.model import ACCOUNT_DEPLOYMENT
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers
from tests.world import chat_example

pytestmark = pytest.mark.e2e
FAMILY = "sandbox-together"
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
TEAM = "slack:T1"


def _dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


def _texts(slack: FakeSlack) -> list[str]:
    """Everything the bot said: command responses and posted or edited messages, as JSON."""
    said = [json.dumps(r) for r in slack.responses]
    said += [
        json.dumps(c.args)
        for m in ("chat.postMessage", "chat.postEphemeral", "chat.update")
        for c in slack.of(m)
    ]
    return said


def _cards(slack: FakeSlack, job_id: str) -> list[dict[str, Any]]:
    """Every version of the job's card, posted or edited, in order: the messages naming the
    job in their Job field and showing its progress (the title is the job's human name)."""
    return [
        c.args
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update")
        and f"*Job*\\n{job_id}" in json.dumps(c.args.get("blocks"))
        and "*Progress*" in json.dumps(c.args.get("blocks"))
    ]


async def test_a_sandbox_team_trains_on_the_together_shaped_family(tmp_path: Path) -> None:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            sandbox_state=tmp_path / "sandbox.json",
            sandbox_speed=20,  # 1 s validating, 1.5 s queued, 0.25 s a step
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            sweep_seconds=0.2,
            dispatch_seconds=0.1,
            running_poll_seconds=0.2,
            queued_poll_seconds=0.2,
            metric_interval_seconds=0.2,
        )
        bot = await start_bot(settings, stack)
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def command(text: str, *, expect: str, what: str) -> None:
                body = command_body(text, response_url=slack.response_url())
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200
                await slack.wait_for(lambda: any(expect in t for t in _texts(slack)), what=what)

            await command(
                "providers",
                expect="this team can use sandbox, sandbox-together",
                what="both families offered",
            )
            assert any("Together-shaped sandbox (simulated)" in t for t in _texts(slack))

            slack.share_file(name="train.jsonl", content=_dataset(), user="U1", channel="C1")
            await command(
                f"upload alias=t provider={FAMILY}", expect="Uploaded train.jsonl", what="upload"
            )
            [file] = await bot.runtime.store.list_files(TEAM)
            assert file.provider == FAMILY
            assert file.provider_file_id.startswith("file-")

            await command(
                f"start file=t model={MODEL} provider={FAMILY} epochs=1 suffix=e2e",
                expect="Started ft-",
                what="the start",
            )
            assert any("no real model is trained" in t for t in _texts(slack))
            # Together's own word beside the canonical status, from the first reply on.
            assert any("queued (pending)" in t for t in _texts(slack))
            [job] = await bot.runtime.store.list_jobs(TEAM)
            assert (job.provider, job.account) == (FAMILY, ACCOUNT_DEPLOYMENT)
            assert re.fullmatch(r"ft-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", job.id)

            def keys() -> list[str]:
                return [
                    str(c.args["metadata"]["event_payload"]["dedupe_key"])
                    for c in slack.of("chat.postMessage")
                    if c.args.get("metadata")
                ]

            await slack.wait_for(
                lambda: any(k.startswith(f"{job.id}:status:succeeded") for k in keys()),
                within=60,
                what="the completion notice",
            )

            cards = _cards(slack, job.id)
            titles = [str(c["text"]) for c in cards]
            assert titles[-1].endswith(" · succeeded (completed)")
            assert titles[-1].startswith(job.state.suffix or "")
            actions = {
                str(e.get("action_id"))
                for c in cards
                for b in c.get("blocks", [])
                for e in b.get("elements", [])
                if isinstance(e, dict)
            }
            assert "ftbot_cancel" in actions, actions  # a live card offers what it can do
            assert not {"ftbot_pause", "ftbot_resume"} & actions

            points = await bot.runtime.store.list_metric_points(TEAM, job.id)
            assert points, "the metrics rows reached the watcher"
            assert [p.step for p in points] == sorted({p.step for p in points})
            assert all(p.train_loss is not None for p in points)

            [model] = await bot.runtime.store.list_models(TEAM)
            assert model.provider == FAMILY
            assert re.fullmatch(
                r"sandbox/Meta-Llama-3\.1-8B-Instruct-Reference-e2e-[0-9a-f]{8}", model.name
            ), model.name

            await command(
                f"try {model.name} What is the weather like on Mars?",
                expect=f"[sandbox {model.name}]",
                what="the tuned model's answer",
            )
        # The companion keeps its state beside the sandbox's, as the sandbox does.
        assert (tmp_path / "sandbox-together.json").exists()
