"""/metrics through prometheus_client: the documented names, a registry per app, fixed labels."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.infra.metrics import Metrics
from bot.infra.web import build_web_app
from tests.scrape import declared, sample, sample_names

# The series as scraped before prometheus_client served them: dashboards and alerts use these.
SCRAPED = {
    "finetune_bot_outbox_depth": "gauge",
    "finetune_bot_outbox_oldest_age_seconds": "gauge",
    "finetune_bot_jobs_watched": "gauge",
    "finetune_bot_sweeps_total": "counter",
    "finetune_bot_sweep_duration_seconds": "histogram",
    "finetune_bot_poll_delay_seconds": "histogram",
    "finetune_bot_sweep_round_trips": "histogram",
    "finetune_bot_replica_leases": "gauge",
    "finetune_bot_jobs_claimed_total": "counter",
    "finetune_bot_provider_calls_total": "counter",
    "finetune_bot_provider_errors_total": "counter",
    "finetune_bot_notices_sent_total": "counter",
    "finetune_bot_notices_failed_total": "counter",
    "finetune_bot_notification_latency_seconds": "histogram",
    "finetune_bot_housekeeping_deleted_total": "counter",
    "finetune_bot_resync_recovered_total": "counter",
    "finetune_bot_webhooks_total": "counter",
}


def touch_every_series(metrics: Metrics) -> None:
    metrics.set("outbox_depth", 3)
    metrics.set("outbox_oldest_age_seconds", 12.5)
    metrics.set("jobs_watched", 2, status="running")
    for name in ("sweeps_total", "jobs_claimed_total", "provider_calls_total"):
        metrics.inc(name)
    metrics.inc("provider_errors_total", 2, kind="rate_limit")
    metrics.inc("notices_sent_total", 4)
    metrics.inc("notices_failed_total")
    metrics.observe("sweep_duration_seconds", 0.3)
    metrics.observe("poll_delay_seconds", 1.5)
    metrics.observe("sweep_round_trips", 12)
    metrics.set("replica_leases", 40, replica="host-1")
    metrics.observe("notification_latency_seconds", 31)
    metrics.inc("housekeeping_deleted_total", 5, table="outbox")
    metrics.inc("resync_recovered_total")
    metrics.inc("webhooks_total", outcome="accepted")


async def test_the_scrape_declares_the_same_series_and_nothing_else() -> None:
    metrics = Metrics()
    assert declared(await metrics.render()) == SCRAPED
    touch_every_series(metrics)
    text = await metrics.render()
    assert declared(text) == SCRAPED
    histograms = {name for name, kind in SCRAPED.items() if kind == "histogram"}
    expected = {name for name in SCRAPED if name not in histograms} | {
        f"{name}{suffix}" for name in histograms for suffix in ("_bucket", "_count", "_sum")
    }
    assert sample_names(text) == expected  # no `_created` or process series beside them
    assert sample(text, "finetune_bot_provider_errors_total", kind="rate_limit") == 2
    assert sample(text, "finetune_bot_notification_latency_seconds_bucket", le="30.0") == 0
    assert sample(text, "finetune_bot_notification_latency_seconds_bucket", le="60.0") == 1
    assert sample(text, "finetune_bot_notification_latency_seconds_sum") == 31


async def test_two_apps_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.inc("sweeps_total")
    first.inc("sweeps_total")
    second.inc("sweeps_total")
    assert sample(await first.render(), "finetune_bot_sweeps_total") == 2
    assert sample(await second.render(), "finetune_bot_sweeps_total") == 1


async def test_cleared_statuses_stop_being_reported() -> None:
    metrics = Metrics()
    metrics.set("jobs_watched", 1, status="queued")
    metrics.clear("jobs_watched")
    metrics.set("jobs_watched", 4, status="running")
    text = await metrics.render()
    assert sample(text, "finetune_bot_jobs_watched", status="queued") is None
    assert sample(text, "finetune_bot_jobs_watched", status="running") == 4


def test_a_series_outside_the_catalogue_or_of_another_type_is_refused() -> None:
    metrics = Metrics()
    with pytest.raises(KeyError, match="'sweeps' is not a counter"):
        metrics.inc("sweeps")
    with pytest.raises(KeyError, match="'outbox_depth' is not a counter"):
        metrics.inc("outbox_depth")
    with pytest.raises(KeyError, match="'sweeps_total' is not a histogram"):
        metrics.observe("sweeps_total", 1.0)


def test_labels_are_the_documented_ones() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="label"):
        metrics.inc("provider_errors_total")  # a kind is required
    with pytest.raises(ValueError, match="label"):
        metrics.inc("webhooks_total", kind="accepted")  # it is `outcome`


async def test_the_endpoint_serves_the_text_format_with_live_gauges() -> None:
    metrics = Metrics()
    scrapes: list[int] = []

    async def collect() -> None:
        scrapes.append(1)
        metrics.set("outbox_depth", 10 * len(scrapes))

    metrics.collect_with(collect)
    runner = web.AppRunner(build_web_app(metrics=metrics, checks={}), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            for expected in (10, 20):
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"] == (
                        "text/plain; version=0.0.4; charset=utf-8"
                    )
                    text = await response.text()
                assert sample(text, "finetune_bot_outbox_depth") == expected
    finally:
        await runner.cleanup()
