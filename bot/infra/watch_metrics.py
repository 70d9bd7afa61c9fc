"""Infrastructure: the watcher's and dispatcher's figures on /metrics."""

from __future__ import annotations

from bot.infra.dispatcher import DispatchStats
from bot.infra.metrics import Metrics
from handlers.ports import Clock
from handlers.watch import SweepStats
from storage.store import SqlStore


def collect_watched(store: SqlStore, metrics: Metrics, clock: Clock) -> None:
    """Refresh `jobs_watched` and `replica_leases` from the store at every scrape."""

    async def collect() -> None:
        counts = await store.watched_jobs_by_status()
        metrics.clear("jobs_watched")
        for status, count in counts.items():
            metrics.set("jobs_watched", count, status=status)
        leases = await store.leases_by_owner(now=clock.now())
        metrics.clear("replica_leases")
        for owner, count in leases.items():
            metrics.set("replica_leases", count, replica=owner)

    metrics.collect_with(collect)


def record_sweep(
    metrics: Metrics, stats: SweepStats, elapsed: float, round_trips: int | None = None
) -> None:
    metrics.inc("sweeps_total")
    metrics.observe("sweep_duration_seconds", elapsed)
    if round_trips is not None:
        metrics.observe("sweep_round_trips", round_trips)
    for delay in stats.poll_delays:
        metrics.observe("poll_delay_seconds", delay)
    metrics.inc("jobs_claimed_total", stats.claimed)
    metrics.inc("provider_calls_total", stats.provider_calls)
    for kind, count in stats.provider_errors.items():
        metrics.inc("provider_errors_total", count, kind=kind)


def record_dispatch(metrics: Metrics, stats: DispatchStats) -> None:
    metrics.inc("notices_sent_total", stats.sent)
    metrics.inc("notices_failed_total", stats.failed)
    for seconds in stats.latencies:
        metrics.observe("notification_latency_seconds", seconds)
