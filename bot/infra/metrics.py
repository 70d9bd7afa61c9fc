"""Infrastructure: every /metrics series in one catalogue, served through prometheus_client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# `*_created` series would be new names beside the documented ones, and nothing here reads
# them; the switch is process-wide in prometheus_client (which leaves it unannotated) and only
# this module makes metrics.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX = "finetune_bot"
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_PLAIN_0_0_4
"""The text format generate_latest writes, under the media type that names its version."""

SWEEP_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
POLL_DELAY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
ROUND_TRIP_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0)

Kind = Literal["counter", "gauge", "histogram"]
Series = TypeVar("Series", Counter, Gauge, Histogram)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """One series family as scraped: its name without the prefix, type, labels and meaning."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


CATALOGUE: tuple[MetricSpec, ...] = (
    MetricSpec(name="outbox_depth", kind="gauge", help="Notices waiting to be posted."),
    MetricSpec(
        name="outbox_oldest_age_seconds", kind="gauge", help="Age of the oldest unsent notice."
    ),
    MetricSpec(
        name="jobs_watched",
        kind="gauge",
        help="Jobs still watched, by their last known status.",
        labels=("status",),
    ),
    MetricSpec(name="sweeps_total", kind="counter", help="Watcher sweeps run by this process."),
    MetricSpec(
        name="sweep_duration_seconds",
        kind="histogram",
        help="Wall time of one sweep.",
        buckets=SWEEP_BUCKETS,
    ),
    MetricSpec(
        name="poll_delay_seconds",
        kind="histogram",
        help="How long after its due time each job was polled (polling latency).",
        buckets=POLL_DELAY_BUCKETS,
    ),
    MetricSpec(
        name="sweep_round_trips",
        kind="histogram",
        help="Database statements one sweep sent.",
        buckets=ROUND_TRIP_BUCKETS,
    ),
    MetricSpec(
        name="replica_leases",
        kind="gauge",
        help="Jobs leased right now (being polled), by the replica holding them.",
        labels=("replica",),
    ),
    MetricSpec(name="jobs_claimed_total", kind="counter", help="Jobs leased for a poll."),
    MetricSpec(
        name="provider_calls_total", kind="counter", help="Provider calls made by the watcher."
    ),
    MetricSpec(
        name="provider_errors_total",
        kind="counter",
        help="Provider errors seen, by kind.",
        labels=("kind",),
    ),
    MetricSpec(name="notices_sent_total", kind="counter", help="Notices posted to chat."),
    MetricSpec(name="notices_failed_total", kind="counter", help="Notice posts that failed."),
    MetricSpec(
        name="notification_latency_seconds",
        kind="histogram",
        help="From a notice's enqueueing (the poll that saw the news) to its post.",
        buckets=LATENCY_BUCKETS,
    ),
    MetricSpec(
        name="housekeeping_deleted_total",
        kind="counter",
        help="Old rows deleted, by table.",
        labels=("table",),
    ),
    MetricSpec(
        name="resync_recovered_total", kind="counter", help="Jobs the resync watched again."
    ),
    MetricSpec(
        name="webhooks_total",
        kind="counter",
        help="OpenAI webhook deliveries, by outcome.",
        labels=("outcome",),
    ),
)


def _make(spec: MetricSpec, registry: CollectorRegistry) -> Counter | Gauge | Histogram:
    name = f"{PREFIX}_{spec.name}"
    match spec.kind:
        case "counter":
            return Counter(name, spec.help, spec.labels, registry=registry)
        case "gauge":
            return Gauge(name, spec.help, spec.labels, registry=registry)
        case "histogram":
            return Histogram(name, spec.help, spec.labels, registry=registry, buckets=spec.buckets)


class Metrics:
    """The catalogue's series in a registry of this app's own, so that several bots in one
    process (tests, benchmarks) never share or collide; gauges may be read live at scrape time.
    """

    def __init__(self, catalogue: Iterable[MetricSpec] = CATALOGUE) -> None:
        self.registry = CollectorRegistry()
        self._series = {spec.name: _make(spec, self.registry) for spec in catalogue}
        self._collectors: list[Callable[[], Awaitable[None]]] = []

    def _get(self, name: str, kind: type[Series]) -> Series:
        series = self._series.get(name)
        if not isinstance(series, kind):
            raise KeyError(
                f"{name!r} is not a {kind.__name__.lower()} of bot.infra.metrics.CATALOGUE"
            )
        return series

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        counter = self._get(name, Counter)
        (counter.labels(**labels) if labels else counter).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        gauge = self._get(name, Gauge)
        (gauge.labels(**labels) if labels else gauge).set(value)

    def clear(self, name: str) -> None:
        """Forget every labelled child, so statuses no longer seen stop being reported."""
        self._get(name, Gauge).clear()

    def observe(self, name: str, value: float, **labels: str) -> None:
        histogram = self._get(name, Histogram)
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def collect_with(self, collector: Callable[[], Awaitable[None]]) -> None:
        self._collectors.append(collector)

    async def render(self) -> str:
        """The Prometheus text exposition (CONTENT_TYPE), after refreshing the live gauges."""
        for collector in self._collectors:
            await collector()
        return generate_latest(self.registry).decode("utf-8")
