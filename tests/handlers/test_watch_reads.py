"""What a team's sweep reads, it reads once: a finished job's spend row prices its completion
notice and settles its spend from the same read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, cast

from handlers.ports import Store
from handlers.scope import SharedProviderDirectory
from handlers.watch import Watcher, WatchSettings
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


class _Counting:
    """The store, counting the calls the watcher makes of it."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return found(*args, **kwargs)

        return call


async def test_a_finished_jobs_spend_row_is_read_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        person = actor()
        path = write_dataset(tmp_path / "t.jsonl")
        await w.run(f"upload {path} alias=t", person)
        for seed in range(2):
            await w.run(f"start file=t model={MODEL} seed={seed}", person)
        counting = _Counting(w.store)
        watcher = Watcher(
            store=cast(Store, counting),
            watch_store=w.store,
            providers=SharedProviderDirectory(w.provider),
            clock=w.clock,
            charts=w.charts,
            owner="reads",
            settings=WatchSettings(jitter=0.0),
        )
        finished = 0
        for _ in range(200):
            w.clock.advance(30)
            before = counting.calls["get_spend"]
            await watcher.sweep()
            jobs = await w.store.list_jobs(person.team_id)
            now_done = sum(1 for j in jobs if j.state.terminal)
            # One read per job that finished in this sweep, for its notice and its spend.
            assert counting.calls["get_spend"] - before == now_done - finished
            finished = now_done
            if finished == len(jobs):
                break
        assert finished == 2
        for job in jobs:
            entry = await w.store.get_spend(person.team_id, job.id)
            assert entry is not None
            assert entry.actual is not None, "settled from the one read"
