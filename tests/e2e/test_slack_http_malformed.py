"""Malformed requests to /slack/events on the real web server and the real Bolt app: each is
answered 400 or 401 with one warning line, never a 500 or a traceback; random bytes too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import load_settings
from bot.runtime import start_bot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body

pytestmark = pytest.mark.e2e
FORM = "application/x-www-form-urlencoded"


def sign(body: bytes, *, at: str | None = None, content_type: str = FORM) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (the helper in fakes signs text only)."""
    ts = at if at is not None else str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


@dataclass
class Bot:
    slack: FakeSlack
    url: str
    http: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        async with self.http.post(self.url, data=body, headers=headers) as response:
            await response.read()
            return response.status


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[Bot]:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        bot = await start_bot(
            load_settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                provider="sandbox",
                slack_mode="http",
                slack_bot_token="xoxb-test",
                slack_signing_secret=SIGNING_SECRET,
                slack_api_base_url=slack.base_url,
                http_host="127.0.0.1",
                http_port=0,
            ),
            stack,
        )
        async with aiohttp.ClientSession() as http:
            yield Bot(slack, f"http://127.0.0.1:{bot.web.port}/slack/events", http)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


MALFORMED: dict[str, tuple[bytes, dict[str, str] | None, int]] = {
    # name: body, headers (None: signed correctly), expected status
    "unsigned non-UTF-8 body": (b"\xff\xfe\x00text=\xc3(", {"Content-Type": FORM}, 401),
    "timestamp abc": (
        command_body("help").encode(),
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=0"},
        401,
    ),
    "unsigned broken JSON": (b"{not json", {"Content-Type": "application/json"}, 401),
    "non-ASCII signature": (
        b"token=x",
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=é"},
        401,
    ),
    "signed non-UTF-8 body": (b"text=\xff\xfe", None, 400),
    "signed broken JSON": (b'{"type": ', None, 400),
    "signed JSON 40,000 deep": (('{"a": ' + _deep(40_000) + "}").encode(), None, 400),
    "signed payload 40,000 deep": (urlencode({"payload": _deep(40_000)}).encode(), None, 400),
    "signed payload not an object": (urlencode({"payload": "[1, 2]"}).encode(), None, 400),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_requests_get_one_warning_and_no_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, headers, expected = MALFORMED[case]
    async with running(tmp_path) as bot:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            status = await bot.post(body, headers if headers is not None else sign(body))
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert status == expected
        assert [r.levelno for r in loud] == [logging.WARNING], [r.getMessage() for r in loud]
        assert "slack request refused" in loud[0].getMessage()
        assert not any(r.exc_info or r.exc_text for r in caplog.records)
        assert bot.slack.responses == [], "nothing ran"
        assert bot.slack.calls == [], "nothing ran"


async def test_a_well_formed_request_still_passes_the_gate(tmp_path: Path) -> None:
    async with running(tmp_path) as bot:
        body = command_body("help", response_url=bot.slack.response_url()).encode()
        assert await bot.post(body, sign(body)) == 200
        await bot.slack.wait_for(lambda: bool(bot.slack.responses), what="the help reply")


_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            st.text(max_size=200).map(str.encode),
            st.sampled_from(["{", "[", "payload=", "payload=%7B", "ssl_check=1"]).map(str.encode),
        )
    )
    content_type = draw(st.sampled_from([FORM, "application/json", "text/plain", ""]))
    if draw(st.booleans()):
        return body, sign(body, content_type=content_type)
    headers = {"Content-Type": content_type}
    for name in ("X-Slack-Request-Timestamp", "X-Slack-Signature"):
        value = draw(st.one_of(st.none(), _header_text, st.integers().map(str)))
        if value is not None:
            headers[name] = value
    return body, headers


def test_random_requests_never_get_a_500(tmp_path: Path) -> None:
    # Hypothesis drives a synchronous test; the bot runs on one loop across all examples.
    with asyncio.Runner() as runner:
        context = running(tmp_path)
        bot = runner.run(context.__aenter__())
        try:

            @settings(
                max_examples=150,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            )
            @given(requests())
            def probe(request: tuple[bytes, dict[str, str]]) -> None:
                body, headers = request
                status = runner.run(bot.post(body, headers))
                assert status < 500, (status, body[:80], headers)

            probe()
        finally:
            runner.run(context.__aexit__(None, None, None))
