"""Composition root: watcher upkeep: housekeeping, start-up resync, webhooks, watch metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import Settings
from bot.dispatcher import DispatchStats
from bot.metrics import Metrics
from bot.webhooks import openai_webhook_routes
from handlers.errors import ProviderError
from handlers.ports import Provider
from handlers.recovery import Recovery, ResyncReport
from handlers.scope import TeamScopedProvider
from handlers.watch import SweepStats
from storage.store import SqlStore

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

WEBHOOK_INBOX_DAYS = 3
"""OpenAI retries a delivery for up to 72 hours; an id older than that cannot come back."""


def collect_watched(store: SqlStore, metrics: Metrics) -> None:
    """Refresh `jobs_watched` from the store at every scrape."""

    async def collect() -> None:
        counts = await store.watched_jobs_by_status()
        metrics.clear("jobs_watched")
        for status, count in counts.items():
            metrics.set("jobs_watched", count, status=status)

    metrics.collect_with(collect)


def record_sweep(metrics: Metrics, stats: SweepStats, elapsed: float) -> None:
    metrics.inc("sweeps_total")
    metrics.observe("sweep_duration_seconds", elapsed)
    metrics.inc("jobs_claimed_total", stats.claimed)
    metrics.inc("provider_calls_total", stats.provider_calls)
    for kind, count in stats.provider_errors.items():
        metrics.inc("provider_errors_total", count, kind=kind)


def record_dispatch(metrics: Metrics, stats: DispatchStats) -> None:
    metrics.inc("notices_sent_total", stats.sent)
    metrics.inc("notices_failed_total", stats.failed)
    for seconds in stats.latencies:
        metrics.observe("notification_latency_seconds", seconds)


@dataclass(frozen=True, slots=True)
class Purged:
    outbox: int
    webhook_inbox: int
    request_ids: int = 0


async def housekeeping(runtime: Runtime) -> Purged:
    """Delete finished outbox rows, old webhook and request ids; settle starts left open;
    safe on every replica at once."""
    now = runtime.clock.now()
    days = runtime.settings.outbox_retention_days
    outbox = await runtime.store.purge_outbox(before=now - timedelta(days=days))
    inbox = await runtime.store.purge_webhook_inbox(
        before=now - timedelta(days=WEBHOOK_INBOX_DAYS)
    )
    requests = await runtime.store.purge_request_ids(before=now)
    runtime.metrics.inc("housekeeping_deleted_total", outbox, table="outbox")
    runtime.metrics.inc("housekeeping_deleted_total", inbox, table="webhook_inbox")
    runtime.metrics.inc("housekeeping_deleted_total", requests, table="request_ids")
    if outbox or inbox or requests:
        log.info(
            "housekeeping",
            extra={"outbox": outbox, "webhook_inbox": inbox, "request_ids": requests},
        )
    await settle_intents(runtime)
    return Purged(outbox=outbox, webhook_inbox=inbox, request_ids=requests)


async def resync(runtime: Runtime) -> ResyncReport:
    """Settle interrupted starts and watch again the tagged jobs the store lacks, on the
    deployment's account and every team's own; raises ProviderError when the shared one fails."""
    own: dict[str, Provider] = {}
    directory = runtime.directory
    if directory is not None:
        for team in await runtime.store.list_teams():
            provider = await directory.for_team(team.id)
            # A team on the deployment's account is covered by the one scan of that account.
            if not (isinstance(provider, TeamScopedProvider) and provider.shared):
                own[team.id] = provider
    report = await _recovery(runtime).resync([runtime.provider], own=own, directory=directory)
    runtime.metrics.inc("resync_recovered_total", len(report.recovered) + len(report.settled))
    return report


def _recovery(runtime: Runtime) -> Recovery:
    return Recovery(store=runtime.store, clock=runtime.clock, watch_store=runtime.store)


async def settle_intents(runtime: Runtime) -> None:
    """A housekeeping tick settles starts another replica left open when it died."""
    if runtime.directory is None:
        return
    try:
        report = await _recovery(runtime).settle_intents(runtime.directory)
    except ProviderError as error:
        log.warning("settling start intents failed", extra={"kind": error.kind.value})
        return
    runtime.metrics.inc("resync_recovered_total", len(report.settled))


async def resync_at_start(runtime: Runtime) -> ResyncReport | None:
    """Start-up resync: a provider failure is logged, never fatal (polling resumes anyway)."""
    try:
        report = await resync(runtime)
    except ProviderError as error:
        log.warning("resync at start failed", extra={"kind": error.kind.value})
        return None
    log.info("resync at start", extra={"summary": report.summary()})
    return report


class Waker:
    """Runs a sweep and a dispatch right away (a webhook arrived); never two at once."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def __call__(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True  # the running round may have claimed before the job was due
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        runtime = self._runtime
        while True:
            self._again = False
            try:
                started = runtime.clock.now()
                stats = await runtime.watcher.sweep()
                elapsed = (runtime.clock.now() - started).total_seconds()
                record_sweep(runtime.metrics, stats, elapsed)
                record_dispatch(runtime.metrics, await runtime.dispatcher.tick())
            except Exception:
                log.exception("webhook-triggered sweep failed")
            if not self._again:
                return

    async def wait(self) -> None:
        if self._task is not None:
            await self._task


def webhook_routes(runtime: Runtime, *, wake: Waker | None = None) -> Sequence[web.RouteDef]:
    """The OpenAI webhook route when OPENAI_WEBHOOK_SECRET is set; none otherwise."""
    secret = runtime.settings.openai_webhook_secret
    return openai_webhook_routes(
        secret=None if secret is None else secret.get_secret_value(),
        store=runtime.store,
        clock=runtime.clock,
        metrics=runtime.metrics,
        wake=wake,
    )


async def run_resync(settings: Settings, *, write: Callable[[str], object] = print) -> int:
    """`finetune-bot resync`: one resync against the configured provider and database."""
    from bot.runtime import build_runtime

    async with AsyncExitStack() as stack:
        runtime = await build_runtime(settings, stack, notifiers={})
        try:
            report = await resync(runtime)
        except ProviderError as error:
            write(f"resync failed: {error.message}")
            return 1
    write(f"resync: {report.summary()}")
    for job_id in report.recovered:
        write(f"  watching again: {job_id}")
    for job_id in report.settled:
        write(f"  interrupted start settled: {job_id}")
    for job_id in report.skipped:
        write(f"  skipped (no usable ftbot_team): {job_id}")
    return 0
