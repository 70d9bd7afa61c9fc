"""The Slack setup form is no request-forgery tool: through the real Bolt app with signed
requests, every refused endpoint (scheme, address, port, TLS, key, user-info, query) gets the
one same reply, nothing is stored or sent, and a secret in the URL is never logged."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from handlers.governance import SETUP_REFUSED
from storage import crypto
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, signed_headers, view_submission_body

pytestmark = pytest.mark.e2e
TEAM_KEY = "sk-proj-TeamOwnKey" + "m3Kx" * 10
DEPLOYMENT_KEY = "sk-deploymentKeyThatTheProviderRefuses0000"
URL_SECRET = "hunter2InTheUrl"


@dataclass
class Setup:
    slack: FakeSlack
    openai: FakeOpenAI
    bot: RunningBot
    http: aiohttp.ClientSession

    async def submit(self, endpoint: str, *, key: str = TEAM_KEY) -> str:
        """Submit the setup modal as admin U1 and return the one private reply it gets."""
        form = {
            "provider": {
                "provider": {"type": "static_select", "selected_option": {"value": "compatible"}}
            },
            "api_key": {"api_key": {"type": "plain_text_input", "value": key}},
            "endpoint": {"endpoint": {"type": "plain_text_input", "value": endpoint}},
            "api_version": {"api_version": {"type": "plain_text_input", "value": None}},
        }
        body = view_submission_body(form, callback_id="ftbot_setup")
        seen = len(self.slack.of("chat.postEphemeral"))
        url = f"http://127.0.0.1:{self.bot.web.port}/slack/events"
        async with self.http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
            assert r.status == 200
            # No inline error: an inline answer for some URLs only would tell them apart.
            assert "response_action" not in await r.text()
        await self.slack.wait_for(
            lambda: len(self.slack.of("chat.postEphemeral")) > seen, what=endpoint
        )
        return str(self.slack.of("chat.postEphemeral")[seen].args["text"])


@pytest.fixture
def allowlist(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", ""))


@pytest.fixture
async def setup(tmp_path: Path, allowlist: str) -> AsyncIterator[Setup]:
    async with (
        FakeSlack() as slack,
        FakeOpenAI(api_key=TEAM_KEY) as openai,
        FakeOpenAI() as deployment,  # the deployment's own account, apart from the team's
        aiohttp.ClientSession() as http,
        AsyncExitStack() as stack,
    ):
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="openai",
            openai_api_key=DEPLOYMENT_KEY,
            openai_base_url=deployment.base_url,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            encryption_keys=crypto.generate_key(),
            endpoint_allowlist=allowlist,
        )
        bot = await start_bot(settings, stack)
        yield Setup(slack=slack, openai=openai, bot=bot, http=http)
    crypto.use_keys(None)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_never_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    assert caplog.records
    for record in caplog.records:
        shown = " ".join((record.getMessage(), str(record.exc_text or ""), repr(record.__dict__)))
        for secret in secrets:
            assert secret not in shown, record


async def test_every_refused_endpoint_gets_the_same_reply_and_nothing_is_sent(
    setup: Setup, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    port = setup.openai.port
    refused = [
        "http://8.8.8.8/v1",  # plain http: the key would travel in clear
        f"http://127.0.0.1:{port}/v1",
        f"https://127.0.0.1:{port}/v1",  # loopback, a port that is open...
        f"https://127.0.0.1:{_closed_port()}/v1",  # ...and one that is closed
        f"https://[::1]:{port}/v1",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://10.0.0.1/v1",
        f"https://localhost:{port}/v1",  # a name that resolves to loopback
        f"https://8.8.8.8/v1?token={URL_SECRET}",
        f"https://admin:{URL_SECRET}@8.8.8.8/v1",
        f"https://8.8.8.8/v1#{URL_SECRET}",
    ]
    replies = [await setup.submit(endpoint) for endpoint in refused]

    assert len(setup.slack.of("chat.postEphemeral")) == len(refused)  # one reply each
    assert len(set(replies)) == 1, replies
    assert SETUP_REFUSED in replies[0]
    assert await setup.bot.runtime.store.get_credentials("slack:T1") is None
    assert setup.openai.requests == []  # the key never left for any of them
    _assert_never_logged(caplog, URL_SECRET, TEAM_KEY)
    # Not in the audit trail either, nor anywhere else in the database.
    database = b"".join(
        await asyncio.to_thread(lambda: [p.read_bytes() for p in tmp_path.glob("bot.db*")])
    )
    assert URL_SECRET.encode() not in database
    assert b"endpoint=https://8.8.8.8/v1" in database  # the audit keeps the safe part


@pytest.mark.parametrize("allowlist", ["127.0.0.1"], indirect=True)
async def test_an_allow_listed_server_works_and_its_failures_look_alike(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = setup.openai.port
    failures = [
        (f"https://127.0.0.1:{port}/v1", TEAM_KEY),  # TLS to a plain-http server
        (f"http://127.0.0.1:{_closed_port()}/v1", TEAM_KEY),  # connection refused
        (f"http://127.0.0.1:{port}/v1", "sk-proj-" + "W" * 40),  # the server says 401
        (f"http://[::1]:{port}/v1", TEAM_KEY),  # ::1 is not on the list
    ]
    replies = [await setup.submit(endpoint, key=key) for endpoint, key in failures]
    assert len(set(replies)) == 1, replies
    assert SETUP_REFUSED in replies[0]
    assert await setup.bot.runtime.store.get_credentials("slack:T1") is None

    saved = await setup.submit(f"http://127.0.0.1:{port}/v1")
    assert "now uses its own OpenAI-compatible account" in saved
    stored = await setup.bot.runtime.store.get_credentials("slack:T1")
    assert stored is not None
    assert stored.endpoint == f"http://127.0.0.1:{port}/v1"
    assert setup.openai.requests  # the check reached the allow-listed server
    _assert_never_logged(caplog, TEAM_KEY)
