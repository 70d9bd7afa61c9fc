"""A team's own key, end to end: the Slack setup modal, the real OpenAI SDK against the fake
OpenAI server, the key unreadable in the database file and absent from every log record."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import start_bot
from handlers.errors import ConfigError
from handlers.governance import SETUP_REFUSED
from storage import crypto
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    command_body,
    signed_headers,
    suggestion_body,
    view_submission_body,
)

pytestmark = pytest.mark.e2e
TEAM_KEY = "sk-proj-TeamOwnKey" + "q8Zr" * 10
DEPLOYMENT_KEY = "sk-deploymentKeyThatTheProviderRefuses0000"
ENCRYPTION_KEY = crypto.generate_key()


def _form(provider: str, key: str, endpoint: str) -> dict[str, object]:
    return {
        "provider": {
            "provider": {"type": "static_select", "selected_option": {"value": provider}}
        },
        "api_key": {"api_key": {"type": "plain_text_input", "value": key}},
        "endpoint": {"endpoint": {"type": "plain_text_input", "value": endpoint}},
        "api_version": {"api_version": {"type": "plain_text_input", "value": None}},
    }


def _settings(tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, **extra: object) -> object:
    return load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="openai",
        openai_api_key=DEPLOYMENT_KEY,
        openai_base_url=openai.base_url,
        slack_mode="http",
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=slack.base_url,
        http_host="127.0.0.1",
        http_port=0,
        endpoint_allowlist="127.0.0.1",  # the fake OpenAI server listens on loopback
        **extra,
    )


async def test_a_key_set_in_the_modal_is_used_encrypted_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        FakeSlack() as slack,
        FakeOpenAI(api_key=TEAM_KEY) as openai,
        aiohttp.ClientSession() as http,
    ):
        openai.add_model("gpt-4.1-mini-2025-04-14", owned_by="system")
        settings = _settings(tmp_path, slack, openai, encryption_keys=ENCRYPTION_KEY)
        async with AsyncExitStack() as stack:
            bot = await start_bot(settings, stack)  # type: ignore[arg-type]
            url = f"http://127.0.0.1:{bot.web.port}/slack/events"

            async def post(body: str) -> str:
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200
                    return await r.text()

            # A key typed as command text is refused without being repeated.
            await post(
                command_body(f"start file=a model={TEAM_KEY}", response_url=slack.response_url())
            )
            await slack.wait_for(lambda: bool(slack.responses), what="the refusal")
            assert "looks like an API key" in str(slack.responses[0]["text"])
            assert TEAM_KEY not in str(slack.responses)

            # A member who is no admin cannot open the form.
            await post(command_body("setup", user="U9", response_url=slack.response_url()))
            await slack.wait_for(lambda: len(slack.responses) >= 2, what="the denial")
            assert "needs the admin role" in str(slack.responses[1]["text"])
            assert not slack.of("views.open")

            await post(command_body("setup", response_url=slack.response_url()))
            await slack.wait_for(lambda: bool(slack.of("views.open")), what="the setup modal")
            assert slack.of("views.open")[0].args["view"]["callback_id"] == "ftbot_setup"

            # The wrong shape is refused inline, quoting none of it.
            text = await post(
                view_submission_body(
                    _form("openai", "not-a-key-" + "x" * 20, ""), callback_id="ftbot_setup"
                )
            )
            assert '"response_action":"errors"' in text.replace(" ", "")
            assert "not-a-key" not in text
            # A key the provider refuses is not stored.
            wrong = "sk-proj-" + "W" * 40
            await post(
                view_submission_body(
                    _form("compatible", wrong, openai.base_url), callback_id="ftbot_setup"
                )
            )
            await slack.wait_for(lambda: bool(slack.of("chat.postEphemeral")), what="refusal")
            assert SETUP_REFUSED in slack.of("chat.postEphemeral")[0].args["text"]
            assert await bot.runtime.store.get_credentials("slack:T1") is None

            await post(
                view_submission_body(
                    _form("compatible", TEAM_KEY, openai.base_url), callback_id="ftbot_setup"
                )
            )
            await slack.wait_for(
                lambda: len(slack.of("chat.postEphemeral")) >= 2, what="the confirmation"
            )
            saved = slack.of("chat.postEphemeral")[1].args["text"]
            assert "now uses its own OpenAI-compatible account" in saved
            assert TEAM_KEY not in saved

            # The team's commands now reach the provider with the team's key...
            options = await post(suggestion_body("ftbot_models", "mini"))
            assert "gpt-4.1-mini-2025-04-14" in options
            # ...while another workspace still uses the deployment's key, which is refused.
            other = await post(suggestion_body("ftbot_models", "mini", team="T2", user="U2"))
            assert "gpt-4.1-mini" not in other

        database = b"".join(
            await asyncio.to_thread(lambda: [p.read_bytes() for p in tmp_path.glob("bot.db*")])
        )
        assert TEAM_KEY.encode() not in database
        assert b"gAAAA" in database  # the Fernet token is what is stored
        assert slack.calls  # sanity: the run talked to Slack
        assert TEAM_KEY not in str([c.args for c in slack.calls])
        assert caplog.records
        for record in caplog.records:
            shown = " ".join(
                (record.getMessage(), str(record.exc_text or ""), repr(record.__dict__))
            )
            assert TEAM_KEY not in shown, record
            assert DEPLOYMENT_KEY not in shown, record

        # Team keys are stored: the bot refuses to start without the encryption key.
        crypto.use_keys(None)
        with pytest.raises(ConfigError, match="FINETUNE_BOT_ENCRYPTION_KEYS is not set"):
            async with AsyncExitStack() as stack:
                await start_bot(_settings(tmp_path, slack, openai), stack)  # type: ignore[arg-type]
    crypto.use_keys(None)
