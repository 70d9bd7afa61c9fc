"""A simulated provider's job says so on every message it makes: the card, its edits, the
completion notice and inspect, not only the start reply."""

from __future__ import annotations

from pathlib import Path

from handlers.replies import plain
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
SAID = "Sandbox (simulated training): simulated, no real model is trained"


async def test_the_card_and_the_notice_of_a_sandbox_job_say_it_is_simulated(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=t", actor())
        await w.run(f"start file=t model={MODEL} epochs=1", actor())
        await w.settle(seconds=200)
        [job] = await w.store.list_jobs("slack:T1")
        mine = [p for p in w.notifier.posts if p.dedupe_key.startswith(f"{job.id}:")]
        cards = [p.reply for p in mine if ":card:" in p.dedupe_key]
        notices = [p.reply for p in mine if ":status:" in p.dedupe_key]
        assert cards
        assert notices
        assert all(SAID in plain(r.footer) for r in cards + notices)
        inspected = await w.run(f"inspect {job.id}", actor())
        assert "Note: Sandbox (simulated training): no real model is trained." in inspected.lines
