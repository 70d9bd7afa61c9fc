"""Infrastructure: the watcher's and dispatcher's figures on /metrics."""

from __future__ import annotations

from bot.infra.dispatcher import DispatchStats
from bot.infra.metrics import Metrics
from handlers.watch import SweepStats
from storage.store import SqlStore


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
