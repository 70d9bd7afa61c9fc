"""Slack installs by OAuth: the install page, the redirect, tokens per workspace from the
installation store on the bot's database, and clean-up when the app is uninstalled."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from bot.chat.slack.adapter import SlackAdapter
from bot.chat.slack.oauth import NotInstalledError
from storage.engine import create_engine, migrate
from tests.dbutil import clear_tables
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, event_body, signed_headers
from tests.world import chat_example

pytestmark = [
    pytest.mark.e2e,
    # slack_sdk 3.47 authenticates oauth.v2.access with aiohttp's BasicAuth, which aiohttp
    # 3.14 deprecates; the warning is theirs, the call still works.
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
]


async def _fresh_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        await clear_tables(engine)
        async with engine.begin() as conn:
            for table in ("slack_bots", "slack_installations", "slack_oauth_states"):
                await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        await engine.dispose()


async def _start(slack: FakeSlack, db_url: str, stack: AsyncExitStack) -> RunningBot:
    settings = load_settings(
        database_url=db_url,
        provider="sandbox",
        sandbox_speed=40.0,
        slack_mode="http",
        slack_client_id="111.222",
        slack_client_secret="client-secret",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=slack.base_url,
        http_host="127.0.0.1",
        http_port=0,
        sweep_seconds=0.2,
        dispatch_seconds=0.1,
        running_poll_seconds=0.3,
        queued_poll_seconds=0.3,
    )
    return await start_bot(settings, stack)


@pytest.fixture
async def running(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, RunningBot]]:
    await _fresh_database(db_url)
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        yield slack, await _start(slack, db_url, stack)


async def _install(http: aiohttp.ClientSession, base: str, team: str) -> None:
    async with http.get(f"{base}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
    match = re.search(r"state=([A-Za-z0-9_\-.]+)", html)
    assert match, html[:500]
    state = match.group(1)
    async with http.get(
        f"{base}/slack/oauth_redirect",
        params={"code": f"code-{team}", "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    ) as done:
        assert done.status == 200, await done.text()


async def test_install_then_use_then_uninstall(running: tuple[FakeSlack, RunningBot]) -> None:
    slack, bot = running
    base = f"http://127.0.0.1:{bot.web.port}"
    adapter = next(a for a in bot.adapters if isinstance(a, SlackAdapter))
    async with aiohttp.ClientSession() as http:
        await _install(http, base, "T9")
        assert slack.of("oauth.v2.access")
        assert await adapter.token_for("T9") == "xoxb-T9-installed"
        with pytest.raises(NotInstalledError):
            await adapter.token_for("T8")

        file = slack.share_file(
            name="t.jsonl",
            user="U1",
            channel="C9",
            content=("\n".join(chat_example(i) for i in range(12)) + "\n").encode(),
        )
        for text in ("upload alias=t", "start file=t model=gpt-4.1-mini-2025-04-14 epochs=1"):
            body = command_body(
                text, team="T9", channel="C9", user="U1", response_url=slack.response_url()
            )
            async with http.post(
                f"{base}/slack/events", data=body.encode(), headers=signed_headers(body)
            ) as response:
                assert response.status == 200
            if text.startswith("upload"):
                await slack.wait_for(
                    lambda: any(
                        c.args.get("thread_ts") == file.share_ts
                        for c in slack.of("chat.postMessage")
                    ),
                    what="the upload report",
                )
        await slack.wait_for(
            lambda: any(
                "card" in str(c.args.get("metadata")) for c in slack.of("chat.postMessage")
            ),
            within=30,
            what="the job card",
        )
        card = next(
            c for c in slack.of("chat.postMessage") if "card" in str(c.args.get("metadata"))
        )
        assert card.token == "xoxb-T9-installed", "the watcher posts with the workspace's token"
        assert card.args["channel"] == "C9"

        body = event_body({"type": "app_uninstalled", "event_ts": "1.0"}, team="T9")
        async with http.post(
            f"{base}/slack/events",
            data=body.encode(),
            headers=signed_headers(body, content_type="application/json"),
        ) as r:
            assert r.status == 200
        for _ in range(100):
            try:
                await adapter.token_for("T9")
            except NotInstalledError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the installation was not removed")


async def _uninstall(http: aiohttp.ClientSession, base: str, team: str) -> None:
    body = event_body({"type": "app_uninstalled", "event_ts": "1.0"}, team=team)
    async with http.post(
        f"{base}/slack/events",
        data=body.encode(),
        headers=signed_headers(body, content_type="application/json"),
    ) as r:
        assert r.status == 200


async def test_a_stop_right_after_an_uninstall_finishes_the_uninstall(db_url: str) -> None:
    """The uninstall's deletes run as the bot's own work: a stop waits for them, so no
    installation row outlives the uninstall and no connection is left to the collector."""
    await _fresh_database(db_url)
    async with FakeSlack() as slack:
        async with AsyncExitStack() as stack:
            bot = await _start(slack, db_url, stack)
            base = f"http://127.0.0.1:{bot.web.port}"
            async with aiohttp.ClientSession() as http:
                await _install(http, base, "T7")
                await _uninstall(http, base, "T7")
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                left = {
                    table: (
                        await conn.execute(
                            text(f"SELECT COUNT(*) FROM {table} WHERE team_id = 'T7'")
                        )
                    ).scalar_one()
                    for table in ("slack_bots", "slack_installations")
                }
        finally:
            await engine.dispose()
    assert left == {"slack_bots": 0, "slack_installations": 0}
