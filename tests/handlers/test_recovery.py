"""Resync: tagged jobs the store lost are found at the provider and watched again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from handlers.model import JobSpec
from handlers.recovery import Recovery
from storage.memory.store import MemoryStore
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


async def _forget_jobs(w: World) -> None:
    """What a lost or restored-from-backup database looks like: no jobs, no notices."""
    if isinstance(w.store, MemoryStore):
        db = w.store.database
        for rows in (db.job_metrics, db.outbox, db.outbox_keys, db.cards, db.models, db.jobs):
            rows.clear()
        return
    from tests.sqlrows import forget_jobs  # TEST_STORE=sqlite only: it loads SQLAlchemy

    await forget_jobs(w.store)


async def test_lost_jobs_are_recovered_and_notified_in_their_channel(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        alice = actor(workspace="T1", user="U7", channel="C9")
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=train", alice)
        await w.run(f"start file=train model={MODEL} epochs=1", alice)
        (first,) = await w.store.list_jobs(alice.team_id)
        await w.settle(seconds=400)  # the first job finishes
        await w.run(f"start file=train model={MODEL} epochs=1", alice)
        live = next(j for j in await w.store.list_jobs(alice.team_id) if j.id != first.id)
        # a job of the same account the bot did not start: not ours, left alone
        file_id = (await w.store.get_file(alice.team_id, "train")).provider_file_id  # type: ignore[union-attr]
        stranger = await w.provider.create_job(
            JobSpec(model=MODEL, training_file=file_id), idempotency_key="other"
        )
        await _forget_jobs(w)
        w.notifier.posts.clear()

        recovery = Recovery(store=w.store, clock=w.clock)
        report = await recovery.resync([w.provider])
        assert sorted(report.recovered) == sorted([first.id, live.id])
        assert report.known == 0
        assert stranger.id not in report.recovered

        again = await recovery.resync([w.provider])
        assert again.recovered == []
        assert again.known == 2

        got = await w.store.get_job(alice.team_id, live.id)
        assert got is not None
        assert got.channel == alice.channel
        assert got.requester_id == "U7"
        done = await w.store.get_job(alice.team_id, first.id)
        assert done is not None
        assert done.state.status == "succeeded"
        assert [m.job_id for m in await w.store.list_models(alice.team_id)] == [first.id]

        await w.settle(seconds=400)
        keys = Counter(w.notifier.dedupe_keys())
        assert keys[f"{live.id}:status:succeeded:{alice.channel.key}"] == 1
        assert not [k for k in keys if k.startswith(first.id)], "finished jobs are not re-told"
        assert {p.target.channel_id for p in w.notifier.posts} == {"C9"}
        assert any(p.reply.mentions == ("U7",) for p in w.notifier.posts)


async def test_tagged_jobs_without_a_usable_team_are_skipped(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        alice = actor()
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=train", alice)
        file_id = (await w.store.get_file(alice.team_id, "train")).provider_file_id  # type: ignore[union-attr]
        odd = await w.provider.create_job(
            JobSpec(
                model=MODEL,
                training_file=file_id,
                metadata={"ftbot": "default", "ftbot_team": "irc:whatever"},
            ),
            idempotency_key="odd",
        )
        report = await Recovery(store=w.store, clock=w.clock).resync([w.provider])
        assert report.skipped == [odd.id]
        assert await w.store.find_job_anywhere(odd.id) is None
