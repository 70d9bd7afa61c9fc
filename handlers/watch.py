"""Core layer: what a sweep does with each leased job: ask the provider, plan notices, commit."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from handlers.cancelled import settle
from handlers.cards import (
    completion_notice,
    event_update,
    job_card,
    job_name,
    metric_update,
)
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.governance import settle_spend_entry
from handlers.model import (
    ChannelAddress,
    Job,
    JobEvent,
    JobState,
    MetricPoint,
    SpendEntry,
    Subscription,
    SubscriptionFilter,
    gone,
    model_made_by,
)
from handlers.ports import (
    ChartRenderer,
    Clock,
    MetricFiles,
    OutboxMessage,
    PollResult,
    Provider,
    ProviderDirectory,
    Store,
    WatchClaim,
    WatchStore,
)
from handlers.profile import Capability, JobStatus
from handlers.replies import Reply, Tone

log = logging.getLogger(__name__)

CARD = "card"
THREAD_KINDS = frozenset({"metric", "event"})
"""Kinds posted in the job card's thread once the card exists."""


def card_key(job_id: str) -> str:
    return f"card:{job_id}"


def outbox_message(
    job: Job,
    target: ChannelAddress,
    *,
    kind: str,
    key: str,
    reply: Reply,
    card: bool = False,
) -> OutboxMessage:
    """A message about a job for the outbox; `card` makes it (an edit of) the job's card."""
    return OutboxMessage(
        dedupe_key=key,
        team_id=job.team_id,
        target=target,
        kind=kind,
        reply=reply,
        job_id=job.id,
        card_key=card_key(job.id) if card else None,
    )


def card_message(
    job: Job, latest: MetricPoint | None, now: datetime, shown: Shown
) -> OutboxMessage | None:
    """The job's card as of `job.state` (posted once per status and step, then edited in
    place); None for a job with no channel to post in."""
    if job.channel is None:
        return None
    step = latest.step if latest else 0
    return outbox_message(
        job,
        job.channel,
        kind=CARD,
        key=f"{job.id}:card:{job.state.status}:{step}",
        reply=job_card(
            job,
            latest,
            now,
            capabilities=shown.capabilities,
            simulation=shown.simulation,
            metrics_note=shown.metrics_note,
        ),
        card=True,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Shown:
    """What a job's messages show of its provider: the buttons it can serve, and whether it
    only simulates training (its label, then)."""

    capabilities: frozenset[Capability]
    simulation: str | None = None
    metrics_note: str = ""
    """The profile's word on its metrics, shown on the card while there are none."""
    deploy_note: str = ""
    """What a fine-tuned model needs there before it answers (the profile's deploy note)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchSettings:
    lease_seconds: float = 60.0
    claim_limit: int = 200
    slow_poll_seconds: float = 60.0
    slow_poll_max_seconds: float = 300.0
    running_poll_seconds: float = 15.0
    running_poll_max_seconds: float = 120.0
    paused_poll_seconds: float = 120.0
    jitter: float = 0.15
    error_backoff_seconds: float = 30.0
    rate_limit_backoff_seconds: float = 60.0
    auth_backoff_seconds: float = 3600.0
    concurrency: int = 16
    metric_interval_seconds: float = 60.0
    max_chunks: int = 100
    """A sweep claims at most this many chunks of `claim_limit` jobs."""
    account_seconds: float = 20.0
    """How long a sweep waits for one team's account (team and family); a slower one (an
    outage, a hanging endpoint) goes on in the background while the sweep ends, so it never
    holds up the next sweep of the other accounts."""


@dataclass(slots=True)
class SweepStats:
    claimed: int = 0
    committed: int = 0
    lost_leases: int = 0
    provider_calls: int = 0
    provider_errors: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    slow_accounts: int = 0
    """Accounts (team and family) still being polled when the sweep ended."""
    poll_delays: list[float] = field(default_factory=list)
    """Seconds each claimed job waited past its due time: the watcher's polling latency."""


def poll_delay(status: str, idle_polls: int, settings: WatchSettings) -> float:
    """Seconds to the next poll: slow while waiting, fast while running, backing off when idle."""
    match status:
        case JobStatus.VALIDATING | JobStatus.QUEUED:
            base = settings.slow_poll_seconds * (1.5 ** min(idle_polls, 10))
            return min(base, settings.slow_poll_max_seconds)
        case JobStatus.RUNNING:
            factor = 2.0 ** max(0, min(idle_polls - 2, 6))
            return min(settings.running_poll_seconds * factor, settings.running_poll_max_seconds)
        case JobStatus.PAUSED:
            return settings.paused_poll_seconds
        case _:
            return settings.slow_poll_seconds


