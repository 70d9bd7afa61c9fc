"""Benchmark: the watcher's sweeps and the dispatcher over many watched jobs.

    python bench/watch.py [--quick] [--db sqlite|postgres] [--replicas N] [--rate-limited F]

10,000 watched jobs across 1,000 teams (quick: 1,000 across 100) on the sandbox provider, a
simulated clock stepping one sweep interval (5 s) at a time, the dispatcher ticking every second
of wall time beside each sweep (as in a running bot), and a recording notifier. Prints
sweep wall time, provider requests per sweep against the budget (one per team with due jobs plus
one per job whose events are fetched), database round trips per polled job (cursor executions
counted on the engine), peak RSS, and notification latency p50/p99 from an event's time to its
post: by polling, and by webhook (the job marked due at the event, then one sweep and dispatch).
`--db postgres` uses TEST_DATABASE_URL (a fresh database is created and dropped).
`--statements` also prints the most frequent statements of the sweeps and dispatches, per
polled job (where the round trips go).
`--replicas N` (PostgreSQL) forks N watcher processes after loading, each with its own engine
and its own copy of the sandbox; at every interval the coordinator sets their clocks and lets
all of them sweep and dispatch at once, and reports the same figures (no webhook part) plus how
the polls spread over the replicas and how many jobs two replicas polled in one interval.
`--rate-limited F` makes the accounts of a fraction F of the teams answer every job read with
429 (Retry-After 60 s) for the first 90 s of watching, and reports the other teams' latency
apart.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.app.wiring import build_core
from bot.infra.metrics import Metrics
from bot.infra.nudge import DispatchNudge
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import ChannelAddress, Job, JobEvent, JobSpec, JobState, Platform, Team
from handlers.ports import Provider, WatchClaim
from handlers.replies import Reply
from handlers.scope import SharedProviderDirectory
from handlers.watch import SweepStats, Watcher, WatchSettings
from storage.engine import create_engine, migrate
from storage.outbox import due_and_not_backed_off
from storage.store import SqlStore
from storage.tables import jobs
from tests.fakes.faulty_provider import FaultyProvider

SWEEP_SECONDS = 5.0
DISPATCH_SECONDS = 1.0
"""The dispatch tick's period in a running bot (FINETUNE_BOT_DISPATCH_SECONDS' default): the
bench's dispatcher ticks at it beside each sweep, as the bot's does."""
TIMING = SandboxTiming(validating_s=10, queued_s=20, step_s=5, max_steps=24, eval_every=8)


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 5, 1, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def __call__(self) -> datetime:
        return self.current


class NoCharts:
    def render(self, title: str, points: object) -> bytes:
        return b""


class CountingProvider(SandboxProvider):
    """The sandbox, remembering each event's time so a post's latency can be measured."""

    event_times: dict[str, datetime]

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        events = await super().list_events_after(job_id, cursor, limit=limit)
        for e in events:
            self.event_times.setdefault(f"{job_id}:event:{e.id}", e.created_at)
        return events


class Notifier:
    """Records the simulated time and the wall time of each post."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.posts: list[tuple[str, datetime, float]] = []

    async def post(
        self,
        target: ChannelAddress,
        reply: Reply,
        *,
        dedupe_key: str,
        edit_message_id: str | None = None,
        thread_message_id: str | None = None,
        card_key: str | None = None,
    ) -> str:
        self.posts.append((dedupe_key, self.clock.now(), time.perf_counter()))
        return edit_message_id or f"m{len(self.posts)}"


class RateLimited:
    """A team's account that answers every job read with 429; the rest is the real provider."""

    def __init__(self, inner: Provider, answered: Counter[str]) -> None:
        self._inner = inner
        self._answered = answered

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _refuse(self) -> ProviderError:
        self._answered["429"] += 1
        return ProviderError(ProviderErrorKind.RATE_LIMITED, "rate limited", retry_after=60)

    async def get_job(self, job_id: str) -> JobState:
        raise self._refuse()

    async def list_jobs(self, **_: Any) -> Sequence[JobState]:
        raise self._refuse()

    async def list_events_after(self, job_id: str, cursor: str | None, **_: Any) -> Any:
        raise self._refuse()


LIMITED_SECONDS = 90.0
"""How long the limited accounts answer 429 after the watching begins; then they recover."""


