"""The Together-shaped sandbox keeps Together's word: its class implements what its profile
declares (no pause), its statuses are Together's, and its estimate prices a job from its own
table; a sandbox deployment builds it beside the sandbox, on the same clock and pace."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.app.config import load_settings
from bot.app.runtime import build_companions
from bot.providers.prices import family_prices
from bot.providers.registry import family
from bot.providers.sandbox.timing import SandboxTiming
from bot.providers.sandbox_together.profile import PROFILE
from bot.providers.sandbox_together.provider import SandboxTogetherProvider
from handlers.model import Hyperparameters, JobSpec
from handlers.profile import JobStatus
from tests.bot.test_provider_registry import check_capabilities
from tests.fakes.clock import ManualClock
from tests.world import write_dataset

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
TIMING = SandboxTiming(validating_s=5, queued_s=5, step_s=5, max_steps=12, eval_every=4)


def _provider(clock: ManualClock) -> SandboxTogetherProvider:
    prices = family_prices(family(PROFILE.name))
    return SandboxTogetherProvider(clock, prices=prices, timing=TIMING)


async def test_it_declares_what_it_implements_and_cannot_pause() -> None:
    provider = _provider(ManualClock())
    check_capabilities(provider)
    assert not hasattr(provider, "pause_job")
    assert not hasattr(provider, "resume_job")
    assert provider.is_simulation
    assert "simulated" in provider.label


async def test_a_cancel_is_requested_then_lands_in_togethers_words(tmp_path: Path) -> None:
    clock = ManualClock()
    provider = _provider(clock)
    uploaded = await provider.upload_file(write_dataset(tmp_path / "t.jsonl"), filename="t")
    created = await provider.create_job(
        JobSpec(model=MODEL, training_file=uploaded.id), idempotency_key="k"
    )
    assert created.provider_status == "pending"
    clock.advance(15)
    assert (await provider.get_job(created.id)).provider_status == "running"
    asked = await provider.cancel_job(created.id)
    assert (asked.status, asked.provider_status) == (JobStatus.CANCELLING, "cancel_requested")
    clock.advance(5)
    done = await provider.get_job(created.id)
    assert (done.status, done.provider_status) == (JobStatus.CANCELLED, "cancelled")


async def test_the_estimate_is_tokens_times_epochs_at_its_own_price(tmp_path: Path) -> None:
    provider = _provider(ManualClock())
    uploaded = await provider.upload_file(write_dataset(tmp_path / "t.jsonl"), filename="t")
    tokens = provider.inspect_file(uploaded.id).tokens
    spec = JobSpec(model=MODEL, training_file=uploaded.id)
    rate = family_prices(family(PROFILE.name)).lookup(MODEL)
    assert rate is not None
    assert rate.training_per_million is not None

    one = await provider.estimate_price(spec)
    assert one.train_tokens == tokens  # Together's default: one epoch
    assert one.allowed_to_proceed is True
    assert one.price == round(tokens * rate.training_per_million / 1e6, 6)
    three = await provider.estimate_price(
        replace(spec, hyperparameters=Hyperparameters(n_epochs=3))
    )
    assert three.train_tokens == 3 * tokens


def test_a_sandbox_deployment_builds_it_beside_the_sandbox(tmp_path: Path) -> None:
    settings = load_settings(provider="sandbox", sandbox_state=tmp_path / "sandbox.json")
    [companion] = build_companions(settings, ManualClock(), timing=TIMING)
    assert isinstance(companion, SandboxTogetherProvider)
    assert companion.timing is TIMING
    assert (
        build_companions(load_settings(provider="openai", openai_api_key="sk-x"), ManualClock())
        == ()
    )