def jittered(seconds: float, job_id: str, fence: int, jitter: float) -> float:
    """Spread polls so replicas and teams do not align; deterministic per (job, fence)."""
    digest = hashlib.blake2b(f"{job_id}:{fence}".encode(), digest_size=4).digest()
    unit = int.from_bytes(digest, "big") / 0xFFFFFFFF  # 0..1
    return seconds * (1 + jitter * (2 * unit - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class PollPlan:
    messages: tuple[OutboxMessage, ...]
    points: tuple[MetricPoint, ...]
    cursor: str | None
    next_poll_at: datetime | None
    idle_polls: int
    last_notified_metric_at: datetime | None


class Watcher:
    """One sweep: lease due jobs, fetch news outside any transaction, commit under the fence."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        providers: ProviderDirectory,
        clock: Clock,
        charts: ChartRenderer,
        owner: str,
        settings: WatchSettings | None = None,
    ) -> None:
        self._store = store
        self._watch = watch_store
        self._providers = providers
        self._clock = clock
        self._charts = charts
        self._owner = owner
        self._settings = settings or WatchSettings()
        self._slow: dict[tuple[str, str], asyncio.Task[None]] = {}
        """The accounts whose polls outlived their sweep, still running."""
        self._news: Callable[[], None] | None = None

    def on_news(self, news: Callable[[], None]) -> None:
        """`news()` runs each time a commit queued messages, while the sweep goes on: the app
        dispatches them then, rather than at its next dispatch tick."""
        self._news = news

    @property
    def slow_accounts(self) -> frozenset[tuple[str, str]]:
        """(team, family) of the polls still running past their sweep."""
        return frozenset(self._slow)

    async def finish_slow_accounts(self) -> None:
        """Wait until the polls running past their sweep are done."""
        await asyncio.gather(*self._slow.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the polls still running past their sweep (their leases simply expire)."""
        pending = list(self._slow.values())
        for task in pending:
            task.cancel()
        await settle(pending)
        self._slow.clear()

    async def sweep(self) -> SweepStats:
        """Claims due jobs a chunk of at most `claim_limit` at a time (whole accounts: a team's
        due jobs at one family, unless one account alone has more) and polls each chunk before
        claiming the next, until none is due: replicas sweeping at once take turns at the
        chunks, so they share one interval's jobs and each account is asked by one of them."""
        stats = SweepStats()
        for _ in range(self._settings.max_chunks):
            if not await self._sweep_chunk(stats):
                break
        return stats

    async def _sweep_chunk(self, stats: SweepStats) -> int:
        now = self._clock.now()
        claims = await self._watch.claim_due_jobs(
            owner=self._owner,
            now=now,
            lease_seconds=self._settings.lease_seconds,
            limit=self._settings.claim_limit,
        )
        claimed = len(claims)
        stats.claimed += len(claims)
        stats.poll_delays.extend(
            max(0.0, (now - c.due_at).total_seconds()) for c in claims if c.due_at is not None
        )
        # Each job is polled at the family it was started on, with the key recorded for it.
        by_team: dict[tuple[str, str], list[WatchClaim]] = defaultdict(list)
        for claim in claims:
            by_team[(claim.job.team_id, claim.job.provider)].append(claim)
        busy = [key for key in by_team if key in self._slow]
        for key in busy:
            # Its last sweep's polls are still waiting on that account: leave it alone.
            retry = now + timedelta(seconds=self._settings.error_backoff_seconds)
            for claim in by_team.pop(key):
                await self._watch.release_claim(claim, owner=self._owner, next_poll_at=retry)
        gate = asyncio.Semaphore(self._settings.concurrency)

        async def one_team(key: tuple[str, str], team_claims: list[WatchClaim]) -> None:
            async with gate:
                await self._sweep_team(key[0], team_claims, stats, family=key[1])

        tasks = {
            key: asyncio.create_task(one_team(key, team_claims))
            for key, team_claims in by_team.items()
        }
        if not tasks:
            return claimed
        try:
            done, _ = await asyncio.wait(tasks.values(), timeout=self._settings.account_seconds)
        except asyncio.CancelledError:
            # Cancelled (a stop past its grace): the teams' polls are cancelled and awaited, so
            # none is still closing a database connection when the engine is disposed.
            for task in tasks.values():
                task.cancel()
            await settle(tasks.values())
            raise
        for key, task in tasks.items():
            if task not in done:
                stats.slow_accounts += 1
                self._slow[key] = task
                task.add_done_callback(functools.partial(self._slow_done, key))
        failed = [error for task in done if (error := task.exception()) is not None]
        if failed:
            raise failed[0]  # a failed team fails the sweep, as before
        return claimed

    def _slow_done(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._slow.get(key) is task:
            del self._slow[key]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "a slow account's polls failed",
                extra={"team": key[0], "family": key[1]},
                exc_info=task.exception(),
            )

    async def _sweep_team(
        self, team_id: str, claims: list[WatchClaim], stats: SweepStats, *, family: str
    ) -> None:
        """Polls the team's jobs, then commits them in one transaction (which also ends a
        backoff of the family); a team-wide error commits the polls made before it."""
        provider = await self._providers.for_team(team_id, family or None)
        # Read once per team and sweep, not once per job: the team's settings do not change
        # within a sweep, and most sweeps of a busy team poll several of its jobs.
        team = await self._store.get_team(team_id)
        interval = team.metric_interval_seconds if team else self._settings.metric_interval_seconds
        reads = _TeamReads(self._store, self._watch, team_id)
        states: dict[str, JobState] = {}
        if len(claims) > 1 and provider.profile.can(Capability.JOB_TAGS):
            # One list call answers every job's status; fall back to one call per missing job.
            try:
                stats.provider_calls += 1
                listed = await provider.list_jobs(
                    metadata={"ftbot_team": team_id}, limit=min(100, max(20, len(claims) * 2))
                )
                states = {s.id: s for s in listed}
            except ProviderError as error:
                await self._provider_failed(
                    team_id, claims, error, stats, family=family, label=provider.profile.label
                )
                return
        polls: list[PollResult] = []
        for claim in claims:
            try:
                polls.append(
                    await self._poll(
                        claim, provider, states.get(claim.job.id), interval, stats, reads
                    )
                )
            except ProviderError as error:
                if error.kind is ProviderErrorKind.NOT_FOUND:
                    polls.append(self._gone(claim))
                    continue
                if error.kind in _TEAM_WIDE:
                    await self._commit(polls, stats, reads, resume=None)
                    await self._provider_failed(
                        team_id, [claim], error, stats, family=family, label=provider.profile.label
                    )
                    rest = claims[claims.index(claim) + 1 :]
                    for other in rest:
                        await self._watch.release_claim(
                            other, owner=self._owner, next_poll_at=self._backoff_until(error)
                        )
                    return
                await self._provider_failed(
                    team_id, [claim], error, stats, family=family, label=provider.profile.label
                )
        await self._commit(polls, stats, reads, resume=(team_id, family))

    async def _commit(
        self,
        polls: list[PollResult],
        stats: SweepStats,
        reads: _TeamReads,
        *,
        resume: tuple[str, str] | None,
    ) -> None:
        if not polls and resume is None:
            return
        committed = await self._watch.commit_polls(polls, owner=self._owner, resume=resume)
        if self._news is not None and any(
            poll.messages for poll in polls if poll.claim.job.id in committed
        ):
            self._news()
        for poll in polls:
            job, state = poll.claim.job, poll.state
            if job.id not in committed:
                stats.lost_leases += 1
                log.info("lease lost", extra={"job": job.id, "owner": self._owner})
                continue
            stats.committed += 1
            stats.messages += len(poll.messages)
            changed = state.status != job.state.status
            made = (
                model_made_by(
                    job.team_id,
                    state,
                    now=self._clock.now(),
                    provider=job.provider,
                    account=job.account,
                )
                if changed
                else None
            )
            if made is not None:
                await self._store.add_model(made)
            if state.terminal and changed:
                # The spend row its completion notice was priced from: read once per sweep.
                await settle_spend_entry(
                    self._store, job.team_id, state, await reads.spend(job.id)
                )

    async def _poll(
        self,
        claim: WatchClaim,
        provider: Provider,
        listed: JobState | None,
        interval: float,
        stats: SweepStats,
        reads: _TeamReads,
    ) -> PollResult:
        job = claim.job
        if listed is None:
            stats.provider_calls += 1
            listed = await provider.get_job(job.id)
        state = listed
        changed = state.status != job.state.status
        events: Sequence[JobEvent] = ()
        filed: Sequence[MetricPoint] = ()
        unread: str | None = None
        if state.status == JobStatus.RUNNING or changed or state.terminal:
            stats.provider_calls += 1
            events = await provider.list_events_after(job.id, claim.cursor)
            if provider.profile.can(Capability.METRICS) and isinstance(provider, MetricFiles):
                filed, unread = await self._filed_points(provider, job.id, stats, reads)
        shown = Shown(
            capabilities=provider.profile.capabilities,
            simulation=provider.label if provider.is_simulation else None,
            metrics_note=provider.profile.metrics_note,
            deploy_note=provider.profile.deploy_note,
        )
        plan = await self._plan(
            claim, state, events, interval, shown, reads, filed=filed, unread=unread
        )
        return PollResult(
            claim=claim,
            state=state,
            cursor=plan.cursor,
            messages=plan.messages,
            metric_points=plan.points,
            next_poll_at=plan.next_poll_at,
            polls_without_news=plan.idle_polls,
            last_notified_metric_at=plan.last_notified_metric_at,
        )

    async def _filed_points(
        self, provider: MetricFiles, job_id: str, stats: SweepStats, reads: _TeamReads
    ) -> tuple[tuple[MetricPoint, ...], str | None]:
        """The points of the family's metrics file not stored yet, in step order, and why
        the file could not be read (None when it could). The file is read whole each time;
        one that cannot be read now is no news (the job's status still is), and the next poll
        reads it again; a finished job's notice says why its chart is missing."""
        stats.provider_calls += 1
        try:
            found = await provider.metric_points(job_id)
        except ProviderError as error:
            log.warning("metrics file unreadable", extra={"job": job_id, "kind": error.kind.value})
            return (), error.detail or error.message
        stored = {p.step for p in await reads.metric_points(job_id)}
        fresh: dict[int, MetricPoint] = {}
        for point in found:
            if point.step not in stored:
                fresh.setdefault(point.step, point)
        return tuple(fresh[step] for step in sorted(fresh)), None

    async def _plan(
        self,
        claim: WatchClaim,
        state: JobState,
        events: Sequence[JobEvent],
        metric_interval: float,
        shown: Shown,
        reads: _TeamReads,
        *,
        filed: Sequence[MetricPoint] = (),
        unread: str | None = None,
    ) -> PollPlan:
        """`filed`: new points from the family's metrics file (Capability.METRICS), which
        count as news and are stored as event metrics are; `unread`: why that file could not
        be read at this poll."""
        job = replace(claim.job, state=state)
        now = self._clock.now()
        points = tuple(p for e in events if (p := MetricPoint.from_event(e)) is not None)
        points += tuple(filed)
        changed = state.status != claim.job.state.status
        news = bool(events) or bool(filed) or changed
        messages: list[OutboxMessage] = []
        origin = job.channel
        latest = points[-1] if points else None
        # A job whose card was never posted (a start's card lost, a job found by resync) gets
        # it now; a card the start already queued has the same key and is not posted twice.
        unposted = claim.job.card_message_id is None
        if latest is None and (changed or state.terminal or unposted):
            stored = await reads.metric_points(job.id)
            latest = stored[-1] if stored else None
        if origin is not None and (news or unposted):
            card = card_message(job, latest, now, shown)
            if card is not None:
                messages.append(card)
            said = [e for e in events if not e.is_metrics and e.message]
            aliases = await reads.aliases(state) if said else {}
            for event in said:
                messages.append(
                    self._message(
                        job,
                        origin,
                        kind="event",
                        key=f"{job.id}:event:{event.id}",
                        reply=event_update(job.id, event, aliases=aliases),
                    )
                )
        notified = claim.last_notified_metric_at
        if origin is not None and points and not state.terminal:
            due = notified is None or (now - notified).total_seconds() >= metric_interval
            if due:
                point = points[-1]
                messages.append(
                    self._message(
                        job,
                        origin,
                        kind="metric",
                        key=f"{job.id}:metric:{point.step}",
                        reply=metric_update(job.id, point),
                    )
                )
                notified = now
        if changed:
            messages.extend(await self._status_notices(job, points, shown, reads, unread))
        idle = 0 if news else claim.polls_without_news + 1
        next_poll: datetime | None = None
        if not state.terminal:
            delay = poll_delay(state.status, idle, self._settings)
            delay = jittered(delay, job.id, claim.fence, self._settings.jitter)
            next_poll = now + timedelta(seconds=delay)
        cursor = events[-1].id if events else claim.cursor
        return PollPlan(
            messages=tuple(messages),
            points=points,
            cursor=cursor,
            next_poll_at=next_poll,
            idle_polls=idle,
            last_notified_metric_at=notified,
        )

    async def _origin(self, job: Job) -> str | None:
        """The model of the job whose recipe this one replayed, if it made one."""
        if job.origin is None or job.state.status != JobStatus.SUCCEEDED:
            return None
        origin = await self._store.get_job(job.team_id, job.origin)
        return origin.state.fine_tuned_model if origin is not None else None

    async def _estimate_price(self, job: Job, reads: _TeamReads) -> float | None:
        """The price per 1M tokens the job's start was estimated at (its spend row's)."""
        entry = await reads.spend(job.id)
        return entry.price_per_million if entry is not None else None

    async def _status_notices(
        self,
        job: Job,
        new_points: Sequence[MetricPoint],
        shown: Shown,
        reads: _TeamReads,
        unread: str | None = None,
    ) -> list[OutboxMessage]:
        state = job.state
        messages: list[OutboxMessage] = []
        subscriptions = await reads.subscriptions()
        if state.terminal:
            stored = list(await reads.metric_points(job.id))
            seen = {p.step for p in stored}
            points = sorted(
                stored + [p for p in new_points if p.step not in seen], key=lambda p: p.step
            )
            chart = self._charts.render(f"{job.id} ({state.model})", points) if points else None
            missing = None
            if not points and Capability.METRICS in shown.capabilities:
                missing = unread or "the provider wrote no per-step metrics for this job"
            notice = completion_notice(
                job,
                points,
                chart,
                capabilities=shown.capabilities,
                origin_model=await self._origin(job),
                simulation=shown.simulation,
                chart_missing=missing,
                price_per_million=await self._estimate_price(job, reads),
                deploy_note=shown.deploy_note,
            )
            targets: list[ChannelAddress] = [job.channel] if job.channel else []
            for sub in subscriptions:
                wanted = (
                    sub.filter is not SubscriptionFilter.FAILURES
                    or state.status == JobStatus.FAILED
                )
                if wanted and all(sub.channel.key != t.key for t in targets):
                    targets.append(sub.channel)
            for target in targets:
                messages.append(
                    self._message(
                        job,
                        target,
                        kind="completion",
                        key=f"{job.id}:status:{state.status}:{target.key}",
                        reply=notice,
                    )
                )
            return messages
        line = Reply(title=f"{job_name(job)} is now {state.shown_status} ({job.id})")
        for sub in subscriptions:
            if sub.filter is SubscriptionFilter.ALL and (
                job.channel is None or sub.channel.key != job.channel.key
            ):
                messages.append(
                    self._message(
                        job,
                        sub.channel,
                        kind="status",
                        key=f"{job.id}:status:{state.status}:{sub.channel.key}",
                        reply=line,
                    )
                )
        return messages

    def _message(
        self,
        job: Job,
        target: ChannelAddress,
        *,
        kind: str,
        key: str,
        reply: Reply,
        card: bool = False,
    ) -> OutboxMessage:
        return outbox_message(job, target, kind=kind, key=key, reply=reply, card=card)

    def _gone(self, claim: WatchClaim) -> PollResult:
        """The provider no longer knows the job: record it as gone (so `list` and the buttons
        agree), stop watching it, edit its card and say so once."""
        job = replace(claim.job, state=gone(claim.job.state, self._clock.now()))
        messages: tuple[OutboxMessage, ...] = ()
        if job.channel is not None:
            messages = (
                self._message(
                    job,
                    job.channel,
                    kind=CARD,
                    key=f"{job.id}:card:{JobStatus.GONE}:0",
                    reply=job_card(job, None, self._clock.now(), capabilities=frozenset()),
                    card=True,
                ),
                self._message(
                    job,
                    job.channel,
                    kind="completion",
                    key=f"{job.id}:gone",
                    reply=Reply(
                        title=f"The provider no longer knows {job.id}; I stopped watching it.",
                        lines=(
                            "It was deleted, expired or archived there; `list` shows it as gone.",
                        ),
                        tone=Tone.WARNING,
                        mentions=(job.requester_id,) if job.requester_id else (),
                    ),
                ),
            )
        return PollResult(
            claim=claim,
            state=job.state,
            cursor=claim.cursor,
            messages=messages,
            metric_points=(),
            next_poll_at=None,
            polls_without_news=claim.polls_without_news,
            last_notified_metric_at=claim.last_notified_metric_at,
        )

    def _backoff_until(self, error: ProviderError) -> datetime:
        now = self._clock.now()
        match error.kind:
            case ProviderErrorKind.AUTH | ProviderErrorKind.PERMISSION | ProviderErrorKind.QUOTA:
                seconds = self._settings.auth_backoff_seconds
            case ProviderErrorKind.RATE_LIMITED:
                seconds = max(error.retry_after or 0.0, self._settings.rate_limit_backoff_seconds)
            case _:
                seconds = self._settings.error_backoff_seconds
        return now + timedelta(seconds=seconds)

    async def _provider_failed(
        self,
        team_id: str,
        claims: Sequence[WatchClaim],
        error: ProviderError,
        stats: SweepStats,
        *,
        family: str,
        label: str,
    ) -> None:
        """A team-wide error (a refused key, a rate limit, an outage) pauses the team's jobs at
        that family only: its other families' keys and accounts are not the ones that failed,
        and other teams' accounts are not touched. The team is told once per episode."""
        stats.provider_errors[error.kind.value] = (
            stats.provider_errors.get(error.kind.value, 0) + 1
        )
        until = self._backoff_until(error)
        log.warning(
            "provider error while watching",
            extra={"team": team_id, "kind": error.kind.value, "retry_at": until.isoformat()},
        )
        if error.kind in _TEAM_WIDE:
            previous = await self._watch.team_backoff_until(team_id, provider=family)
            await self._watch.set_team_backoff(team_id, until=until, provider=family)
            origin = next((c.job.channel for c in claims if c.job.channel), None)
            if previous is None and origin is not None:
                # Told once per episode: the backoff is only cleared by a later success.
                notice = Reply(
                    title=f"Pausing this team's {label} job updates: {error.message}",
                    lines=(f"I'll try again after {until:%H:%M} UTC.",),
                    tone=Tone.WARNING,
                )
                await self._watch.enqueue(
                    [
                        OutboxMessage(
                            dedupe_key=(
                                f"{team_id}:{family}:backoff:{self._clock.now():%Y%m%d%H%M%S}"
                            ),
                            team_id=team_id,
                            target=origin,
                            kind="notice",
                            reply=notice,
                        )
                    ],
                    now=self._clock.now(),
                )
        for claim in claims:
            await self._watch.release_claim(claim, owner=self._owner, next_poll_at=until)


class _TeamReads:
    """What a team's sweep reads at most once: its subscriptions, each job's stored points,
    the spend row of each job that finished."""

    def __init__(self, store: Store, watch_store: WatchStore, team_id: str) -> None:
        self._store = store
        self._watch = watch_store
        self._team_id = team_id
        self._subscriptions: Sequence[Subscription] | None = None
        self._points: dict[str, Sequence[MetricPoint]] = {}
        self._aliases: dict[str, str] = {}
        self._spend: dict[str, SpendEntry | None] = {}

    async def spend(self, job_id: str) -> SpendEntry | None:
        if job_id not in self._spend:
            self._spend[job_id] = await self._store.get_spend(self._team_id, job_id)
        return self._spend[job_id]

    async def subscriptions(self) -> Sequence[Subscription]:
        if self._subscriptions is None:
            self._subscriptions = await self._store.list_subscriptions(self._team_id)
        return self._subscriptions

    async def aliases(self, state: JobState) -> dict[str, str]:
        """The team's aliases of the job's files, by provider file id (its events name them)."""
        out: dict[str, str] = {}
        for file_id in (state.training_file, state.validation_file):
            if not file_id:
                continue
            if file_id not in self._aliases:
                found = await self._store.get_file(self._team_id, file_id)
                self._aliases[file_id] = found.alias if found is not None else ""
            if self._aliases[file_id]:
                out[file_id] = self._aliases[file_id]
        return out

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        if job_id not in self._points:
            self._points[job_id] = await self._watch.list_metric_points(self._team_id, job_id)
        return self._points[job_id]


_TEAM_WIDE = frozenset(
    {
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.QUOTA,
        ProviderErrorKind.AUTH,
        ProviderErrorKind.PERMISSION,
        # The account's endpoint does not answer (an outage): asking for its other jobs in
        # the same sweep would only wait the same timeout once per job.
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
    }
)
"""Errors about the team's account at one family, not one job: its jobs there pause."""
