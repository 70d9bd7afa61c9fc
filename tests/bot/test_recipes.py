"""`start like=JOB`: a job's recipe replayed at another family, from the kept copy of its data,
its options translated through both profiles, and the comparison of the two models after.

The deployment's family here is OpenAI-shaped (the sandbox); the second one takes Together's
options (an absolute learning rate, no pause), so a learning-rate multiplier cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.together import profile as together
from handlers.actions import button_request
from handlers.model import Actor, TeamCredentials
from handlers.ports import FineTuning, ProviderDirectory
from handlers.profile import AccountKind, Capability, ProviderProfile, SetupField
from handlers.replies import Reply, Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider
from tests.world import TIMING, World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
TEAM = "slack:T1"
KEY = "tk-" + "z9" * 12
ACCOUNT = AccountKind(
    name="tshape-key",
    label="Together-shaped (test)",
    key_shape=re.compile(r"^tk-[a-z0-9]{20,}$"),
    key_refusal="That is not a key of the Together-shaped family.",
    fields=(SetupField(name="key", label="API key", required=True),),
)
TSHAPE = replace(
    SANDBOX,
    name="tshape",
    label="Together-shaped (test)",
    accounts=(ACCOUNT,),
    hyperparameters=together.HYPERPARAMETERS,
    max_suffix=together.PROFILE.max_suffix,
    # The sandbox engine under it trains only its own base models.
    default_model="gpt-4.1-nano-2025-04-14",
    capabilities=SANDBOX.capabilities - {Capability.PAUSE, Capability.RESUME},
)


class TShapeSandbox(SandboxProvider):
    @property
    def profile(self) -> ProviderProfile:
        return TSHAPE


class AcceptAll:
    async def check(self, credentials: TeamCredentials) -> None:
        return None


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[World, FaultyProvider]]:
    """The deployment runs the sandbox; the team sets up the Together-shaped family too, and
    keeps the sandbox as its default."""
    made: list[FaultyProvider] = []

    def directory(first: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        made.append(FaultyProvider(TShapeSandbox(clock, timing=TIMING)))
        return TeamProviderDirectory(
            store=store,
            fallback=first,
            factory=lambda _: made[0],
            profiles={"tshape": TSHAPE},
        )

    async with world(
        tmp_path,
        directory=directory,
        keys=AcceptAll(),
        accounts={"tshape-key": ACCOUNT},
        account_families={"tshape-key": "tshape"},
        profiles=(SANDBOX, TSHAPE),
    ) as w:
        saved = await w.service.handle(
            SetupRequest(provider="tshape-key", api_key=Secret(KEY)), admin()
        )
        assert saved.tone is Tone.SUCCESS, saved
        assert (await w.run("setup default=sandbox", admin())).tone is Tone.SUCCESS
        yield w, made[0]


async def _finished_job(w: World, tmp_path: Path, options: str = "") -> str:
    path = write_dataset(tmp_path / "train.jsonl")
    held = write_dataset(tmp_path / "held.jsonl", n=10)
    assert (await w.run(f"upload {path} alias=train", actor())).tone is Tone.SUCCESS
    assert (await w.run(f"upload {held} alias=held", actor())).tone is Tone.SUCCESS
    started = await w.run(
        f"start file=train validation=held model={MODEL} suffix=support {options}", actor()
    )
    assert started.tone is Tone.SUCCESS, started
    [job] = await w.store.list_jobs(TEAM)
    await w.settle(seconds=200)
    done = await w.store.get_job(TEAM, job.id)
    assert done is not None
    assert done.state.fine_tuned_model, done
    return job.id


def _text(reply: Reply) -> str:
    return "\n".join([plain(reply.title), *(plain(line) for line in reply.lines)])


async def test_one_command_replays_a_recipe_at_another_family_from_the_kept_copies(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, tshape = two
    origin = await _finished_job(w, tmp_path, "epochs=2 seed=7")
    found = await w.store.get_job(TEAM, origin)
    assert found is not None
    # The target trains the job's own base model too, so the replay keeps it.
    model = found.state.model
    assert TSHAPE.is_fine_tunable(model)
    replayed = await w.run(f"start like={origin} provider=tshape", actor())
    assert replayed.tone is Tone.SUCCESS, replayed
    text = _text(replayed)
    assert f"Recipe of {origin} (Sandbox (simulated training)) on Together-shaped (test)" in text
    assert "Carried: epochs=2, seed=7, suffix=support." in text
    assert f"Base model: {model}, the job's own (model= picks another)." in text
    assert "Sent 'train' to tshape as 'train-tshape'" in text
    assert "Sent 'held' to tshape as 'held-tshape'" in text
    # Both files went up once, to the target only; nothing new at the job's own family.
    assert tshape.calls["upload_file"] == 2
    assert w.provider.calls["upload_file"] == 2
    jobs = {j.id: j for j in await w.store.list_jobs(TEAM)}
    [new] = [j for j in jobs.values() if j.id != origin]
    assert (new.provider, new.origin, new.state.model) == ("tshape", origin, model)
    assert new.state.hyperparameters.n_epochs == 2
    assert (new.state.suffix, new.state.seed) == ("support", 7)
    copy = await w.store.get_file(TEAM, "train-tshape")
    first = await w.store.get_file(TEAM, "train")
    assert copy is not None
    assert first is not None
    assert (copy.provider, copy.sha256) == ("tshape", first.sha256)
    assert new.state.training_file == copy.provider_file_id

    # Again, with another suffix: the data is already there (found by its hash).
    again = await w.run(f"start like={origin} provider=tshape suffix=second", actor())
    assert again.tone is Tone.SUCCESS, again
    assert "Using 'train-tshape', the same data already at tshape." in _text(again)
    assert tshape.calls["upload_file"] == 2
    assert tshape.calls["create_job"] == 2


async def test_an_option_that_cannot_carry_is_listed_and_nothing_is_sent(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, tshape = two
    origin = await _finished_job(w, tmp_path, "lr=2")
    refused = await w.run(f"start like={origin} provider=tshape", actor())
    assert refused.tone is Tone.WARNING, refused
    text = _text(refused)
    assert "Not started: 1 option of" in text
    assert "lr=2: Sandbox (simulated training)'s lr is a multiplier of its own base rate; " in text
    assert "Together-shaped (test)'s is an absolute rate." in text
    assert "Nothing was uploaded or started." in text
    assert (tshape.calls["upload_file"], tshape.calls["create_job"]) == (0, 0)
    [button] = refused.buttons
    assert button.action == "replay"

    # The button: the target's defaults for what cannot carry.
    pressed = await w.service.handle(button_request(button.action, button.value), actor())
    assert pressed.tone is Tone.SUCCESS, pressed
    assert "Left to Together-shaped (test)'s defaults (defaults=yes): lr=2." in _text(pressed)
    replay = next(j for j in await w.store.list_jobs(TEAM) if j.provider == "tshape")
    assert replay.recipe is not None
    assert replay.recipe["learning_rate_multiplier"] is None  # the provider chose its own

    # Or a value for the target, typed: it wins over the recipe.
    typed = await w.run(f"start like={origin} provider=tshape lr=0.00002 suffix=b", actor())
    assert typed.tone is Tone.SUCCESS, typed
    assert "Given now: lr=2e-05, suffix=b." in _text(typed)
    assert tshape.calls["create_job"] == 2


async def test_a_bare_like_shows_the_plan_for_every_family_with_a_button_each(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, tshape = two
    origin = await _finished_job(w, tmp_path, "lr=2")
    plan = await w.run(f"start like={origin}", actor())
    text = _text(plan)
    assert f"Run the recipe of {origin} on…" in text
    assert "Sandbox (simulated training) (the job's own provider):" in text
    assert f"Type: /finetune start like={origin} provider=tshape " in text
    assert [(b.action, b.value) for b in plan.buttons] == [
        ("replay", f"{origin}:sandbox"),
        ("replay", f"{origin}:tshape:yes"),
    ]
    assert tshape.calls["upload_file"] == tshape.calls["create_job"] == 0


async def test_a_replay_whose_data_is_gone_says_which_file_and_what_to_do(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, tshape = two
    origin = await _finished_job(w, tmp_path)
    assert (await w.run("rm-file train", actor())).tone is Tone.SUCCESS
    gone = await w.run(f"start like={origin} provider=tshape", actor())
    assert gone.tone is Tone.ERROR
    text = _text(gone) + str(gone)
    assert "The training file of" in text
    assert "no longer one of this team's files" in text
    assert "/finetune upload provider=tshape" in text
    assert "file=ALIAS" in text
    assert tshape.calls["create_job"] == 0


async def test_the_replay_notice_offers_the_comparison_with_the_original_across_families(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, tshape = two
    origin = await _finished_job(w, tmp_path)
    old = await w.store.get_job(TEAM, origin)
    assert old is not None
    assert old.state.fine_tuned_model
    assert (await w.run(f"start like={origin} provider=tshape", actor())).tone is Tone.SUCCESS
    await w.settle(seconds=200)
    new = next(j for j in await w.store.list_jobs(TEAM) if j.provider == "tshape")
    [last] = [p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new.id}:status:")]
    labels = {b.label: b for b in last.buttons}
    compare = labels[f"Compare with {old.state.fine_tuned_model}"]
    assert "Run this recipe on…" in labels
    chats_before = (w.provider.calls["chat"], tshape.calls["chat"])
    result = await w.service.handle(button_request(compare.action, compare.value), actor())
    assert result.tone is Tone.SUCCESS, result
    text = _text(result)
    assert f"B = {old.state.fine_tuned_model} (Sandbox (simulated training))" in text
    assert "(Together-shaped (test))" in text
    assert "of 'held-tshape'" in text  # the original validation set, as sent with the replay
    # Each model answered at its own family.
    assert w.provider.calls["chat"] > chats_before[0]
    assert tshape.calls["chat"] > chats_before[1]
