"""Application: builds every piece from Settings and owns the start and stop order."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web
from sqlalchemy import text

from bot.app.config import Settings, check_provider
from bot.app.platforms import build_adapters, configured, nothing_configured
from bot.app.shutdown import STEP_SECONDS, Stopper, bounded
from bot.app.startup import database_problem
from bot.app.supervisor import Supervisor
from bot.app.wiring import ServiceOptions, build_core
from bot.chat import tempfiles
from bot.chat.base import AdapterContext, ChatAdapter
from bot.directory import AccountKeyChecker, TeamProviderDirectory
from bot.infra import netlog, redact
from bot.infra.charts import MatplotlibChartRenderer
from bot.infra.clock import SystemClock
from bot.infra.dispatcher import Dispatcher
from bot.infra.housekeeping import Purged, purge
from bot.infra.metrics import Metrics
from bot.infra.nudge import DispatchNudge
from bot.infra.recovery import Resyncer
from bot.infra.round_trips import RoundTrips, counting
from bot.infra.scheduler import Ticker
from bot.infra.tokenizer import TiktokenTokenizer
from bot.infra.waker import Waker
from bot.infra.watch_metrics import collect_watched, record_dispatch, record_sweep
from bot.infra.web import ReadinessCheck, WebServer, build_web_app
from bot.providers import registry
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.openai.webhooks import openai_webhook_routes
from bot.providers.prices import deployment_prices
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from bot.providers.sandbox_together import factory as sandbox_together
from bot.providers.sandbox_together.profile import PROFILE as SANDBOX_TOGETHER
from handlers.commands.catalog import cap_option
from handlers.errors import ConfigError
from handlers.fairness import LongWork
from handlers.model import Platform
from handlers.playground import PlaygroundSettings
from handlers.ports import Clock, FineTuning, KeyChecker, Notifier
from handlers.pricing import stale_warning
from handlers.service import Service
from handlers.watch import SweepStats, Watcher, WatchSettings
from storage import crypto
from storage.engine import create_engine, migrate, writing_engine
from storage.store import SqlStore

log = logging.getLogger(__name__)

FIRST_ATTEMPT_SECONDS = 10.0
"""How long start-up waits for each platform's first connection try before going on."""


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
    return found.load().build(settings, clock)


def build_companions(
    settings: Settings,
    clock: Clock,
    *,
    timing: SandboxTiming | None = None,
    family: str | None = None,
) -> tuple[FineTuning, ...]:
    """The families the deployment's family (`family`, else FINETUNE_BOT_PROVIDER's) also
    serves on its own account (the registry's `Family.companions`), on the same clock;
    `timing` is the sandbox's when a caller set it (tests, the demo), so a simulated
    companion keeps the sandbox's pace."""
    found = registry.family(family or settings.provider)
    built: list[FineTuning] = []
    for name in found.companions:
        if timing is not None and name == SANDBOX_TOGETHER.name:
            built.append(sandbox_together.build(settings, clock, timing=timing))
        else:
            built.append(registry.family(name).load().build(settings, clock))
    return tuple(built)


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
    directory: TeamProviderDirectory | None = None
    """Which account serves each team (resync scans every team's own one)."""
    round_trips: RoundTrips | None = None
    """Counts each sweep's database statements for /metrics."""
    nudge: DispatchNudge | None = None
    """Dispatches a sweep's news as it is committed (wired by `schedule_ticks`)."""
    wakers: list[Waker] = field(default_factory=list)
    """The wake-ups made by `webhook_waker` (a start, a webhook): stopped with the ticks."""

    async def stop_ticks(self) -> None:
        """No more ticks, dispatches after news or wake-ups; running ones get most of one stop
        step, then are cancelled and awaited, all before the engine is disposed."""
        grace = STEP_SECONDS - 1
        nudge = [self.nudge.stop(grace=grace)] if self.nudge is not None else []
        wakers = [waker.stop(grace=grace) for waker in self.wakers]
        await asyncio.gather(self.ticker.stop(), *nudge, *wakers)

    @property
    def resyncer(self) -> Resyncer:
        return Resyncer(
            store=self.store,
            clock=self.clock,
            metrics=self.metrics,
            provider=self.provider,
            directory=self.directory,
        )

    async def housekeeping(self) -> Purged:
        """One housekeeping tick: purge old rows, then settle starts left open."""
        purged = await purge(
            store=self.store,
            clock=self.clock,
            metrics=self.metrics,
            outbox_retention_days=self.settings.outbox_retention_days,
        )
        await self.resyncer.settle_intents()
        return purged


