"""The watcher's chunks: a sweep claims due jobs a chunk at a time, whole accounts each."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.scope import SharedProviderDirectory
from handlers.watch import Watcher, WatchSettings
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def test_a_sweep_takes_chunks_of_whole_accounts_until_none_is_due(
    w: World, tmp_path: Path
) -> None:
    """Chunks of 4 over two teams of 3 jobs: every job polled in one sweep, each team asked
    with one list call (a chunk never ends partway through a team's due jobs)."""
    for workspace in ("T1", "T2"):
        person = actor(workspace=workspace)
        path = write_dataset(tmp_path / f"t-{workspace}.jsonl")
        await w.run(f"upload {path} alias=t", person)
        for seed in range(3):
            await w.run(f"start file=t model={MODEL} seed={seed}", person)
    chunked = Watcher(
        store=w.store,
        watch_store=w.store,
        providers=SharedProviderDirectory(w.provider),
        clock=w.clock,
        charts=w.charts,
        owner="w2",
        settings=WatchSettings(claim_limit=4, jitter=0.0),
    )
    w.provider.calls.clear()
    w.clock.advance(5)
    stats = await chunked.sweep()
    assert (stats.claimed, stats.committed) == (6, 6)
    assert (w.provider.calls["list_jobs"], w.provider.calls["get_job"]) == (2, 0)
    w.clock.advance(1)
    assert (await chunked.sweep()).claimed == 0, "each job once per sweep"
