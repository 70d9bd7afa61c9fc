"""Application: the one function that builds the core (service, watcher, dispatcher).

The runtime, the demo, tests/world.py and the benchmarks all call it, so the tests wire the
core the way production does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta

from bot.infra.dispatcher import Dispatcher
from bot.providers import registry
from bot.providers.prices import family_prices
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from handlers.fairness import LongWork
from handlers.governance import DEFAULT_APPROVAL_TTL
from handlers.model import Platform, Role
from handlers.playground import PlaygroundSettings
from handlers.ports import (
    ChartRenderer,
    Clock,
    KeyChecker,
    Notifier,
    ProviderDirectory,
    Store,
    Tokenizer,
    WatchStore,
)
from handlers.pricing import PriceTable
from handlers.profile import AccountKind, ProviderProfile
from handlers.service import Service
from handlers.watch import Watcher, WatchSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceOptions:
    """What the service may be given beyond its collaborators; None keeps its own default."""

    instance: str = "default"
    tokenizer: Tokenizer | None = None
    prices: PriceTable | None = None
    """None: the sandbox family's table, the one the tests, benchmarks and demo run on (the
    runtime passes the deployment family's, or the operator's copy)."""
    keys: KeyChecker | None = None
    default_role: Role = Role.OPERATOR
    approval_ttl: timedelta = DEFAULT_APPROVAL_TTL
    self_approval: bool = False
    confirm_over: float | None = None
    """A typed start estimated above this many dollars asks to be confirmed; None: never."""
    credentials_changed: Callable[[str], None] | None = None
    playground: PlaygroundSettings | None = None
    long_work: LongWork | None = None
    cpu: Executor | None = None
    accounts: Mapping[str, AccountKind] | None = None
    """The account kinds teams may set up; None: every registered provider family's."""
    account_families: Mapping[str, str] | None = None
    """The family each account kind's key is for; None: the registry's."""
    profiles: Sequence[ProviderProfile] | None = None
    """The families `/finetune providers` lists; None: the registry's."""


def _sandbox_prices() -> PriceTable:
    return family_prices(registry.family(SANDBOX.name))


@dataclass(frozen=True, slots=True, kw_only=True)
class Core:
    service: Service
    watcher: Watcher
    dispatcher: Dispatcher


def build_core(
    *,
    store: Store,
    watch_store: WatchStore,
    providers: ProviderDirectory,
    clock: Clock,
    charts: ChartRenderer,
    notifiers: Mapping[Platform, Notifier],
    owner: str,
    options: ServiceOptions | None = None,
    watch: WatchSettings | None = None,
    pace: Mapping[Platform, float] | None = None,
    lease_seconds: float = 60.0,
    dispatch_batch: int = 50,
) -> Core:
    """The service answers commands, the watcher polls jobs, the dispatcher posts what they
    planned; all three share one store, one provider directory and one clock."""
    opts = options or ServiceOptions()
    service = Service(
        store=store,
        watch_store=watch_store,
        providers=providers,
        clock=clock,
        charts=charts,
        instance=opts.instance,
        tokenizer=opts.tokenizer,
        prices=opts.prices if opts.prices is not None else _sandbox_prices(),
        keys=opts.keys,
        default_role=opts.default_role,
        approval_ttl=opts.approval_ttl,
        self_approval=opts.self_approval,
        confirm_over=opts.confirm_over,
        credentials_changed=opts.credentials_changed,
        playground=opts.playground,
        long_work=opts.long_work,
        cpu=opts.cpu,
        accounts=registry.accounts() if opts.accounts is None else opts.accounts,
        profiles=registry.profiles() if opts.profiles is None else opts.profiles,
        account_families=(
            registry.account_families() if opts.account_families is None else opts.account_families
        ),
    )
    watcher = Watcher(
        store=store,
        watch_store=watch_store,
        providers=providers,
        clock=clock,
        charts=charts,
        owner=owner,
        settings=watch,
    )
    dispatcher = Dispatcher(
        watch_store=watch_store,
        notifiers=notifiers,
        clock=clock,
        owner=owner,
        pace=pace,
        lease_seconds=lease_seconds,
        batch=dispatch_batch,
    )
    return Core(service=service, watcher=watcher, dispatcher=dispatcher)