def webhook_waker(runtime: Runtime) -> Waker:
    """A webhook's wake-up over this runtime's watcher and dispatcher, stopped with its ticks."""
    waker = Waker(
        watcher=runtime.watcher,
        dispatcher=runtime.dispatcher,
        clock=runtime.clock,
        metrics=runtime.metrics,
        round_trips=runtime.round_trips,
    )
    runtime.wakers.append(waker)
    return waker


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


async def build_runtime(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    notifiers: Mapping[Platform, Notifier],
    clock: Clock | None = None,
    provider: FineTuning | None = None,
    companions: Sequence[FineTuning] | None = None,
    watch_settings: WatchSettings | None = None,
    pace: Mapping[Platform, float] | None = None,
    owner: str | None = None,
    store_completions: bool = False,
) -> Runtime:
    """Store, provider, service, watcher and dispatcher; the caller starts web and ticks.

    `companions`: the other families the deployment's account serves (None: built from the
    registry, at the pace of a sandbox `provider` the caller passed; () offers none).
    `store_completions`: `try` keeps its completions for `dataset from-logs` (the console)."""
    # Before any adapter reads the catalogue: parsing, help and Discord's slots share it.
    cap_option("compare", "n", settings.compare_max_examples)
    clock = clock or SystemClock()
    owner = owner or instance_name()
    try:
        engine = create_engine(settings.database_url)
    except OSError as error:  # the SQLite file's directory cannot be made
        raise ConfigError(
            f"DATABASE_URL: cannot create the SQLite database's directory ({error.strerror}); "
            "check the path and its permissions"
        ) from None
    stack.push_async_callback(bounded("the database", engine.dispose))
    try:
        await migrate(engine, deployment_family=registry.family(settings.provider).name)
    except Exception as error:
        problem = database_problem(settings.database_url, error)
        if problem is None:
            raise
        raise ConfigError(problem) from None
    store = SqlStore(engine, clock=clock.now)
    await use_encryption_keys(settings, store)
    if provider is None:
        provider = build_provider(settings, clock)
        close = getattr(provider, "aclose", None)
        if close is not None:
            stack.push_async_callback(close)
    if companions is None:
        pace_of = provider.timing if isinstance(provider, SandboxProvider) else None
        companions = build_companions(
            settings, clock, timing=pace_of, family=provider.profile.name
        )
        for companion in companions:
            close = getattr(companion, "aclose", None)
            if close is not None:
                stack.push_async_callback(close)
    endpoints = EndpointPolicy(
        allowlist=settings.endpoint_allowlist,
        ambient_identity=settings.ambient_cloud_identity,
    )
    family = registry.family(provider.profile.name)
    directory = TeamProviderDirectory(
        store=store,
        fallback=provider,
        companions=companions,
        keep_fallback=not family.team_accounts,
        policy=endpoints,
    )
    stack.push_async_callback(directory.aclose)
    keys: KeyChecker = (
        AccountKeyChecker(endpoints)
        if family.team_accounts
        else family.load().key_checker(endpoints)  # e.g. the sandbox keeps its own for all
    )
    charts = MatplotlibChartRenderer()
    scratch = tempfiles.private_dir()
    await asyncio.to_thread(tempfiles.sweep, scratch)  # what a SIGKILL left: a team's data
    cpu = ThreadPoolExecutor(
        max_workers=settings.validation_threads, thread_name_prefix="ftbot-validate"
    )
    stack.callback(cpu.shutdown, wait=False, cancel_futures=True)
    watch = watch_settings or watch_settings_of(settings)
    prices = deployment_prices(family, settings.prices_file)
    core = build_core(
        store=store,
        watch_store=store,
        providers=directory,
        clock=clock,
        charts=charts,
        notifiers=notifiers,
        owner=owner,
        options=ServiceOptions(
            tokenizer=TiktokenTokenizer(),
            prices=prices,
            keys=keys,
            default_role=settings.default_role,
            approval_ttl=timedelta(hours=settings.approval_ttl_hours),
            self_approval=settings.self_approval,
            confirm_over=settings.confirm_over_usd,
            credentials_changed=directory.forget,
            playground=PlaygroundSettings(
                concurrency=settings.compare_concurrency,
                max_examples=settings.compare_max_examples,
                scratch_dir=scratch,
                store_completions=store_completions,
            ),
            long_work=LongWork(per_team=settings.team_long_tasks, total=settings.long_tasks),
            cpu=cpu,
        ),
        watch=watch,
        pace=pace,
        lease_seconds=settings.lease_seconds,
    )
    metrics = Metrics()
    collect_watched(store, metrics, clock)

    async def collect() -> None:
        depth, age = await store.outbox_stats(now=clock.now())
        metrics.set("outbox_depth", depth)
        metrics.set("outbox_oldest_age_seconds", age)

    metrics.collect_with(collect)
    # Ticks get most of one stop step to finish; the step's own limit is the backstop.
    # After the ticks stop: the polls of a slow account that outlived their sweep.
    stack.push_async_callback(bounded("the slow accounts' polls", core.watcher.stop))
    ticker = Ticker(grace_seconds=STEP_SECONDS - 1)
    runtime = Runtime(
        settings=settings,
        store=store,
        provider=provider,
        service=core.service,
        watcher=core.watcher,
        dispatcher=core.dispatcher,
        ticker=ticker,
        metrics=metrics,
        clock=clock,
        owner=owner,
        directory=directory,
        round_trips=RoundTrips(store.engine),
    )
    stack.push_async_callback(bounded("the ticks", runtime.stop_ticks))
    return runtime


