"""Test helpers: a whole bot on real parts (a store, the sandbox provider) with a manual clock.

The store is SQLite unless the caller says otherwise; tests/handlers/conftest.py makes it the
in-memory store there (TEST_STORE=sqlite runs tests/handlers on SQLite instead).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.wiring import ServiceOptions, build_core
from bot.infra.dispatcher import Dispatcher
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.errors import UsageError
from handlers.model import Actor, ChannelAddress, MetricPoint, Platform, Role
from handlers.parse import parse
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Reply
from handlers.requests import Request, UploadRequest, ValidateRequest
from handlers.scope import SharedProviderDirectory
from handlers.service import Service
from handlers.sources import FileSource, PrivateFile, TypedPath
from handlers.watch import Watcher, WatchSettings
from storage.memory.store import MemoryStore
from tests.backends import MEMORY, SQLITE, sqlite_url
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider

if TYPE_CHECKING:
    from tests.dbutil import AnyStore

STORE_ENV = "TEST_STORE"
BACKENDS = (MEMORY, SQLITE)
default_backend = SQLITE
"""What `world` opens when given no url: "memory" or "sqlite" (tests/handlers/conftest.py)."""

TIMING = SandboxTiming(validating_s=10, queued_s=10, step_s=5, max_steps=12, eval_every=4)


def chat_example(i: int) -> str:
    return (
        '{"messages": [{"role": "system", "content": "You are terse."}, '
        f'{{"role": "user", "content": "Question {i}?"}}, '
        f'{{"role": "assistant", "content": "Answer {i}."}}]}}'
    )


def write_dataset(path: Path, n: int = 12) -> Path:
    path.write_text("\n".join(chat_example(i) for i in range(n)) + "\n", encoding="utf-8")
    return path


class FakeCharts:
    """Stands in for matplotlib: records what it was asked to draw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def render(self, title: str, points: Sequence[MetricPoint]) -> bytes:
        self.calls.append((title, len(points)))
        return b"\x89PNG\r\n\x1a\nfake"


@dataclass
class Posted:
    target: ChannelAddress
    reply: Reply
    dedupe_key: str
    message_id: str
    edit_of: str | None
    thread_of: str | None


@dataclass
class RecordingNotifier:
    """A chat that records every post and edit; can be told to fail the next posts."""

    posts: list[Posted] = field(default_factory=list)
    fail_next: int = 0
    counter: int = 0

    async def post(
        self,
        target: ChannelAddress,
        reply: Reply,
        *,
        dedupe_key: str,
        edit_message_id: str | None = None,
        thread_message_id: str | None = None,
        card_key: str | None = None,
    ) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("chat API unavailable")
        self.counter += 1
        message_id = edit_message_id or f"m{self.counter}"
        self.posts.append(
            Posted(target, reply, dedupe_key, message_id, edit_message_id, thread_message_id)
        )
        return message_id

    def dedupe_keys(self) -> list[str]:
        return [p.dedupe_key for p in self.posts]


@dataclass
class World:
    clock: ManualClock
    store: AnyStore
    provider: FaultyProvider
    """The sandbox behind the test hooks: counted calls and injected faults."""
    sandbox: SandboxProvider
    """The same sandbox, for its own knobs (upload parts, file lists)."""
    charts: FakeCharts
    service: Service
    watcher: Watcher
    dispatcher: Dispatcher
    notifier: RecordingNotifier

    async def run(self, line: str, actor: Actor) -> Reply:
        """One command line; a file given by path stands for a file the user shared, as a chat
        adapter hands it over once downloaded (tests/bot and tests/e2e cover that part; a path
        typed in chat itself is refused, see tests/handlers/test_sources.py)."""
        try:
            request = parse(line)
        except UsageError:
            return await self.service.handle_text(line, actor)
        return await self.service.handle(as_shared(request), actor)

    async def settle(self, *, seconds: float, step: float = 5.0) -> None:
        """Advance the clock in steps, sweeping and dispatching after each."""
        elapsed = 0.0
        while elapsed < seconds:
            self.clock.advance(step)
            elapsed += step
            await self.watcher.sweep()
            while (await self.dispatcher.tick()).sent:
                pass


def as_shared(request: Request) -> Request:
    """Typed paths in an upload or validate as the private files an adapter would pass."""

    def shared(source: FileSource | None) -> FileSource | None:
        if isinstance(source, TypedPath):
            return PrivateFile(path=Path(source.text), name=Path(source.text).name)
        return source

    if isinstance(request, UploadRequest):
        return replace(request, file=shared(request.file))
    if isinstance(request, ValidateRequest):
        return replace(request, file=shared(request.file), validation=shared(request.validation))
    return request


def actor(workspace: str = "T1", user: str = "U1", channel: str = "C1") -> Actor:
    return Actor(platform=Platform.SLACK, workspace_id=workspace, channel_id=channel, user_id=user)


@asynccontextmanager
async def _open_store(
    tmp_path: Path, url: str | None, backend: str, clock: Callable[[], datetime]
) -> AsyncIterator[AnyStore]:
    if url is None and backend == MEMORY:
        yield MemoryStore(clock=clock)
        return
    if url is None and backend != SQLITE:
        raise ValueError(f"{STORE_ENV}={backend!r} is not a test store; use one of {BACKENDS}.")
    # The SQL store's helpers load SQLAlchemy: only a world on a database imports them, so
    # tests/handlers on the in-memory store runs without it.
    from tests.dbutil import open_store

    async with open_store(
        url or sqlite_url(tmp_path), clock=clock, clear=url is not None
    ) as store:
        yield store


@asynccontextmanager
async def world(
    tmp_path: Path,
    *,
    url: str | None = None,
    default_role: Role = Role.OPERATOR,
    provider_type: type[SandboxProvider] = SandboxProvider,
    directory: Callable[[FineTuning, AnyStore, ManualClock], ProviderDirectory] | None = None,
    **service_options: Any,
) -> AsyncIterator[World]:
    """`url` opens that SQL database (emptied), else the `default_backend` store opens.
    `default_role` operator keeps tests about jobs short; role tests pass viewer.
    `directory` builds another directory around the world's provider (several families)."""
    clock = ManualClock()
    async with _open_store(tmp_path, url, default_backend, clock) as store:
        sandbox = provider_type(clock, timing=TIMING)
        provider = FaultyProvider(sandbox)
        providers = (
            SharedProviderDirectory(provider)
            if directory is None
            else directory(provider, store, clock)
        )
        charts = FakeCharts()
        notifier = RecordingNotifier()
        settings = WatchSettings(
            running_poll_seconds=5,
            slow_poll_seconds=5,
            slow_poll_max_seconds=5,
            running_poll_max_seconds=5,
            jitter=0.0,
            metric_interval_seconds=0,
        )
        core = build_core(
            store=store,
            watch_store=store,
            providers=providers,
            clock=clock,
            charts=charts,
            notifiers={Platform.SLACK: notifier},
            owner="w1",
            options=ServiceOptions(default_role=default_role, **service_options),
            watch=settings,
            pace={Platform.SLACK: 0.0},
        )
        yield World(
            clock=clock,
            store=store,
            provider=provider,
            sandbox=sandbox,
            charts=charts,
            service=core.service,
            watcher=core.watcher,
            dispatcher=core.dispatcher,
            notifier=notifier,
        )
