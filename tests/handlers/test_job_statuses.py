"""Users see the core's status, with the provider's own word beside it when they differ."""

from __future__ import annotations

from pathlib import Path

from handlers.replies import Tone
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


async def test_inspect_and_list_show_both_words_while_validating(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"/finetune upload {path} alias=train", actor())).tone is Tone.SUCCESS
        assert (await w.run(f"/finetune start file=train model={MODEL}", actor())).tone is (
            Tone.SUCCESS
        )
        [job] = await w.store.list_jobs(actor().team_id)
        inspected = await w.run(f"/finetune inspect {job.id}", actor())
        status = {f.name: f.value for f in inspected.fields}["Status"]
        assert status == "validating (validating_files)"
        listed = await w.run("/finetune list status=validating", actor())
        assert listed.table is not None
        assert [row[1] for row in listed.table.rows] == ["validating (validating_files)"]
        w.clock.advance(25)
        await w.settle(seconds=0)
        running = await w.run(f"/finetune inspect {job.id}", actor())
        assert {f.name: f.value for f in running.fields}["Status"] == "running"
