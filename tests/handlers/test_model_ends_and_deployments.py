"""A family that announces training ends by model, and one whose fine-tuned models need a
deployment before they answer (Azure's profile does both): the core says so from the profile,
in the start form's estimate, the start reply, `/finetune providers` and the completion notice."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from handlers.profile import ProviderProfile
from handlers.replies import Tone, plain
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
OTHER = "gpt-4o-mini-2024-07-18"
NOTE = "Deploy it in the console under the model's name first; a deployment bills hourly."


class RetiringSandbox(SandboxProvider):
    """The sandbox as a family whose training of MODEL ends no earlier than a date, and whose
    fine-tuned models answer only once deployed."""

    @staticmethod
    def retiring() -> ProviderProfile:
        return replace(
            SANDBOX,
            model_ends={MODEL: date(2027, 4, 14)},
            model_end_words="ends no earlier than",
            deploy_note=NOTE,
        )

    @property
    def profile(self) -> ProviderProfile:
        return self.retiring()


async def test_the_start_and_its_form_name_the_models_end(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=RetiringSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"upload {path} alias=train", actor())).tone is Tone.SUCCESS
        line = f"Training {MODEL} at Sandbox (simulated training) ends no earlier than 2027-04-14."

        shown = await w.service.estimate_start(actor(), training_file="train", model=MODEL)
        assert shown[-1] == line
        other = await w.service.estimate_start(actor(), training_file="train", model=OTHER)
        assert not any("no earlier than" in text for text in other)

        started = await w.run(f"start file=train model={MODEL}", actor())
        assert started.tone is Tone.SUCCESS, started
        assert line in started.lines


async def test_providers_lists_the_first_model_end(tmp_path: Path) -> None:
    profile = RetiringSandbox.retiring()
    async with world(tmp_path, provider_type=RetiringSandbox, profiles=(profile,)) as w:
        listed = await w.run("providers", actor())
        assert listed.table is not None
        [row] = listed.table.rows
        assert row[-1] == "2027-04-14"
        assert (
            f"Sandbox (simulated training): training ends no earlier than 2027-04-14 ({MODEL})."
            in [plain(line) for line in listed.lines]
        )


async def test_the_completion_notice_says_to_deploy_before_try(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=RetiringSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=train", actor())
        started = await w.run(f"start file=train model={MODEL}", actor())
        assert started.tone is Tone.SUCCESS, started
        [job] = await w.store.list_jobs(actor().team_id)
        await w.settle(seconds=3600, step=60)
        notices = [p.reply for p in w.notifier.posts if ":status:succeeded" in p.dedupe_key]
        assert notices, [p.dedupe_key for p in w.notifier.posts]
        fields = {f.name: plain(f.value) for f in notices[0].fields}
        assert fields["Before Try"] == NOTE
        assert fields["Job"] == job.id  # the title leads with the job's human name


async def test_a_family_that_needs_no_deployment_says_nothing_of_it(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=train", actor())
        await w.run(f"start file=train model={MODEL}", actor())
        await w.settle(seconds=3600, step=60)
        notices = [p.reply for p in w.notifier.posts if ":status:succeeded" in p.dedupe_key]
        assert notices
        assert "Before Try" not in {f.name for f in notices[0].fields}
