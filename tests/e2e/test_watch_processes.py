"""The watcher as real processes: `finetune-bot run` killed with SIGKILL and restarted, and four
replicas sharing one database; Slack in HTTP mode against the fake Slack Web API.

Every job runs in a channel of its own (Slack pacing is one post per second per channel), so
notices of different jobs are posted in parallel. A post is counted by the dedupe key the
Slack notifier attaches to the message's metadata.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.model import Actor, Platform
from handlers.parse import parse
from handlers.replies import plain
from handlers.scope import SharedProviderDirectory
from handlers.service import Service
from handlers.watch import card_key
from storage.store import SqlStore
from tests.backends import postgres_url
from tests.dbutil import open_store
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET
from tests.world import FakeCharts, as_shared, write_dataset

pytestmark = pytest.mark.e2e

MODEL = "gpt-4.1-mini-2025-04-14"
WORKSPACE = "T1"
FAST = SandboxTiming(validating_s=1.0, queued_s=1.0, step_s=0.4, max_steps=8, eval_every=4)
"""Each job lives about 5 s at the sandbox; the timing travels with the job's record."""


@dataclass
class Seeded:
    job_ids: list[str]
    channels: dict[str, str]
    """job id -> the channel it was started in"""


def _actor(channel: str) -> Actor:
    return Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, channel_id=channel, user_id="U1")


async def _seed(store: SqlStore, provider: SandboxProvider, tmp_path: Path, n: int) -> Seeded:
    clock = SystemClock()
    service = Service(
        store=store,
        watch_store=store,
        providers=SharedProviderDirectory(provider),
        clock=clock,
        charts=FakeCharts(),
    )
    path = write_dataset(tmp_path / "train.jsonl", n=16)
    reply = await service.handle(as_shared(parse(f"upload {path} alias=train")), _actor("C0"))
    assert plain(reply.title).startswith("Uploaded"), reply
    channels: dict[str, str] = {}
    for i in range(n):
        channel = f"C{i:03d}"
        reply = await service.handle_text(
            f"start file=train model={MODEL} epochs=2", _actor(channel)
        )
        assert plain(reply.title).startswith("Started"), reply
        channels[plain(reply.title).removeprefix("Started ")] = channel
    return Seeded(job_ids=list(channels), channels=channels)


