"""Several providers per team, end to end: the real runtime and Bolt app over signed requests,
the deployment on the OpenAI family (the real SDK against the fake server), and a second,
test-only family a team reaches with its own key. The team sets that key up in the Slack
modal, keeps the deployment's family as its default, uploads and starts on the second family
by name, and the watcher follows the job there to its completion notice."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from bot.providers import registry
from handlers.model import ACCOUNT_TEAM
from storage import crypto
from tests.fakes import second_family
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    command_body,
    signed_headers,
    suggestion_body,
    view_submission_body,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"
DEPLOYMENT_KEY = "sk-proj-" + "Dep1" * 10
ENCRYPTION_KEY = crypto.generate_key()


def _setup_form() -> dict[str, object]:
    return {
        "provider": {
            "provider": {
                "type": "static_select",
                "selected_option": {"value": second_family.ACCOUNT.name},
            }
        },
        "api_key": {"api_key": {"type": "plain_text_input", "value": second_family.KEY}},
    }


async def test_a_team_starts_on_its_second_family_and_the_watcher_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry gains a family the way a new folder under bot/providers/ adds one.
    monkeypatch.setitem(registry.FAMILIES, second_family.NAME, second_family.FAMILY)
    second_family.made.clear()
    async with (
        FakeSlack() as slack,
        FakeOpenAI(api_key=DEPLOYMENT_KEY) as openai,
        aiohttp.ClientSession() as http,
        AsyncExitStack() as stack,
    ):
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="openai",
            openai_api_key=DEPLOYMENT_KEY,
            openai_base_url=openai.base_url,
            encryption_keys=ENCRYPTION_KEY,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            endpoint_allowlist="127.0.0.1",
            sweep_seconds=0.2,
            dispatch_seconds=0.2,
            running_poll_seconds=0.2,
            queued_poll_seconds=0.2,
        )
        bot = await start_bot(settings, stack)
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"

        async def post(body: str) -> str:
            async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                assert r.status == 200
                return await r.text()

        def told(needle: str) -> bool:
            texts = [str(r.get("text", "")) for r in slack.responses]
            texts += [
                str(c.args.get("text", ""))
                for m in ("chat.postMessage", "chat.postEphemeral")
                for c in slack.of(m)
            ]
            return any(needle in t for t in texts)

        await post(view_submission_body(_setup_form(), callback_id="ftbot_setup"))
        await slack.wait_for(lambda: told("its own Second family (test) account"), what="setup")
        await post(command_body("setup default=openai", response_url=slack.response_url()))
        await slack.wait_for(lambda: told("New jobs in this team go to openai"), what="default")

        data = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()
        slack.share_file(name="train.jsonl", content=data, user="U1", channel="C1")
        await post(
            command_body("upload alias=b provider=second", response_url=slack.response_url())
        )
        await slack.wait_for(lambda: told("Uploaded train.jsonl"), what="the upload")
        await post(
            command_body(
                f"start file=b model={MODEL} provider=second epochs=1",
                response_url=slack.response_url(),
            )
        )
        await slack.wait_for(lambda: told("Started ftjob-"), what="the start")
        [job] = await bot.runtime.store.list_jobs("slack:T1")
        assert (job.provider, job.account) == (second_family.NAME, ACCOUNT_TEAM)
        [second] = second_family.made
        assert second.calls["create_job"] == 1
        assert openai.jobs == {}  # nothing reached the deployment's family

        def keys() -> list[str]:
            return [
                str(c.args["metadata"]["event_payload"]["dedupe_key"])
                for c in slack.of("chat.postMessage")
                if c.args.get("metadata")
            ]

        await slack.wait_for(
            lambda: any(k.startswith(f"{job.id}:status:succeeded") for k in keys()),
            within=60,
            what="the completion, watched at the second family",
        )
        assert second.calls["get_job"] + second.calls["list_jobs"] > 0
        [model] = await bot.runtime.store.list_models("slack:T1")
        assert model.provider == second_family.NAME

        # The start modal's model list follows the family picked in it.
        async def offered(family: str) -> list[str]:
            body = suggestion_body("ftbot_models", "", picked={"provider": family})
            return [o["value"] for o in json.loads(await post(body))["options"]]

        assert model.name in await offered(second_family.NAME)
        assert model.name not in await offered("openai")
