"""`start`'s training options come from the chosen provider's profile: what it takes, its
ranges, its suffix limit; a refusal names the option, the provider and what it supports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.providers.sandbox.provider import SandboxProvider
from handlers.errors import UsageError
from handlers.model import Method
from handlers.parse import parse
from handlers.profile import ProviderProfile
from handlers.replies import Tone, plain
from handlers.requests import StartRequest, check_start, form_fields
from tests.narrow_family import NARROW, WIDE, NarrowSandbox
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


def _start(**options: object) -> StartRequest:
    return StartRequest(model=MODEL, training_file="t", **options)  # type: ignore[arg-type]


def _refusal(request: StartRequest, profile: ProviderProfile) -> str:
    with pytest.raises(UsageError) as caught:
        check_start(request, profile)
    return caught.value.message


def test_the_profile_decides_the_range() -> None:
    check_start(_start(n_epochs=5), NARROW)
    check_start(_start(n_epochs=80), WIDE)
    message = _refusal(_start(n_epochs=6), NARROW)
    assert message == "epochs=6 is outside what Narrow Labs supports: epochs 1-5."


def test_the_profile_decides_the_kind() -> None:
    whole = replace(NARROW, hyperparameters=(replace(NARROW.hyperparameters[1], kind=int),))
    check_start(_start(learning_rate_multiplier=1.0), whole)
    message = _refusal(_start(learning_rate_multiplier=0.5), whole)
    assert message == "lr=0.5 is not a whole number, which Narrow Labs needs."


def test_an_option_the_provider_lacks_is_refused_naming_what_it_has() -> None:
    message = _refusal(_start(seed=3), NARROW)
    assert message.startswith("seed is not an option Narrow Labs supports")
    assert "epochs (1-5), lr (0-1), suffix (up to 8 characters)" in message
    check_start(_start(seed=3), WIDE)
    assert "batch_size is not an option Wide Labs supports" in _refusal(_start(batch_size=4), WIDE)


def test_the_suffix_limit_and_the_methods_are_the_profiles() -> None:
    check_start(_start(suffix="x" * 8), NARROW)
    assert "suffix is longer than 8 characters (9)" in _refusal(_start(suffix="x" * 9), NARROW)
    assert "suffix is not an option Wide Labs supports" in _refusal(_start(suffix="a"), WIDE)
    message = _refusal(_start(method=Method.DPO), NARROW)
    assert message == "method=dpo is not a method Narrow Labs supports; it supports supervised."


def test_the_form_offers_the_profiles_options_and_ranges() -> None:
    narrow = {f.name: f for f in form_fields(NARROW)}
    assert list(narrow) == ["epochs", "lr", "suffix"]
    assert "1-5" in narrow["epochs"].hint
    assert "default 2" in narrow["epochs"].hint
    assert "up to 8 characters" in narrow["suffix"].hint
    wide = [f.name for f in form_fields(WIDE)]
    assert wide == ["epochs", "seed"]  # no suffix field where the family takes none


async def test_a_start_outside_the_profile_sends_nothing(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=NarrowSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"/finetune upload {path} alias=t", actor())).tone is Tone.SUCCESS
        for option, named in (
            ("epochs=9", "epochs=9"),
            ("seed=1", "seed"),
            ("suffix=abcdefghi", "suffix"),
        ):
            reply = await w.run(f"/finetune start file=t model={MODEL} {option}", actor())
            assert reply.tone is Tone.ERROR, reply
            assert named in reply.title, reply
            assert "Narrow Labs" in reply.title, reply
        assert w.provider.calls["create_job"] == 0
        assert await w.store.list_jobs(actor().team_id) == []
        started = await w.run(f"/finetune start file=t model={MODEL} epochs=4", actor())
        assert started.tone is Tone.SUCCESS, started
        fields = await w.service.start_fields(actor())
        assert [f.name for f in fields] == ["epochs", "lr", "suffix"]


class OtherDefaultSandbox(SandboxProvider):
    """The sandbox as a family whose default model is another one."""

    @property
    def profile(self) -> ProviderProfile:
        return replace(super().profile, default_model="gpt-4o-mini-2024-07-18")


async def test_validate_prices_with_the_providers_default_model(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=OtherDefaultSandbox) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        reply = await w.run(f"/finetune validate {path}", actor())
        text = "\n".join(plain(line) for line in reply.lines)
        assert "on gpt-4o-mini-2024-07-18:" in text, text


def test_lora_checkpoint_eval_and_warmup_options_are_typed_and_checked_by_the_profile() -> None:
    request = parse(
        "start file=t model=m training_type=lora lora_r=16 lora_alpha=32 checkpoints=3 evals=2 "
        "warmup=0.1"
    )
    assert isinstance(request, StartRequest)
    assert (request.training_type, request.lora_r, request.lora_alpha) == ("lora", 16, 32)
    assert (request.n_checkpoints, request.n_evals, request.warmup_ratio) == (3, 2, 0.1)
    # A family without them refuses each by name, and a training type it does not offer.
    assert _refusal(_start(lora_r=16), NARROW).startswith(
        "lora_r is not an option Narrow Labs supports"
    )
    assert _refusal(_start(training_type="lora"), NARROW) == (
        "training_type=lora is not a training type Narrow Labs supports; it supports full."
    )
    check_start(_start(training_type="full"), NARROW)


def test_warmup_steps_and_context_length_are_typed_and_only_where_the_profile_takes_them() -> None:
    request = parse("start file=t model=m warmup_steps=30 max_context_length=8192")
    assert isinstance(request, StartRequest)
    assert (request.warmup_steps, request.context_length) == (30, 8192)
    assert _refusal(_start(warmup_steps=30), NARROW).startswith(
        "warmup_steps is not an option Narrow Labs supports"
    )
    assert _refusal(_start(context_length=8192), NARROW).startswith(
        "context_length is not an option Narrow Labs supports"
    )
    with pytest.raises(UsageError):
        parse("start file=t model=m warmup_steps=-1")
