"""Long work runs under per-team and global slots: over a limit it is refused at once, while
the team's earlier tasks, other teams' tasks and every short command go on (gates, no sleeps)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handlers.fairness import LongWork, is_long
from handlers.parse import parse
from handlers.replies import Reply, Tone, plain
from handlers.requests import SPECS
from handlers.scope import SharedProviderDirectory
from handlers.service import Service
from storage.memory.store import MemoryStore
from tests.fakes.clock import ManualClock
from tests.fakes.gated_provider import GatedProvider
from tests.world import TIMING, FakeCharts, actor, as_shared, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
LONG_COMMANDS = {"upload", "validate", "try", "compare", "dataset"}


@dataclass
class Bot:
    service: Service
    provider: GatedProvider
    store: MemoryStore

    async def run(self, line: str, workspace: str = "T1", user: str = "U1") -> Reply:
        return await self.service.handle(parse(line), actor(workspace, user))

    def start(self, line: str, workspace: str = "T1", user: str = "U1") -> asyncio.Task[Reply]:
        return asyncio.create_task(self.run(line, workspace, user))


def _bot(store: MemoryStore, clock: ManualClock, **options: Any) -> Bot:
    provider = GatedProvider(clock, timing=TIMING)
    service = Service(
        store=store,
        watch_store=store,
        providers=SharedProviderDirectory(provider),
        clock=clock,
        charts=FakeCharts(),
        **options,
    )
    return Bot(service=service, provider=provider, store=store)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(clock=ManualClock())


def test_long_commands_are_marked_in_the_spec_table() -> None:
    assert {name for name, spec in SPECS.items() if spec.long} == LONG_COMMANDS
    assert is_long(parse(f"/finetune compare {MODEL} gpt-4o-mini-2024-07-18"))
    assert not is_long(parse("/finetune compare cancel cmp-12345678"))
    assert not is_long(parse("/finetune help"))


async def test_a_team_over_its_limit_is_refused_at_once_and_others_go_on(
    store: MemoryStore,
) -> None:
    bot = _bot(store, ManualClock(), long_work=LongWork(per_team=2, total=16))
    first = [bot.start(f"/finetune try {MODEL} question {i}") for i in range(2)]
    await bot.provider.until_waiting(2)

    # Refused without waiting for the gate: the earlier two still hold the team's slots.
    refused = await bot.run(f"/finetune try {MODEL} a third question")
    assert refused.tone is Tone.ERROR
    assert plain(refused.title).startswith("2 long tasks of this team are running")
    assert "wait for one to finish" in refused.title
    assert (await bot.run("/finetune validate /no/such/file.jsonl")).title == refused.title
    assert not any(task.done() for task in first)
    assert bot.service.long_work.running(actor("T1").team_id) == 2

    # Another team's long task still starts.
    other = bot.start(f"/finetune try {MODEL} from team two", workspace="T2")
    await bot.provider.until_waiting(3)

    # Short commands of the busy team complete while its long tasks are blocked.
    assert (await bot.run("/finetune help")).title == "finetune-bot commands"
    assert (await bot.run("/finetune list")).title == "No jobs."
    assert (await bot.run("/finetune files")).title == "No files yet."
    # Stopping a comparison is never long work: it is not refused, whatever is running.
    stop = await bot.run("/finetune compare cancel cmp-00000000")
    assert plain(stop.title).startswith("No comparison 'cmp-00000000' running")

    bot.provider.gate.set()
    for task in (*first, other):
        assert (await task).title == f"{MODEL} answered"
    assert bot.service.long_work.running() == 0
    again = await bot.run(f"/finetune try {MODEL} after the others")
    assert again.title == f"{MODEL} answered"


async def test_the_global_cap_refuses_a_team_with_free_slots(store: MemoryStore) -> None:
    bot = _bot(store, ManualClock(), long_work=LongWork(per_team=2, total=3))
    held = [
        bot.start(f"/finetune try {MODEL} q{i}", workspace=team)
        for i, team in enumerate(("T1", "T1", "T2"))
    ]
    await bot.provider.until_waiting(3)
    refused = await bot.run(f"/finetune try {MODEL} q", workspace="T3")
    assert refused.tone is Tone.ERROR
    assert plain(refused.title).startswith("The bot is running its limit of 3 long tasks")
    bot.provider.gate.set()
    await asyncio.gather(*held)
    assert bot.service.long_work.running() == 0


async def test_a_failed_long_task_gives_its_slot_back(store: MemoryStore) -> None:
    bot = _bot(store, ManualClock(), long_work=LongWork(per_team=1, total=1))
    for _ in range(3):  # one slot in all: a leak would refuse the second
        # A path typed in chat fails inside the slot (rule: chat never names a path).
        reply = await bot.run("/finetune validate /no/such/file.jsonl")
        assert reply.tone is Tone.ERROR
        assert plain(reply.title).startswith("Chat commands never read files")
    assert bot.service.long_work.running() == 0


class CountingPool(ThreadPoolExecutor):
    """A one-thread pool that counts what it is given (the service's validation pool)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="test-cpu")
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_validation_runs_on_its_own_pool_and_short_commands_do_not_wait(
    store: MemoryStore, tmp_path: Path
) -> None:
    pool = CountingPool()
    bot = _bot(store, ManualClock(), cpu=pool)
    data = write_dataset(tmp_path / "train.jsonl")
    release = threading.Event()
    blocker = pool.submit(release.wait)  # the pool's only thread is busy
    try:
        # The file as an adapter hands it over (a shared file it downloaded).
        validate = as_shared(parse(f"/finetune validate {data}"))
        validating = asyncio.create_task(bot.service.handle(validate, actor()))
        # Short commands answer while the validation waits for the busy pool.
        assert (await bot.run("/finetune help")).title == "finetune-bot commands"
        assert (await bot.run("/finetune list")).title == "No jobs."
        assert not validating.done()
    finally:
        release.set()
    await asyncio.wrap_future(blocker)
    reply = await validating
    assert reply.title == "train.jsonl is ready for fine-tuning", reply
    assert pool.submitted == 2  # the blocker and the validation: not the default pool
    pool.shutdown()