def _env(db_url: str, slack: FakeSlack, state: Path, *, lease: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINETUNE_BOT_", "SLACK_"))}
    env.update(
        DATABASE_URL=db_url,
        FINETUNE_BOT_PROVIDER="sandbox",
        FINETUNE_BOT_SANDBOX_STATE=str(state),
        FINETUNE_BOT_HTTP_HOST="127.0.0.1",
        FINETUNE_BOT_HTTP_PORT="0",
        FINETUNE_BOT_LOG_LEVEL="WARNING",
        FINETUNE_BOT_SWEEP_SECONDS="0.3",
        FINETUNE_BOT_DISPATCH_SECONDS="0.2",
        FINETUNE_BOT_RUNNING_POLL_SECONDS="0.5",
        FINETUNE_BOT_QUEUED_POLL_SECONDS="0.5",
        FINETUNE_BOT_LEASE_SECONDS=str(lease),
        SLACK_MODE="http",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.base_url,
    )
    return env


def token_of(process: int) -> str:
    return f"xoxb-test-{process}"


class Bots:
    """Bot processes; every one still running is killed when the block ends."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self.procs: list[asyncio.subprocess.Process] = []
        self.started = 0

    async def start(self) -> asyncio.subprocess.Process:
        """The next process; its Slack token names it (`token_of`), so each post has a poster."""
        self.started += 1
        log = (self._logs / f"bot-{self.started}.log").open("wb")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self._env | {"SLACK_BOT_TOKEN": token_of(self.started)},
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        self.procs.append(proc)
        return proc

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=10)

    async def kill_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            await asyncio.wait_for(proc.wait(), timeout=10)

    def tail(self) -> str:
        parts = []
        for path in sorted(self._logs.glob("bot-*.log")):
            text = path.read_text(errors="replace").strip()
            if text:
                parts.append(f"--- {path.name}\n{text[-1500:]}")
        return "\n".join(parts)


@asynccontextmanager
async def bots(env: dict[str, str], logs: Path) -> AsyncIterator[Bots]:
    group = Bots(env, logs)
    try:
        yield group
    finally:
        await group.kill_all()


async def _all_told(store: SqlStore, seeded: Seeded) -> bool:
    for job_id in seeded.job_ids:
        job = await store.find_job_anywhere(job_id)
        if job is None or not job.state.terminal:
            return False
    depth, _ = await store.outbox_stats(now=SystemClock().now())
    return depth == 0


async def _wait_until_told(store: SqlStore, seeded: Seeded, group: Bots, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await _all_told(store, seeded):
        if loop.time() > deadline:
            raise AssertionError("notices still missing at the deadline\n" + group.tail())
        await asyncio.sleep(0.5)


@dataclass
class Tally:
    posts: Counter[tuple[str, str]]
    lost: list[tuple[str, str]]
    duplicates: int
    duplicated: list[tuple[str, str]]
    repeated_by_kill: Counter[tuple[int, str]]
    """(process, channel) -> notices that process posted and a later process posted again"""
    repeated_by_poster: list[tuple[int, str, str]]
    """(process, channel, notice) posted twice by one process: no kill in between"""


def _repeats(slack: FakeSlack) -> tuple[Counter[tuple[int, str]], list[tuple[int, str, str]]]:
    """Every repeated new message, by the process that made the first post.

    A notice is its dedupe key, except that a job has one card message, whatever state the
    card shows: a second card message for a job is a repeat too (later states are edits).
    """
    by_kill: Counter[tuple[int, str]] = Counter()
    by_poster: list[tuple[int, str, str]] = []
    last_poster: dict[tuple[str, str], int] = {}
    for call in slack.of("chat.postMessage"):
        process = int(str(call.token).removeprefix("xoxb-test-"))
        channel = str(call.args["channel"])
        key = str(call.args["metadata"]["event_payload"]["dedupe_key"])
        notice = key.split(":card:")[0] + ":card" if ":card:" in key else key
        before = last_poster.get((channel, notice))
        if before == process:
            by_poster.append((process, channel, notice))
        elif before is not None:
            by_kill[(before, channel)] += 1
        last_poster[(channel, notice)] = process
    return by_kill, by_poster


async def _tally(slack: FakeSlack, provider: SandboxProvider, seeded: Seeded) -> Tally:
    posts: Counter[tuple[str, str]] = Counter()
    for call in slack.of("chat.postMessage"):
        metadata = call.args.get("metadata") or {}
        key = metadata.get("event_payload", {}).get("dedupe_key")
        assert key, f"a notice without its dedupe key: {call.args}"
        posts[(str(call.args["channel"]), str(key))] += 1
    expected: list[tuple[str, str]] = []
    for job_id, channel in seeded.channels.items():
        state = await provider.get_job(job_id)
        assert state.status == "succeeded"
        target = f"slack:{WORKSPACE}:{channel}"
        expected.append((channel, f"{job_id}:status:succeeded:{target}"))
        for event in await provider.list_events_after(job_id, None):
            if not event.is_metrics and event.message:
                expected.append((channel, f"{job_id}:event:{event.id}"))
    lost = [pair for pair in expected if posts[pair] == 0]
    # One card message per job: later states are edits (chat.update), never new posts.
    cards = Counter(
        (channel, key.split(":card:")[0])
        for (channel, key), n in posts.items()
        for _ in range(n)
        if ":card:" in key
    )
    for job_id, channel in seeded.channels.items():
        if cards[(channel, job_id)] == 0:
            lost.append((channel, card_key(job_id)))
    duplicated = [pair for pair, n in posts.items() if n > 1]
    card_extra = sum(n - 1 for n in cards.values() if n > 1)
    duplicates = sum(n - 1 for n in posts.values() if n > 1) + card_extra
    by_kill, by_poster = _repeats(slack)
    return Tally(
        posts=posts,
        lost=lost,
        duplicates=duplicates,
        duplicated=duplicated,
        repeated_by_kill=by_kill,
        repeated_by_poster=by_poster,
    )


async def test_sigkill_at_random_points_loses_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs, kills = 12, 8
    state = tmp_path / "sandbox.json"
    provider = SandboxProvider(SystemClock(), state_path=state, timing=FAST)
    rng = random.Random(20260501)
    async with open_store(db_url, clear=True) as store, FakeSlack() as slack:
        seeded = await _seed(store, provider, tmp_path, jobs)
        env = _env(db_url, slack, state, lease=3.0)
        async with bots(env, tmp_path) as group:
            for _ in range(kills):
                proc = await group.start()
                # Start-up takes about two seconds here: some kills land in it, most in
                # sweeps and dispatches.
                await asyncio.sleep(rng.uniform(1.0, 3.5))
                await group.kill(proc)
            await group.start()
            await _wait_until_told(store, seeded, group, within=90)
        tally = await _tally(slack, provider, seeded)
    with capsys.disabled():
        print(
            f"\ncrash test ({db_url.split(':')[0]}): {jobs} jobs, {kills} SIGKILLs, "
            f"{sum(tally.posts.values())} posts, lost={len(tally.lost)}, "
            f"duplicates={tally.duplicates} (crash-after-post window) {tally.duplicated[:5]}"
        )
    assert tally.lost == []
    # A post in flight at a kill is found in the channel's history (its metadata carries the
    # dedupe key and the card) and adopted by the next process, never posted again.
    assert tally.duplicates == 0, (tally.duplicated, tally.repeated_by_kill)
    assert tally.repeated_by_poster == []


@pytest.mark.postgres
@pytest.mark.skipif(
    postgres_url() is None, reason="needs TEST_DATABASE_URL (the PostgreSQL pass of .ci/run)"
)
async def test_four_replicas_share_the_jobs_without_duplicates(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Four processes on the PostgreSQL server (SKIP LOCKED claims, fenced commits)."""
    db_url: str = request.getfixturevalue("postgres_database")
    jobs = 16
    state = tmp_path / "sandbox.json"
    provider = SandboxProvider(SystemClock(), state_path=state, timing=FAST)
    async with open_store(db_url, clear=True) as store, FakeSlack() as slack:
        seeded = await _seed(store, provider, tmp_path, jobs)
        env = _env(db_url, slack, state, lease=30.0)
        async with bots(env, tmp_path) as group:
            for _ in range(4):
                await group.start()
            await _wait_until_told(store, seeded, group, within=90)
            assert all(p.returncode is None for p in group.procs), group.tail()
        tally = await _tally(slack, provider, seeded)
    with capsys.disabled():
        print(
            f"\nreplica test ({db_url.split(':')[0]}): 4 processes, {jobs} jobs, "
            f"{sum(tally.posts.values())} posts, lost={len(tally.lost)}, "
            f"duplicates={tally.duplicates}"
        )
    assert tally.lost == []
    assert tally.duplicates == 0, tally.duplicated