class LimitedDirectory:
    """The shared directory, with the accounts of the `limited` teams answering 429 until
    `until` (simulated time)."""

    def __init__(
        self,
        inner: SharedProviderDirectory,
        limited: frozenset[str],
        answered: Counter[str],
        *,
        clock: Clock,
        until: datetime,
    ) -> None:
        self._inner = inner
        self._limited = limited
        self.answered = answered
        self._clock = clock
        self._until = until

    async def for_team(self, team_id: str, family: str | None = None) -> Provider:
        provider = await self._inner.for_team(team_id, family)
        if team_id in self._limited and self._clock.now() < self._until:
            return cast(Provider, RateLimited(provider, self.answered))
        return provider

    async def available(self, team_id: str) -> Sequence[str]:
        return await self._inner.available(team_id)


def limited_teams(teams_n: int, share: float) -> frozenset[str]:
    """Every 1/share-th team, so the limited ones are spread over the load order."""
    if share <= 0:
        return frozenset()
    step = max(1, round(1 / share))
    return frozenset(f"slack:T{t}" for t in range(0, teams_n, step))


def bench_settings(claim_limit: int = 100_000) -> WatchSettings:
    # Every live job is due at every sweep (no jitter, no idle backoff), the setting under which
    # the latency target (one sweep interval plus a second) is defined;
    # FINETUNE_BOT_RUNNING_POLL_SECONDS and _QUEUED_POLL_SECONDS set it in a deployment.
    return WatchSettings(
        claim_limit=claim_limit,
        running_poll_seconds=SWEEP_SECONDS,
        running_poll_max_seconds=SWEEP_SECONDS,
        slow_poll_seconds=SWEEP_SECONDS,
        slow_poll_max_seconds=SWEEP_SECONDS,
        paused_poll_seconds=SWEEP_SECONDS,
        jitter=0.0,
    )


async def accounts_due(engine: AsyncEngine, now: datetime) -> int:
    """Accounts (team and family) with jobs due and not backed off: the sweep's request budget
    is one per account plus one per job whose events are fetched. One read-only statement on
    its own connection (not counted among the sweep's round trips)."""
    due = (
        select(jobs.c.team_id, jobs.c.provider)
        .where(*due_and_not_backed_off(now))
        .distinct()
        .subquery()
    )
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(due))).scalar_one())


async def sweep_and_dispatch(watcher: Watcher, dispatcher: Any) -> tuple[SweepStats, float]:
    """One sweep with the dispatcher ticking beside it every DISPATCH_SECONDS of wall time (a
    tick that overruns is followed by the next at once) and after each commit with news, as in
    a running bot, then ticks until the outbox is drained. Returns the sweep's figures and its
    wall seconds."""
    nudge = DispatchNudge(dispatcher, Metrics())
    watcher.on_news(nudge)
    started = time.perf_counter()
    sweeping = asyncio.ensure_future(watcher.sweep())
    ticks = 0
    while not sweeping.done():
        ticks += 1
        pause = started + ticks * DISPATCH_SECONDS - time.perf_counter()
        await asyncio.wait({sweeping}, timeout=max(0.0, pause))
        if not sweeping.done():
            await dispatcher.tick()
    stats = sweeping.result()
    sweep_wall = time.perf_counter() - started
    await nudge.stop()
    while (await dispatcher.tick()).sent:
        pass
    return stats, sweep_wall


def pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _admin(base_url: str, sql: str) -> None:
    engine = create_async_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def _shape(statement: str) -> str:
    """A statement's first words, numbered parameters folded: one line per kind of statement."""
    words = " ".join(statement.split())
    return re.sub(r"\$\d+|\?|__\[POSTCOMPILE_\w+\]", "?", words)[:110]


