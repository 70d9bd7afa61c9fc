"""The core asks the provider's profile before it offers an optional operation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.providers.sandbox.provider import SandboxProvider
from handlers.profile import Capability, ProviderProfile
from handlers.replies import Tone
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


class NoPauseSandbox(SandboxProvider):
    """The sandbox as a family that declares no pause or resume (it still has the methods,
    so a call that reached it would show in `calls`)."""

    @property
    def profile(self) -> ProviderProfile:
        base = super().profile
        return replace(
            base, capabilities=base.capabilities - {Capability.PAUSE, Capability.RESUME}
        )


async def test_pause_and_resume_are_refused_from_the_profile_never_by_calling(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, provider_type=NoPauseSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"/finetune upload {path} alias=train", actor())).tone is Tone.SUCCESS
        started = await w.run(f"/finetune start file=train model={MODEL}", actor())
        assert started.tone is Tone.SUCCESS, started
        [job] = await w.store.list_jobs(actor().team_id)
        w.clock.advance(25)  # running by now
        for action in ("pause", "resume"):
            reply = await w.run(f"/finetune {action} {job.id}", actor())
            assert reply.tone is Tone.ERROR, reply
            assert f"cannot {action} a job" in reply.title
        assert w.provider.calls["pause_job"] == 0
        assert w.provider.calls["resume_job"] == 0
        cancelled = await w.run(f"/finetune cancel {job.id}", actor())
        assert cancelled.tone is Tone.WARNING  # what it declares still works


class NoTagsSandbox(SandboxProvider):
    """A family whose jobs carry no metadata: nothing can be listed by the team's tag."""

    @property
    def profile(self) -> ProviderProfile:
        base = super().profile
        return replace(base, capabilities=base.capabilities - {Capability.JOB_TAGS})


async def test_a_family_without_job_tags_is_polled_job_by_job(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=NoTagsSandbox) as w:
        path = write_dataset(tmp_path / "t.jsonl")
        await w.run(f"/finetune upload {path} alias=t", actor())
        for seed in range(3):  # distinct starts (the same text twice is one start)
            await w.run(f"/finetune start file=t model={MODEL} seed={seed}", actor())
        w.provider.calls.clear()
        w.clock.advance(5)
        await w.watcher.sweep()
        assert w.provider.calls["list_jobs"] == 0
        assert w.provider.calls["get_job"] == 3
