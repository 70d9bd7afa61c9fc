"""A platform supervised: the real Slack adapter in Socket Mode against the fake Slack refuses
its app token, is retried with one line per attempt, then connects once the token is good."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app.config import Settings
from bot.app.supervisor import Supervisor
from bot.chat.base import AdapterContext
from bot.chat.slack.adapter import SlackAdapter
from bot.infra.metrics import Metrics
from storage.store import SqlStore
from tests.fakes.slack_api import FakeSlack
from tests.world import world


async def test_a_refused_token_is_one_line_per_attempt_until_it_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlack() as slack, world(tmp_path) as w:
        slack.rejected_tokens.add("xapp-1-A1-1-abc")
        assert isinstance(w.store, SqlStore)  # tests/bot run on SQLite: Bolt stores in it
        settings = Settings(
            slack_bot_token=SecretStr("xoxb-test"),
            slack_app_token=SecretStr("xapp-1-A1-1-abc"),
            slack_api_base_url=slack.base_url,
            provider="sandbox",
        )
        context = AdapterContext(
            service=w.service,
            store=w.store,
            watch_store=w.store,
            clock=w.clock,
            settings=settings,
            metrics=Metrics(),
            database_engine=w.store.engine,
        )
        supervisor = Supervisor(
            SlackAdapter(context), first_retry=0.01, max_retry=0.02, rejected_retry=0.01
        )
        with caplog.at_level(logging.INFO):
            supervisor.start()
            try:
                await supervisor.first_attempt(within=10)
                ok, detail = await supervisor.ready()
                assert not ok
                assert detail.startswith("SLACK_APP_TOKEN was rejected by Slack (invalid_auth)")
                await slack.wait_for(
                    lambda: len(slack.of("apps.connections.open")) >= 3, what="two retries"
                )
                slack.rejected_tokens.clear()  # the operator fixed the token
                await slack.wait_for(lambda: bool(slack._sockets), what="the socket")
                for _ in range(500):
                    if (await supervisor.ready())[0]:
                        break
                    await asyncio.sleep(0.02)  # polled like FakeSlack.wait_for
                assert await supervisor.ready() == (True, "")
            finally:
                await supervisor.stop()
    refused = [r for r in caplog.records if "SLACK_APP_TOKEN was rejected" in r.getMessage()]
    assert len(refused) >= 2, "one line per failed attempt"
    assert all(r.levelno == logging.ERROR for r in refused)
    assert not any(r.exc_info or r.exc_text for r in caplog.records)
    assert any("connected after" in r.getMessage() for r in caplog.records)
