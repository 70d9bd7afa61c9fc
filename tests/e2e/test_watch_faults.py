"""The watcher against the fake OpenAI server through the real SDK: 429 with Retry-After, 500s,
timeouts and connection resets; it backs off, tells the channel once, and catches up."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.wiring import build_core
from bot.providers.openai.provider import OpenAIProvider
from handlers.model import Job, Platform, Team
from handlers.scope import SharedProviderDirectory
from handlers.watch import WatchSettings
from tests.dbutil import open_store
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI, Fault, Route
from tests.world import FakeCharts, RecordingNotifier, actor

pytestmark = pytest.mark.e2e
TEAM = actor().team_id


async def test_faults_back_off_then_catch_up(tmp_path: Path) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        FakeOpenAI() as fake,
        open_store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", clock=clock) as store,
    ):
        provider = OpenAIProvider.openai("sk-test", fake.base_url, timeout=0.5, max_retries=0)
        directory = SharedProviderDirectory(provider)
        await store.ensure_team(Team(id=TEAM, platform=Platform.SLACK, workspace_id="T1"))
        ids = []
        for _ in range(3):
            raw = fake.add_job(status="running", metadata={"ftbot": "default", "ftbot_team": TEAM})
            fake.add_events(raw["id"], ["Fine-tuning job started"])
            state = await provider.get_job(raw["id"])
            await store.add_job(
                Job(team_id=TEAM, state=state, channel=actor().channel, requester_id="U1"),
                next_poll_at=clock.now(),
            )
            ids.append(raw["id"])
        notifier = RecordingNotifier()
        core = build_core(
            store=store,
            watch_store=store,
            providers=directory,
            clock=clock,
            charts=FakeCharts(),
            notifiers={Platform.SLACK: notifier},
            owner="w1",
            watch=WatchSettings(
                running_poll_seconds=5,
                running_poll_max_seconds=5,
                error_backoff_seconds=5,
                rate_limit_backoff_seconds=10,
                jitter=0.0,
            ),
            pace={Platform.SLACK: 0.0},
        )
        watcher, dispatcher = core.watcher, core.dispatcher
        errors: Counter[str] = Counter()

        async def sweep(seconds: float = 5) -> None:
            clock.advance(seconds)
            stats = await watcher.sweep()
            errors.update(stats.provider_errors)
            while (await dispatcher.tick()).sent:
                pass

        # 429 with Retry-After: the team waits at least that long, and is told once.
        fake.inject(Route.LIST_JOBS, Fault.rate_limit(retry_after=30), times=3)
        await sweep()
        assert errors["rate_limited"] == 1
        until = await store.team_backoff_until(TEAM)
        assert until is not None
        assert (until - clock.now()).total_seconds() >= 30
        calls = len(fake.requests)
        await sweep(10)
        assert len(fake.requests) == calls, "nothing is asked while the team backs off"
        for _ in range(4):
            await sweep(31)
        notices = [p for p in notifier.posts if ":backoff:" in p.dedupe_key]
        assert len(notices) == 1, "the channel is told once per episode, not every sweep"

        # 500s, a timeout and connection resets: the sweep survives and retries later.
        fake.inject(Route.LIST_JOBS, Fault.server_error(), times=2)
        fake.inject(Route.LIST_EVENTS, Fault.delay(2.0), times=1)
        fake.inject(Route.LIST_EVENTS, Fault.reset(), times=2)
        for _ in range(8):
            await sweep(31)
        assert fake.pending_faults() == 0
        assert errors["rate_limited"] >= 1
        assert sum(errors.values()) >= 6, errors
        assert {"timeout", "connection"} & set(errors), errors

        # Catching up: every job's end is told exactly once, and the backoff is over.
        for job_id in ids:
            fake.add_events(job_id, ["The job has successfully completed"])
            fake.set_status(job_id, "succeeded")
        for _ in range(3):
            await sweep(31)
        keys = Counter(notifier.dedupe_keys())
        for job_id in ids:
            assert keys[f"{job_id}:status:succeeded:{actor().channel.key}"] == 1
        assert await store.team_backoff_until(TEAM) is None
        assert await store.outbox_stats(now=clock.now()) == (0, 0.0)
        print(f"\nfault test: provider errors by kind {dict(errors)}")
        await provider.aclose()
