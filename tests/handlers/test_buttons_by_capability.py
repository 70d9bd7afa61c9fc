"""The buttons of a job's messages are the ones its provider's profile can do: a family that
cannot pause never shows Pause, one without inference never offers Try or Compare."""

from __future__ import annotations

from pathlib import Path

from handlers.actions import ACTIONS, offered
from handlers.cards import completion_notice, job_buttons, job_card
from handlers.model import Job, JobState
from handlers.profile import Capability, JobStatus
from handlers.replies import Button
from tests.fakes.clock import T0
from tests.narrow_family import NarrowSandbox
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
EVERY = frozenset(Capability)


def _actions(buttons: tuple[Button, ...]) -> list[str]:
    return [b.action for b in buttons]


def test_the_catalogue_says_what_each_control_needs() -> None:
    assert ACTIONS["pause"].needs is Capability.PAUSE
    assert ACTIONS["resume"].needs is Capability.RESUME
    assert ACTIONS["cancel"].needs is Capability.CANCEL
    assert ACTIONS["try"].needs is Capability.INFERENCE
    assert offered("chart", frozenset())  # needs nothing but the stored points
    assert not offered("pause", EVERY - {Capability.PAUSE})
    assert not offered("no-such-action", EVERY)


def test_controls_follow_the_status_and_the_capabilities() -> None:
    assert _actions(job_buttons("j", "running", EVERY)) == ["cancel", "pause", "inspect", "chart"]
    assert _actions(job_buttons("j", "paused", EVERY)) == ["cancel", "resume", "inspect", "chart"]
    no_pause = EVERY - {Capability.PAUSE, Capability.RESUME}
    assert _actions(job_buttons("j", "running", no_pause)) == ["cancel", "inspect", "chart"]
    assert _actions(job_buttons("j", "paused", no_pause)) == ["cancel", "inspect", "chart"]
    no_cancel = EVERY - {Capability.CANCEL}
    assert "cancel" not in _actions(job_buttons("j", "running", no_cancel))


def _job(status: str) -> Job:
    state = JobState(
        id="j1",
        status=JobStatus(status),
        model=MODEL,
        created_at=T0,
        training_file="file-1",
        fine_tuned_model="tuned-1" if status == "succeeded" else None,
    )
    return Job(team_id="t", state=state)


def test_try_and_compare_need_inference() -> None:
    done = _job("succeeded")
    assert "try" in _actions(completion_notice(done, [], None, capabilities=EVERY).buttons)
    blind = EVERY - {Capability.INFERENCE}
    shown = _actions(completion_notice(done, [], None, capabilities=blind).buttons)
    assert shown == ["chart", "recipe"]  # a replay needs no inference
    card = job_card(done, None, T0, capabilities=blind)
    assert _actions(card.buttons) == ["chart"]


async def test_a_provider_without_pause_never_shows_pause(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=NarrowSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"/finetune upload {path} alias=t", actor())
        await w.run(f"/finetune start file=t model={MODEL} epochs=2", actor())
        [job] = await w.store.list_jobs(actor().team_id)
        await w.settle(seconds=40)  # running by now, cards posted
        cards = [p for p in w.notifier.posts if p.dedupe_key.startswith(f"{job.id}:card:")]
        assert cards, "the job card was posted"
        for card in cards:
            assert "pause" not in _actions(card.reply.buttons)
            assert "resume" not in _actions(card.reply.buttons)
        assert any("cancel" in _actions(c.reply.buttons) for c in cards)
        inspected = await w.run(f"/finetune inspect {job.id}", actor())
        assert "pause" not in _actions(inspected.buttons)
        assert "cancel" in _actions(inspected.buttons)
