"""Whole job lives on each backend: commands, watcher, dispatcher; replicas share the work."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from bot.app.wiring import build_core
from handlers.model import Platform
from handlers.replies import plain
from handlers.scope import SharedProviderDirectory
from handlers.watch import WatchSettings
from tests.dbutil import open_store
from tests.world import FakeCharts, RecordingNotifier, World, actor, world, write_dataset

pytestmark = [pytest.mark.e2e]
MODEL = "gpt-4.1-mini-2025-04-14"


async def _start_jobs(w: World, tmp_path: Path, teams: int, per_team: int) -> list[str]:
    ids = []
    for t in range(teams):
        person = actor(workspace=f"T{t}", user=f"U{t}", channel=f"C{t}")
        path = write_dataset(tmp_path / f"train{t}.jsonl", n=10 + t)
        await w.run(f"upload {path} alias=train", person)
        for seed in range(per_team):  # distinct: an identical start answers with the first job
            reply = await w.run(f"start file=train model={MODEL} epochs=1 seed={seed}", person)
            assert plain(reply.title).startswith("Started"), reply
        ids += [j.id for j in await w.store.list_jobs(person.team_id)]
    return ids


async def test_jobs_of_several_teams_end_with_one_notice_each(db_url: str, tmp_path: Path) -> None:
    async with world(tmp_path, url=db_url) as w:
        ids = await _start_jobs(w, tmp_path, teams=2, per_team=3)
        await w.settle(seconds=300)
        keys = Counter(w.notifier.dedupe_keys())
        for job_id in ids:
            done = [k for k in keys if k.startswith(f"{job_id}:status:succeeded")]
            assert len(done) == 1, job_id
        assert all(n == 1 for k, n in keys.items() if ":card:" not in k)
        for post in w.notifier.posts:
            team = post.dedupe_key.split(":")[0]
            assert team in ids
        channels = {(p.target.workspace_id, p.target.channel_id) for p in w.notifier.posts}
        assert channels == {("T0", "C0"), ("T1", "C1")}


async def test_two_replicas_share_jobs_without_duplicates(db_url: str, tmp_path: Path) -> None:
    async with world(tmp_path, url=db_url) as w:
        ids = await _start_jobs(w, tmp_path, teams=3, per_team=2)
        # A second replica: its own engine, watcher, dispatcher and chat connection.
        async with open_store(db_url, clock=w.clock) as store2:
            directory = SharedProviderDirectory(w.provider)
            settings = WatchSettings(
                running_poll_seconds=5,
                slow_poll_seconds=5,
                slow_poll_max_seconds=5,
                running_poll_max_seconds=5,
                jitter=0.0,
                metric_interval_seconds=0,
            )
            notifier2 = RecordingNotifier()
            core2 = build_core(
                store=store2,
                watch_store=store2,
                providers=directory,
                clock=w.clock,
                charts=FakeCharts(),
                notifiers={Platform.SLACK: notifier2},
                owner="w2",
                watch=settings,
                pace={Platform.SLACK: 0.0},
            )
            watcher2, dispatcher2 = core2.watcher, core2.dispatcher
            replicas = [(w.watcher, w.dispatcher), (watcher2, dispatcher2)]
            for sweep in range(80):
                w.clock.advance(5)
                # Each replica starts first every other sweep: racing at once, the one that
                # starts first may claim every due job, and which one that is must not
                # depend on the machine's load.
                first, second = replicas if sweep % 2 == 0 else replicas[::-1]
                await asyncio.gather(first[0].sweep(), second[0].sweep())
                for _ in range(2):
                    await asyncio.gather(first[1].tick(), second[1].tick())
        every = w.notifier.dedupe_keys() + notifier2.dedupe_keys()
        counts = Counter(every)
        duplicates = {k: n for k, n in counts.items() if n > 1 and ":card:" not in k}
        assert duplicates == {}
        for job_id in ids:
            assert sum(1 for k in counts if k.startswith(f"{job_id}:status:succeeded")) == 1
        new_cards = Counter(
            p.dedupe_key.split(":")[0]
            for p in w.notifier.posts + notifier2.posts
            if ":card:" in p.dedupe_key and p.edit_of is None
        )
        assert all(new_cards[job_id] == 1 for job_id in ids), "one card message per job"
        assert w.notifier.posts
        assert notifier2.posts, "both replicas did some of the work"
