"""Steps the migration tests share: an admin, a reply's text, running a fake's jobs to their
end under the watcher, and the team's OpenAI job the recipe comes from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

from handlers.model import Actor, Job
from handlers.replies import Reply, Tone, plain
from tests.world import World, actor, write_dataset

GPT = "gpt-4.1-mini-2025-04-14"
TEAM = "slack:T1"


class Advancing(Protocol):
    def advance(self) -> None: ...


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


def text_of(reply: Reply) -> str:
    return "\n".join(
        [plain(reply.title), *(plain(line) for line in reply.lines)]
        + [f"{f.name}: {plain(f.value)}" for f in reply.fields]
    )


async def until_finished(w: World, fake: Advancing, job_id: str) -> Job:
    """Move the fake's jobs on and let the watcher see them, until the job has finished."""
    for _ in range(80):
        fake.advance()
        await w.settle(seconds=5)
        job = await w.store.get_job(TEAM, job_id)
        assert job is not None
        if job.state.terminal:
            return job
    raise AssertionError(f"{job_id} never finished")


async def trained_at_openai(w: World, openai: Advancing, tmp_path: Path, options: str) -> Job:
    """Upload 'train' and 'held', start an OpenAI job on them with `options`, run it to its
    end; the finished job, which made a model."""
    train = write_dataset(tmp_path / "train.jsonl")
    held = write_dataset(tmp_path / "held.jsonl", n=10)
    assert (await w.run(f"upload {train} alias=train", actor())).tone is Tone.SUCCESS
    assert (await w.run(f"upload {held} alias=held", actor())).tone is Tone.SUCCESS
    started = await w.run(f"start file=train validation=held model={GPT} {options}", actor())
    assert started.tone is Tone.SUCCESS, started
    [old] = await w.store.list_jobs(TEAM)
    finished = await until_finished(w, openai, old.id)
    assert finished.state.fine_tuned_model is not None
    return finished
