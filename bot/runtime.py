"""Composition root: builds every piece from Settings and owns the start and stop order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy import text

from bot import redact, upkeep
from bot.adapters import AdapterContext, ChatAdapter, build_adapters
from bot.charts import MatplotlibChartRenderer
from bot.clock import SystemClock
from bot.config import Settings, check_provider
from bot.directory import TeamProviderDirectory
from bot.dispatcher import Dispatcher
from bot.metrics import Metrics
from bot.providers import registry
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider, SandboxTiming
from bot.scheduler import Ticker
from bot.tokenizer import TiktokenTokenizer
from bot.web import ReadinessCheck, WebServer, build_web_app
from handlers.errors import ConfigError
from handlers.model import Platform
from handlers.playground import PlaygroundSettings
from handlers.ports import Clock, FineTuning, KeyChecker, Notifier
from handlers.pricing import load_price_table
from handlers.service import Service
from handlers.watch import SweepStats, Watcher, WatchSettings
from storage import crypto
from storage.engine import create_engine, migrate
from storage.store import SqlStore

log = logging.getLogger(__name__)


def instance_name() -> str:
    """A stable-enough name for this process, used as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_provider(
    settings: Settings, clock: Clock, *, timing: SandboxTiming | None = None
) -> FineTuning:
    """The deployment's provider, built by the family FINETUNE_BOT_PROVIDER names."""
    found = registry.family(settings.provider)
    if timing is not None and found.profile is SANDBOX:
        return SandboxProvider(clock, state_path=settings.sandbox_state, timing=timing)
    return found.build(settings, clock)


async def use_encryption_keys(settings: Settings, store: SqlStore) -> None:
    """Configure the key ring; refuse to start when team keys are stored but cannot be read."""
    secret = settings.encryption_keys
    ring = crypto.use_keys(crypto.parse_keys(secret.get_secret_value() if secret else None))
    if ring is None:
        stored = await store.count_credentials()
        if stored:
            raise ConfigError(
                f"{stored} team key(s) are stored but FINETUNE_BOT_ENCRYPTION_KEYS is not set: "
                "export FINETUNE_BOT_ENCRYPTION_KEYS with the key(s) they were encrypted with."
            )


@dataclass(slots=True)
class Runtime:
    """Everything one bot process runs, built in order inside one AsyncExitStack."""

    settings: Settings
    store: SqlStore
    provider: FineTuning
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
    provider: FineTuning | None = None,
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
    await use_encryption_keys(settings, store)
    if provider is None:
        provider = build_provider(settings, clock)
        close = getattr(provider, "aclose", None)
        if close is not None:
            stack.push_async_callback(close)
    endpoints = EndpointPolicy(allowlist=settings.endpoint_allowlist)
    family = registry.family(provider.profile.name)
    directory = TeamProviderDirectory(
        store=store,
        fallback=provider,
        keep_fallback=family.team_factory is None,
        policy=endpoints,
    )
    stack.push_async_callback(directory.aclose)
    keys: KeyChecker = family.key_checker(endpoints)
    charts = MatplotlibChartRenderer()
    service = Service(
        store=store,
        watch_store=store,
        providers=directory,
        clock=clock,
        charts=charts,
        tokenizer=TiktokenTokenizer(),
        prices=load_price_table(settings.prices_file),
        keys=keys,
        default_role=settings.default_role,
        approval_ttl=timedelta(hours=settings.approval_ttl_hours),
        credentials_changed=directory.forget,
        accounts=registry.accounts(),
        playground=PlaygroundSettings(
            concurrency=settings.compare_concurrency,
            max_examples=settings.compare_max_examples,
        ),
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
    stack.push_async_callback(ticker.stop)
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


@dataclass(slots=True)
class RunningBot:
    runtime: Runtime
    web: WebServer
    adapters: list[ChatAdapter]


async def start_bot(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    clock: Clock | None = None,
    provider: FineTuning | None = None,
) -> RunningBot:
    """Store, provider, core, web server, configured adapters and ticks, stopped by `stack`."""
    redact.install()
    check_provider(settings)
    if not settings.slack_configured and not settings.discord_configured:
        raise ConfigError(
            "Neither Slack nor Discord is configured: set SLACK_BOT_TOKEN or DISCORD_TOKEN "
            "(or try the bot in a terminal with `finetune-bot console`)."
        )
    notifiers: dict[Platform, Notifier] = {}
    runtime = await build_runtime(
        settings, stack, notifiers=notifiers, clock=clock, provider=provider
    )
    context = AdapterContext(
        service=runtime.service,
        store=runtime.store,
        watch_store=runtime.store,
        clock=runtime.clock,
        settings=settings,
        metrics=runtime.metrics,
        database_engine=runtime.store.engine,
    )
    adapters = build_adapters(settings, context)
    for adapter in adapters:
        notifiers[adapter.platform] = adapter.notifier
    routes = [route for adapter in adapters for route in adapter.web_routes()]
    routes += upkeep.webhook_routes(runtime, wake=upkeep.Waker(runtime))
    await upkeep.resync_at_start(runtime)
    server = await run_web(runtime, stack, routes=routes, adapters=adapters)
    for adapter in adapters:
        await adapter.start()
        stack.push_async_callback(adapter.stop)
    schedule_ticks(runtime)
    # Unwound first: ticks stop (and finish) before the adapters they post through close.
    stack.push_async_callback(runtime.ticker.stop)
    log.info("bot started", extra={"adapters": [a.platform.value for a in adapters]})
    return RunningBot(runtime=runtime, web=server, adapters=adapters)


async def serve(settings: Settings) -> int:
    """`finetune-bot run`: everything `start_bot` starts, until SIGTERM or SIGINT."""
    async with AsyncExitStack() as stack:
        await start_bot(settings, stack)
        await wait_for_stop()
    return 0


async def run_web(
    runtime: Runtime,
    stack: AsyncExitStack,
    *,
    routes: Sequence[web.RouteDef] = (),
    adapters: Sequence[ChatAdapter] = (),
) -> WebServer:
    engine = runtime.store.engine

    async def database() -> tuple[bool, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True, ""

    checks: dict[str, ReadinessCheck] = {"database": database}
    for adapter in adapters:
        checks[adapter.platform.value] = adapter.ready
    app = build_web_app(metrics=runtime.metrics, checks=checks)
    app.add_routes(list(routes))
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