def schedule_ticks(runtime: Runtime) -> None:
    """Sweep and dispatch ticks on the running loop, feeding /metrics as they go."""
    settings = runtime.settings
    metrics = runtime.metrics

    async def sweep() -> SweepStats:
        started = runtime.clock.now()
        with counting(runtime.round_trips) as trips:
            stats = await runtime.watcher.sweep()
        elapsed = (runtime.clock.now() - started) / timedelta(seconds=1)
        record_sweep(metrics, stats, elapsed, trips.statements if trips else None)
        return stats

    async def dispatch() -> None:
        record_dispatch(metrics, await runtime.dispatcher.tick())

    # A sweep's news goes out as each account's polls commit, not at the next dispatch tick.
    runtime.nudge = DispatchNudge(runtime.dispatcher, metrics)
    runtime.watcher.on_news(runtime.nudge)
    runtime.ticker.every(settings.sweep_seconds, "sweep", sweep)
    runtime.ticker.every(settings.dispatch_seconds, "dispatch", dispatch)
    runtime.ticker.every(settings.housekeeping_seconds, "housekeeping", runtime.housekeeping)
    runtime.ticker.start()


@dataclass(slots=True)
class RunningBot:
    runtime: Runtime
    web: WebServer
    adapters: list[ChatAdapter]
    supervisors: list[Supervisor]