async def load_jobs(
    store: SqlStore,
    provider: CountingProvider,
    clock: Clock,
    teams_n: int,
    per_team: int,
    tmp: str,
) -> tuple[str, float]:
    """The teams and their jobs, started at the sandbox and watched; (file id, seconds)."""
    data = Path(tmp) / "train.jsonl"
    data.write_text(
        '{"messages": [{"role": "user", "content": "q"}, '
        '{"role": "assistant", "content": "a"}]}\n' * 10
    )
    uploaded = await provider.upload_file(data, filename="train.jsonl")
    loading = time.perf_counter()
    for t in range(teams_n):
        team = Team(id=f"slack:T{t}", platform=Platform.SLACK, workspace_id=f"T{t}")
        await store.ensure_team(team)
        for j in range(per_team):
            # Starts spread over two minutes, so sweeps see a steady mix of states.
            clock.current += timedelta(seconds=120 / (teams_n * per_team))
            state = await provider.create_job(
                JobSpec(
                    model="gpt-4.1-mini-2025-04-14",
                    training_file=uploaded.id,
                    metadata={"ftbot": "default", "ftbot_team": team.id},
                ),
                idempotency_key=f"{t}-{j}",
            )
            channel = ChannelAddress(
                platform=Platform.SLACK, workspace_id=team.workspace_id, channel_id=f"C{j}"
            )
            await store.add_job(
                Job(team_id=team.id, state=state, channel=channel, requester_id="U1"),
                next_poll_at=clock.now(),
            )
    return uploaded.id, time.perf_counter() - loading


