"""The migration path through Slack's buttons, end to end: `start_bot` on the sandbox (its
Together-shaped companion beside it), Slack in HTTP mode with signed requests to the real Bolt
app. A job's completion notice offers *Run this recipe on…*; its plan's *Run on* button starts
the replay at the other family; the replay's notice offers *Compare with* the original, and the
comparison runs each model at its own family."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, action_body, command_body, signed_headers
from tests.world import chat_example

pytestmark = pytest.mark.e2e
TEAM = "slack:T1"
MODEL = "gpt-4.1-mini-2025-04-14"
SECOND = "sandbox-together"


def _dataset(n: int) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


def _said(slack: FakeSlack) -> list[dict[str, Any]]:
    """Every message the bot sent: responses, posts and edits, as their arguments."""
    said: list[dict[str, Any]] = list(slack.responses)
    said += [
        c.args
        for m in ("chat.postMessage", "chat.postEphemeral", "chat.update")
        for c in slack.of(m)
    ]
    return said


def _buttons(message: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A message's buttons: label -> (action_id, value)."""
    found = {}
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "button":
                found[str(element["text"]["text"])] = (
                    str(element["action_id"]),
                    str(element["value"]),
                )
    return found


async def test_a_recipe_moves_and_is_compared_with_its_buttons(tmp_path: Path) -> None:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            sandbox_state=tmp_path / "sandbox.json",
            sandbox_speed=20,
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
        )
        bot = await start_bot(settings, stack)
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def send(body: str) -> None:
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200

            async def said(needle: str, what: str) -> dict[str, Any]:
                def found() -> dict[str, Any] | None:
                    return next((m for m in _said(slack) if needle in json.dumps(m)), None)

                await slack.wait_for(lambda: found() is not None, within=60, what=what)
                message = found()
                assert message is not None
                return message

            async def press(message: dict[str, Any], label: str, expect: str) -> dict[str, Any]:
                action, value = _buttons(message)[label]
                await send(action_body(action, value, response_url=slack.response_url()))
                return await said(expect, what=f"the answer to {label}")

            slack.share_file(name="train.jsonl", content=_dataset(12), user="U1", channel="C1")
            await send(command_body("upload alias=train", response_url=slack.response_url()))
            await said("Uploaded train.jsonl", "the training upload")
            slack.share_file(name="held.jsonl", content=_dataset(10), user="U1", channel="C1")
            await send(
                command_body("upload held.jsonl alias=held", response_url=slack.response_url())
            )
            await said("Uploaded held.jsonl", "the validation upload")
            await send(
                command_body(
                    f"start file=train validation=held model={MODEL} epochs=2 suffix=mv",
                    response_url=slack.response_url(),
                )
            )
            await said("Started ftjob-", "the start")
            [old] = await bot.runtime.store.list_jobs(TEAM)
            notice = await said(f"{old.id}:status:succeeded", "the original's completion notice")
            finished = await bot.runtime.store.get_job(TEAM, old.id)
            assert finished is not None
            old_model = finished.state.fine_tuned_model
            assert old_model is not None

            plan = await press(notice, "Run this recipe on…", f"Run the recipe of {old.id}")
            assert "Carried: epochs=2, suffix=mv." in json.dumps(plan)
            await press(plan, "Run on Together-shaped sandbox (simulated)", "Started ft-")
            new = next(j for j in await bot.runtime.store.list_jobs(TEAM) if j.origin == old.id)
            assert new.provider == SECOND
            copies = {f.alias: f.provider for f in await bot.runtime.store.list_files(TEAM)}
            assert copies["train-sandbox-together"] == copies["held-sandbox-together"] == SECOND

            done = await said(f"{new.id}:status:succeeded", "the replay's completion notice")
            await press(done, f"Compare with {old_model}", "Comparison cmp-")
            # The summary: the replay at the Together-shaped family, the original at its own.
            await said(f"B = {old_model} (Sandbox (simulated training))", "the comparison")
            await said("(Together-shaped sandbox (simulated))", "model A's family")
