"""Composition root: builds every piece from Settings and owns the start and stop order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from bot import upkeep
from bot.charts import MatplotlibChartRenderer
from bot.clock import SystemClock
from bot.config import ProviderKind, Settings, check_provider
from bot.directory import SharedProviderDirectory
from bot.dispatcher import Dispatcher
from bot.metrics import Metrics
from bot.providers.openai import OpenAIProvider
from bot.providers.sandbox import DEFAULT_TIMING, SandboxProvider, SandboxTiming
from bot.scheduler import Ticker
from bot.web import WebServer, build_web_app
from handlers.errors import ConfigError
from handlers.model import Platform
from handlers.ports import Clock, Notifier, Provider
from handlers.service import Service
from handlers.watch import SweepStats, Watcher, WatchSettings
from storage.engine import create_engine, migrate
from storage.store import SqlStore

log = logging.getLogger(__name__)


def instance_name() -> str:
    """A stable-enough name for this process, used as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_provider(
    settings: Settings, clock: Clock, *, timing: SandboxTiming | None = None
) -> Provider:
    check_provider(settings)
    match settings.provider:
        case ProviderKind.SANDBOX:
            return SandboxProvider(
                clock, state_path=settings.sandbox_state, timing=timing or DEFAULT_TIMING
            )
        case ProviderKind.AZURE:
            assert settings.azure_openai_endpoint is not None
            assert settings.azure_openai_api_key is not None
            return OpenAIProvider.azure(
                endpoint=settings.azure_openai_endpoint,
                api_key=settings.azure_openai_api_key.get_secret_value(),
                api_version=settings.openai_api_version,
            )
        case ProviderKind.OPENAI:
            assert settings.openai_api_key is not None
            return OpenAIProvider.openai(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
            )
    raise ConfigError(f"FINETUNE_BOT_PROVIDER {settings.provider} is not supported.")


@dataclass(slots=True)
class Runtime:
    """Everything one bot process runs, built in order inside one AsyncExitStack."""

    settings: Settings
    store: SqlStore
    provider: Provider
    service: Service
    watcher: Watcher
    dispatcher: Dispatcher
    ticker: Ticker
    metrics: Metrics
    clock: Clock
    owner: str


async def build_runtime(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    notifiers: Mapping[Platform, Notifier],
    clock: Clock | None = None,
    provider: Provider | None = None,
    watch_settings: WatchSettings | None = None,
    pace: Mapping[Platform, float] | None = None,
    owner: str | None = None,
) -> Runtime:
    """Store, provider, service, watcher and dispatcher; the caller starts web and ticks."""
    clock = clock or SystemClock()
    owner = owner or instance_name()
    engine = create_engine(settings.database_url)
    stack.push_async_callback(engine.dispose)
    await migrate(engine)
    store = SqlStore(engine, clock=clock.now)
    if provider is None:
        provider = build_provider(settings, clock)
        close = getattr(provider, "aclose", None)
        if close is not None:
            stack.push_async_callback(close)
    directory = SharedProviderDirectory(provider)
    charts = MatplotlibChartRenderer()
    service = Service(
        store=store, watch_store=store, providers=directory, clock=clock, charts=charts
    )
    watch = watch_settings or WatchSettings(
        running_poll_seconds=settings.running_poll_seconds,
        slow_poll_seconds=settings.queued_poll_seconds,
        metric_interval_seconds=settings.metric_interval_seconds,
        lease_seconds=settings.lease_seconds,
    )
    watcher = Watcher(
        store=store,
        watch_store=store,
        providers=directory,
        clock=clock,
        charts=charts,
        owner=owner,
        settings=watch,
    )
    dispatcher = Dispatcher(
        watch_store=store,
        notifiers=notifiers,
        clock=clock,
        owner=owner,
        pace=pace,
        lease_seconds=settings.lease_seconds,
    )
    metrics = Metrics()
    _describe_metrics(metrics)
    upkeep.describe(metrics)
    upkeep.collect_watched(store, metrics)

    async def collect() -> None:
        depth, age = await store.outbox_stats(now=clock.now())
        metrics.set("outbox_depth", depth)
        metrics.set("outbox_oldest_age_seconds", age)

    metrics.collect_with(collect)
    ticker = Ticker()
    stack.callback(ticker.stop)
    return Runtime(
        settings=settings,
        store=store,
        provider=provider,
        service=service,
        watcher=watcher,
        dispatcher=dispatcher,
        ticker=ticker,
        metrics=metrics,
        clock=clock,
        owner=owner,
    )


def _describe_metrics(metrics: Metrics) -> None:
    metrics.describe("outbox_depth", "gauge", "Notices waiting to be posted.")
    metrics.describe("outbox_oldest_age_seconds", "gauge", "Age of the oldest unsent notice.")
    metrics.describe("sweeps_total", "counter", "Watcher sweeps run by this process.")
    metrics.describe("sweep_duration_seconds", "histogram", "Wall time of one sweep.")
    metrics.describe("jobs_claimed_total", "counter", "Jobs leased for a poll.")
    metrics.describe("provider_calls_total", "counter", "Provider calls made by the watcher.")
    metrics.describe("provider_errors_total", "counter", "Provider errors seen, by kind.")
    metrics.describe("notices_sent_total", "counter", "Notices posted to chat.")
    metrics.describe("notices_failed_total", "counter", "Notice posts that failed.")


def schedule_ticks(runtime: Runtime) -> None:
    """Sweep and dispatch ticks on the running loop, feeding /metrics as they go."""
    settings = runtime.settings
    metrics = runtime.metrics

    async def sweep() -> SweepStats:
        started = runtime.clock.now()
        stats = await runtime.watcher.sweep()
        elapsed = (runtime.clock.now() - started) / timedelta(seconds=1)
        upkeep.record_sweep(metrics, stats, elapsed)
        return stats

    async def dispatch() -> None:
        upkeep.record_dispatch(metrics, await runtime.dispatcher.tick())

    runtime.ticker.every(settings.sweep_seconds, "sweep", sweep)
    runtime.ticker.every(settings.dispatch_seconds, "dispatch", dispatch)
    runtime.ticker.every(
        settings.housekeeping_seconds, "housekeeping", lambda: upkeep.housekeeping(runtime)
    )
    runtime.ticker.start()


async def serve(settings: Settings) -> int:
    """`finetune-bot run`: web server, configured adapters and ticks until SIGTERM or SIGINT."""
    check_provider(settings)
    if not settings.slack_configured and not settings.discord_configured:
        raise ConfigError(
            "Neither Slack nor Discord is configured: set SLACK_BOT_TOKEN or DISCORD_TOKEN "
            "(or try the bot in a terminal with `finetune-bot console`)."
        )
    raise ConfigError(
        "The Slack and Discord adapters are not part of this build yet; "
        "use `finetune-bot console` or `finetune-bot demo`."
    )


async def run_web(runtime: Runtime, stack: AsyncExitStack) -> WebServer:
    engine = runtime.store.engine

    async def database() -> tuple[bool, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True, ""

    app = build_web_app(metrics=runtime.metrics, checks={"database": database})
    server = WebServer(app, host=runtime.settings.http_host, port=runtime.settings.http_port)
    await server.start()
    stack.push_async_callback(server.stop)
    return server


async def wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