async def main(quick: bool, db: str, statements: bool = False) -> None:
    teams_n, per_team = (100, 10) if quick else (1000, 10)
    tmp = tempfile.TemporaryDirectory()
    pg_name = None
    if db == "postgres":
        base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
        if not base:
            raise SystemExit("--db postgres needs TEST_DATABASE_URL")
        pg_name = f"ftbot_bench_{uuid.uuid4().hex[:8]}"
        await _admin(base, f'CREATE DATABASE "{pg_name}"')
        url = make_url(base).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    clock = Clock()
    engine = create_engine(url)
    try:
        await migrate(engine)
        trips = [0]
        measuring = [False]
        shapes: Counter[str] = Counter()

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            trips[0] += 1
            if measuring[0]:
                shapes[_shape(statement)] += 1

        store = SqlStore(engine, clock=clock)
        provider = CountingProvider(clock, timing=TIMING)
        provider.event_times = {}
        uploaded_id, load_s = await load_jobs(store, provider, clock, teams_n, per_team, tmp.name)
        notifier = Notifier(clock)
        counted = FaultyProvider(provider)  # counts the provider calls of each sweep
        directory = SharedProviderDirectory(counted)
        core = build_core(
            store=store,
            watch_store=store,
            providers=directory,
            clock=clock,
            charts=NoCharts(),
            notifiers={Platform.SLACK: notifier},
            owner="bench",
            pace={Platform.SLACK: 0.0},
            dispatch_batch=2000,
            watch=bench_settings(),
        )
        watcher, dispatcher = core.watcher, core.dispatcher
        sweep_walls: list[float] = []
        requests: list[int] = []
        budgets: list[int] = []
        trips_per_job: list[float] = []
        latencies: list[float] = []
        total = teams_n * per_team
        watching_since = clock.now()
        polled = 0
        for _ in range(10_000):
            calls_before = sum(counted.calls.values())
            events_before = counted.calls["list_events_after"]
            measuring[0] = False
            teams_due = await accounts_due(engine, clock.now())
            trips_before = trips[0]
            measuring[0] = True
            wall = time.perf_counter()
            posted_before = len(notifier.posts)
            stats, sweep_wall = await sweep_and_dispatch(watcher, dispatcher)
            measuring[0] = False
            claimed = stats.claimed
            polled += claimed
            if claimed:
                sweep_walls.append(sweep_wall)
                made = sum(counted.calls.values()) - calls_before
                fetched = counted.calls["list_events_after"] - events_before
                requests.append(made)
                budgets.append(teams_due + fetched)
                trips_per_job.append((trips[0] - trips_before) / claimed)
            for key, at, posted_wall in notifier.posts[posted_before:]:
                happened = provider.event_times.get(key)
                # Events from before the first sweep (while the jobs were being loaded) would
                # measure the loading, not the watcher.
                if happened is not None and happened >= watching_since:
                    simulated = (at - happened).total_seconds()
                    latencies.append(simulated + (posted_wall - wall))
            live = await store.watched_jobs_by_status()
            if not live:
                break
            clock.current += timedelta(seconds=SWEEP_SECONDS)

        # By webhook: jobs whose next poll is an hour away are marked due at the event's time.
        slow = Watcher(
            store=store,
            watch_store=store,
            providers=directory,
            clock=clock,
            charts=NoCharts(),
            owner="bench-webhook",
            settings=WatchSettings(
                claim_limit=100_000,
                running_poll_seconds=3600,
                running_poll_max_seconds=3600,
                slow_poll_seconds=3600,
                slow_poll_max_seconds=3600,
            ),
        )
        hooked: list[float] = []
        sample = 50 if quick else 200
        ends: list[str] = []
        for t in range(sample):
            team = Team(id=f"slack:W{t}", platform=Platform.SLACK, workspace_id=f"W{t}")
            await store.ensure_team(team)
            state = await provider.create_job(
                JobSpec(
                    model="gpt-4.1-mini-2025-04-14",
                    training_file=uploaded_id,
                    metadata={"ftbot": "default", "ftbot_team": team.id},
                ),
                idempotency_key=f"webhook-{t}",
            )
            ends.append(state.id)
            channel = ChannelAddress(
                platform=Platform.SLACK, workspace_id=team.workspace_id, channel_id="C0"
            )
            await store.add_job(
                Job(team_id=team.id, state=state, channel=channel, requester_id="U1"),
                next_poll_at=clock.now(),
            )
        await slow.sweep()
        while (await dispatcher.tick()).sent:
            pass
        finish = clock.now() + timedelta(seconds=10 + 20 + 24 * 5 + 1)
        clock.current = finish  # every webhook job has succeeded at the provider by now
        for job_id in ends:
            wall = time.perf_counter()
            await store.mark_job_due(job_id, now=clock.now())  # what the webhook does
            before = len(notifier.posts)
            await slow.sweep()
            while (await dispatcher.tick()).sent:
                pass
            for key, _, posted_wall in notifier.posts[before:]:
                if ":status:succeeded:" in key:
                    hooked.append(posted_wall - wall)

        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sweeps = len(sweep_walls)
        over = sum(1 for r, b in zip(requests, budgets, strict=True) if r > b)
        print(f"database: {db}; jobs: {total} across {teams_n} teams; loading took {load_s:.1f} s")
        print(
            f"sweeps with work: {sweeps}; sweep wall time p50 {pct(sweep_walls, 0.5):.3f} s, "
            f"max {max(sweep_walls):.3f} s"
        )
        print(
            f"provider requests per sweep: mean {statistics.mean(requests):.0f}, max "
            f"{max(requests)}; budget (teams due + jobs whose events were fetched) "
            f"exceeded in {over} sweep(s)"
        )
        print(f"database round trips per polled job: mean {statistics.mean(trips_per_job):.2f}")
        if statements:
            print("statements per polled job (sweeps and dispatches):")
            for shape, count in shapes.most_common(15):
                print(f"  {count / max(polled, 1):6.2f}  {shape}")
        print(f"peak RSS: {rss_mb:.0f} MB")
        print(
            f"notification latency by polling (event time -> post): p50 "
            f"{pct(latencies, 0.5):.2f} s, p99 {pct(latencies, 0.99):.2f} s "
            f"({len(latencies)} event posts; every live job polled at every sweep)"
        )
        print(
            f"notification latency by webhook (delivery -> completion post): p50 "
            f"{pct(hooked, 0.5) * 1000:.1f} ms, p99 {pct(hooked, 0.99) * 1000:.1f} ms "
            f"({len(hooked)} jobs)"
        )
        print(
            f"db={db} jobs={total} teams={teams_n} sweeps={sweeps} "
            f"sweep_p50_s={pct(sweep_walls, 0.5):.3f} sweep_max_s={max(sweep_walls):.3f} "
            f"requests_per_sweep_mean={statistics.mean(requests):.0f} "
            f"requests_over_budget={over} "
            f"db_trips_per_job={statistics.mean(trips_per_job):.2f} rss_mb={rss_mb:.0f} "
            f"poll_latency_p50_s={pct(latencies, 0.5):.2f} "
            f"poll_latency_p99_s={pct(latencies, 0.99):.2f} "
            f"webhook_latency_p50_ms={pct(hooked, 0.5) * 1000:.1f} "
            f"webhook_latency_p99_ms={pct(hooked, 0.99) * 1000:.1f}"
        )
    finally:
        await engine.dispose()
        if pg_name is not None and base:  # base is set whenever pg_name is
            await _admin(base, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        tmp.cleanup()


class RecordingStore(SqlStore):
    """The SQL store, remembering the jobs each sweep claimed and gave back unpolled (for the
    spread and the overlaps)."""

    claimed: list[tuple[str, str]]
    released: list[str]

    async def release_claim(
        self, claim: WatchClaim, *, owner: str, next_poll_at: datetime
    ) -> bool:
        self.released.append(claim.job.id)
        return await super().release_claim(claim, owner=owner, next_poll_at=next_poll_at)

    async def claim_due_jobs(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[WatchClaim]:
        claims = await super().claim_due_jobs(
            owner=owner, now=now, lease_seconds=lease_seconds, limit=limit
        )
        self.claimed.extend((c.job.id, c.job.team_id) for c in claims)
        return claims


@dataclass(slots=True)
class Round:
    """What one replica did in one interval."""

    claimed: list[tuple[str, str]] = field(default_factory=list)
    """(job, team) of each job this replica claimed and polled (not given back unpolled)"""
    sweep_wall: float = 0.0
    round_wall: float = 0.0
    trips: int = 0
    requests: int = 0
    fetched: int = 0
    refused: int = 0
    """requests answered 429 (the limited accounts)"""
    posts: list[tuple[str, datetime, float]] = field(default_factory=list)
    """(dedupe key, simulated time, wall seconds after the round began) of each post"""
    event_times: dict[str, datetime] = field(default_factory=dict)
    """events this replica fetched first: dedupe key -> the event's time"""
    rss_mb: float = 0.0


def replica(
    index: int,
    link: Connection,
    url: str,
    provider: CountingProvider,
    clock: Clock,
    limited: frozenset[str],
    limited_until: datetime,
) -> None:
    """A forked watcher process: its own engine, its own copy of the loaded sandbox."""
    asyncio.run(_replica(index, link, url, provider, clock, limited, limited_until))


async def _replica(
    index: int,
    link: Connection,
    url: str,
    provider: CountingProvider,
    clock: Clock,
    limited: frozenset[str],
    limited_until: datetime,
) -> None:
    engine = create_engine(url)
    trips = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        trips[0] += 1

    try:
        store = RecordingStore(engine, clock=clock)
        store.claimed, store.released = [], []
        notifier = Notifier(clock)
        counted = FaultyProvider(provider)
        answered: Counter[str] = Counter()
        directory = LimitedDirectory(
            SharedProviderDirectory(counted), limited, answered, clock=clock, until=limited_until
        )
        core = build_core(
            store=store,
            watch_store=store,
            providers=directory,
            clock=clock,
            charts=NoCharts(),
            notifiers={Platform.SLACK: notifier},
            owner=f"replica-{index}",
            pace={Platform.SLACK: 0.0},
            dispatch_batch=2000,
            # The default chunk: the replicas take turns at an interval's due jobs.
            watch=bench_settings(claim_limit=WatchSettings().claim_limit),
        )
        known = set(provider.event_times)
        while True:
            now = link.recv()
            if now is None:
                return
            clock.current = now
            store.claimed, store.released = [], []
            posted = len(notifier.posts)
            trips_before, calls_before = trips[0], sum(counted.calls.values()) + answered["429"]
            events_before = counted.calls["list_events_after"]
            refused_before = answered["429"]
            wall = time.perf_counter()
            _, sweep_wall = await sweep_and_dispatch(core.watcher, core.dispatcher)
            fresh = {k: v for k, v in provider.event_times.items() if k not in known}
            known.update(fresh)
            given_back = Counter(store.released)
            polled = []
            for job, team in store.claimed:
                if given_back[job]:
                    given_back[job] -= 1
                else:
                    polled.append((job, team))
            link.send(
                Round(
                    claimed=polled,
                    sweep_wall=sweep_wall,
                    round_wall=time.perf_counter() - wall,
                    trips=trips[0] - trips_before,
                    requests=sum(counted.calls.values()) + answered["429"] - calls_before,
                    fetched=counted.calls["list_events_after"] - events_before,
                    refused=answered["429"] - refused_before,
                    posts=[(k, at, w - wall) for k, at, w in notifier.posts[posted:]],
                    event_times=fresh,
                    rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                )
            )
    finally:
        await core.watcher.stop()
        await engine.dispose()


async def _load_for_replicas(
    url: str, provider: CountingProvider, clock: Clock, teams_n: int, per_team: int, tmp: str
) -> float:
    engine = create_engine(url)
    try:
        await migrate(engine)
        _, load_s = await load_jobs(
            SqlStore(engine, clock=clock), provider, clock, teams_n, per_team, tmp
        )
        return load_s
    finally:
        await engine.dispose()


async def _coordinate(
    url: str, links: Sequence[Connection], clock: Clock
) -> tuple[list[list[Round]], list[int]]:
    """Every interval: count the teams due, let every replica sweep and dispatch at once."""
    engine = create_engine(url)
    rounds: list[list[Round]] = []
    teams_due: list[int] = []
    try:
        store = SqlStore(engine, clock=clock)
        for _ in range(10_000):
            teams_due.append(await accounts_due(engine, clock.now()))
            for link in links:
                link.send(clock.now())
            rounds.append([link.recv() for link in links])
            if not await store.watched_jobs_by_status():
                break
            clock.current += timedelta(seconds=SWEEP_SECONDS)
    finally:
        await engine.dispose()
    return rounds, teams_due


def run_replicas(quick: bool, replicas: int, rate_limited: float) -> None:
    teams_n, per_team = (100, 10) if quick else (1000, 10)
    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base:
        raise SystemExit("--replicas needs TEST_DATABASE_URL (a PostgreSQL server)")
    pg_name = f"ftbot_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{pg_name}"'))
    url = make_url(base).set(database=pg_name).render_as_string(hide_password=False)
    tmp = tempfile.TemporaryDirectory()
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        clock = Clock()
        provider = CountingProvider(clock, timing=TIMING)
        provider.event_times = {}
        load_s = asyncio.run(_load_for_replicas(url, provider, clock, teams_n, per_team, tmp.name))
        watching_since = clock.now()
        limited = limited_teams(teams_n, rate_limited)
        limited_until = watching_since + timedelta(seconds=LIMITED_SECONDS)
        # Forked after loading: every replica has the same sandbox jobs, nothing else shared.
        fork = multiprocessing.get_context("fork")
        links: list[Connection] = []
        for index in range(replicas):
            mine, theirs = fork.Pipe()
            proc = fork.Process(
                target=replica,
                args=(index + 1, theirs, url, provider, clock, limited, limited_until),
            )
            proc.start()
            procs.append(proc)
            links.append(mine)
        rounds, teams_due = asyncio.run(_coordinate(url, links, clock))
        for link in links:
            link.send(None)
        for done in procs:
            done.join(timeout=60)
        _report_replicas(
            rounds,
            teams_due,
            teams_n * per_team,
            teams_n,
            replicas,
            limited,
            load_s,
            watching_since,
        )
    finally:
        for left in procs:
            if left.is_alive():
                left.kill()
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        tmp.cleanup()


def _report_replicas(
    rounds: Sequence[Sequence[Round]],
    teams_due: Sequence[int],
    total: int,
    teams_n: int,
    replicas: int,
    limited: frozenset[str],
    load_s: float,
    watching_since: datetime,
) -> None:
    event_times: dict[str, datetime] = {}
    for per_replica in rounds:
        for r in per_replica:
            event_times.update(r.event_times)
    team_of_job = {job: team for per in rounds for r in per for job, team in r.claimed}
    sweep_walls: list[float] = []
    interval_walls: list[float] = []
    requests: list[int] = []
    budgets: list[int] = []
    trips_per_job: list[float] = []
    polled_by: Counter[int] = Counter()
    twice = 0
    latencies: list[float] = []
    limited_latencies: list[float] = []
    backoff_notices = 0
    for n, per_replica in enumerate(rounds):
        claimed = [job for r in per_replica for job, _ in r.claimed]
        seen = Counter(claimed)
        twice += sum(1 for count in seen.values() if count > 1)
        if not claimed:
            continue
        sweep_walls.append(max(r.sweep_wall for r in per_replica))
        interval_walls.append(max(r.round_wall for r in per_replica))
        made = sum(r.requests for r in per_replica)
        requests.append(made)
        budgets.append(teams_due[n] + sum(r.fetched for r in per_replica))
        trips_per_job.append(sum(r.trips for r in per_replica) / len(claimed))
        for index, r in enumerate(per_replica):
            polled_by[index + 1] += len(r.claimed)
            for key, at, after in r.posts:
                if ":backoff:" in key:
                    backoff_notices += 1
                happened = event_times.get(key)
                if happened is None or happened < watching_since:
                    continue
                latency = (at - happened).total_seconds() + after
                job = key.split(":", 1)[0]
                (limited_latencies if team_of_job.get(job) in limited else latencies).append(
                    latency
                )
    rss = max(r.rss_mb for per_replica in rounds for r in per_replica)
    refused = sum(r.refused for per_replica in rounds for r in per_replica)
    over = sum(1 for r, b in zip(requests, budgets, strict=True) if r > b)
    shares = [polled_by[i + 1] for i in range(replicas)]
    spread = max(shares) / (sum(shares) / replicas) if sum(shares) else float("nan")
    print(
        f"database: postgres; {replicas} replica process(es); jobs: {total} across {teams_n} "
        f"teams; {len(limited)} teams' accounts answer 429; loading took {load_s:.1f} s"
    )
    print(
        f"intervals with work: {len(sweep_walls)}; sweep wall time (the slowest replica's) p50 "
        f"{pct(sweep_walls, 0.5):.3f} s, max {max(sweep_walls):.3f} s; with the dispatch p50 "
        f"{pct(interval_walls, 0.5):.3f} s, max {max(interval_walls):.3f} s"
    )
    print(
        f"provider requests per interval: mean {statistics.mean(requests):.0f}, max "
        f"{max(requests)}; budget exceeded in {over} interval(s)"
    )
    print(f"database round trips per polled job: mean {statistics.mean(trips_per_job):.2f}")
    # Which interval is slow, and what it did: the first (every card and status notice at
    # once) or one in the middle.
    print(
        "each interval, the slowest replica's sweep s / posts: "
        + ", ".join(
            f"{n + 1}: {max(r.sweep_wall for r in per):.1f} / {sum(len(r.posts) for r in per)}"
            for n, per in enumerate(rounds)
            if any(r.claimed for r in per)
        )
    )
    print(f"peak RSS per replica process: {rss:.0f} MB")
    print(
        f"polls per replica: {shares} (max/mean {spread:.2f}); jobs polled by two replicas in "
        f"one interval: {twice}"
    )
    print(
        f"notification latency by polling (event time -> post): p50 "
        f"{pct(latencies, 0.5):.2f} s, p99 {pct(latencies, 0.99):.2f} s "
        f"({len(latencies)} event posts)"
    )
    if limited:
        print(
            f"the limited teams: {refused} requests answered 429 in "
            f"{sum(1 for per in rounds if any(r.refused for r in per))} intervals; "
            f"{backoff_notices} backoff notices for {len(limited)} teams; their event posts: "
            f"p50 {pct(limited_latencies, 0.5):.2f} s, p99 {pct(limited_latencies, 0.99):.2f} s "
            f"({len(limited_latencies)}, held up to {LIMITED_SECONDS:.0f} s by design)"
        )
    print(
        f"db=postgres replicas={replicas} jobs={total} teams={teams_n} "
        f"limited_teams={len(limited)} sweeps={len(sweep_walls)} "
        f"sweep_p50_s={pct(sweep_walls, 0.5):.3f} sweep_max_s={max(sweep_walls):.3f} "
        f"interval_p50_s={pct(interval_walls, 0.5):.3f} "
        f"requests_per_sweep_mean={statistics.mean(requests):.0f} requests_over_budget={over} "
        f"db_trips_per_job={statistics.mean(trips_per_job):.2f} rss_mb_max={rss:.0f} "
        f"spread_max_over_mean={spread:.2f} polled_twice={twice} "
        f"poll_latency_p50_s={pct(latencies, 0.5):.2f} "
        f"poll_latency_p99_s={pct(latencies, 0.99):.2f} backoff_notices={backoff_notices} "
        f"answered_429={refused}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs across 100 teams")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--statements", action="store_true", help="print the most frequent statements"
    )
    parser.add_argument(
        "--replicas", type=int, default=0, help="N watcher processes on PostgreSQL"
    )
    parser.add_argument(
        "--rate-limited",
        type=float,
        default=0.0,
        help="share of the teams whose account answers 429 (with --replicas)",
    )
    args = parser.parse_args()
    if args.replicas or args.rate_limited:
        if args.db != "postgres":
            parser.error("--replicas and --rate-limited run on --db postgres")
        run_replicas(args.quick, max(1, args.replicas), args.rate_limited)
    else:
        asyncio.run(main(args.quick, args.db, args.statements))