async def start_bot(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    clock: Clock | None = None,
    provider: FineTuning | None = None,
) -> RunningBot:
    """Store, provider, core, web server, configured adapters and ticks, stopped by `stack`."""
    redact.install()
    netlog.install()
    check_provider(settings)
    if not configured(settings):
        raise ConfigError(nothing_configured())
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
        database_engine=writing_engine(runtime.store.engine),
    )
    adapters = build_adapters(settings, context)
    for adapter in adapters:
        notifiers[adapter.platform] = adapter.notifier
    supervisors = [Supervisor(adapter) for adapter in adapters]
    routes = [route for adapter in adapters for route in adapter.web_routes()]
    wake = webhook_waker(runtime)
    # A start's card goes out, and its job is polled, right away rather than at the next tick.
    runtime.service.wake_with(wake)
    routes += webhook_routes(runtime, wake=wake)
    await runtime.resyncer.at_start()
    server = await run_web(runtime, stack, routes=routes, supervisors=supervisors)
    for supervisor in supervisors:
        stack.push_async_callback(bounded(f"the {supervisor.name} adapter", supervisor.stop))
    schedule_ticks(runtime)
    # Unwound first: ticks stop (and finish) before the adapters they post through close.
    stack.push_async_callback(bounded("the ticks", runtime.stop_ticks))
    # Platforms connect in the background, after the watcher is up: one that is down or
    # refuses its token is retried without holding up the watcher or the other platform.
    # The first try gets a moment, so a reachable platform is connected when this returns.
    for supervisor in supervisors:
        supervisor.start()
    await asyncio.gather(*(s.first_attempt(within=FIRST_ATTEMPT_SECONDS) for s in supervisors))
    log.info("bot started", extra={"adapters": [a.platform.value for a in adapters]})
    # Once running (a start-up problem stays the one line it is): an old price table is named.
    if stale := stale_warning(runtime.service.prices, runtime.clock.now().date()):
        log.warning(stale)
    return RunningBot(runtime=runtime, web=server, adapters=adapters, supervisors=supervisors)


def watch_settings_of(settings: Settings) -> WatchSettings:
    """The watcher's settings from the deployment's."""
    return WatchSettings(
        running_poll_seconds=settings.running_poll_seconds,
        slow_poll_seconds=settings.queued_poll_seconds,
        metric_interval_seconds=settings.metric_interval_seconds,
        lease_seconds=settings.lease_seconds,
        claim_limit=settings.claim_limit,
    )


async def serve(settings: Settings) -> int:
    """`finetune-bot run`: everything `start_bot` starts, until SIGTERM or SIGINT.

    A signal during start-up stops it too; the stop runs each step under a limit, and a
    second signal or the deadline ends the process at once.
    """
    stopper = Stopper()
    with stopper.installed():
        async with AsyncExitStack() as stack:
            starting = asyncio.ensure_future(start_bot(settings, stack))
            stopping = asyncio.ensure_future(stopper.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.wait({starting})
            elif starting.exception() is not None:
                stopping.cancel()
                starting.result()  # raises the start-up problem (ConfigError: one line)
            await stopping
            log.info("stopping")
    return 0


async def run_web(
    runtime: Runtime,
    stack: AsyncExitStack,
    *,
    routes: Sequence[web.RouteDef] = (),
    supervisors: Sequence[Supervisor] = (),
) -> WebServer:
    engine = runtime.store.engine

    async def database() -> tuple[bool, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True, ""

    checks: dict[str, ReadinessCheck] = {"database": database}
    for supervisor in supervisors:
        checks[supervisor.name] = supervisor.ready  # /readyz names the platform that is down
    app = build_web_app(metrics=runtime.metrics, checks=checks)
    app.add_routes(list(routes))
    settings = runtime.settings
    server = WebServer(app, host=settings.http_host, port=settings.http_port)
    try:
        await server.start()
    except OSError as error:
        await server.stop()
        reason = "in use" if error.errno == errno.EADDRINUSE else f"unusable ({error.strerror})"
        raise ConfigError(
            f"FINETUNE_BOT_HTTP_PORT: port {settings.http_port} on {settings.http_host} is "
            f"{reason}; stop what holds it or export FINETUNE_BOT_HTTP_PORT=another port"
        ) from None
    stack.push_async_callback(bounded("the web server", server.stop))
    return server
