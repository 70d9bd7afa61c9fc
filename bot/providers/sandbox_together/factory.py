"""Providers: how the Together-shaped sandbox is built: beside the sandbox, on its clock, with
its state file next to the sandbox's; it needs no setting or key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.providers import registry
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.prices import family_prices
from bot.providers.sandbox.factory import SandboxKeyChecker, scaled_timing
from bot.providers.sandbox.timing import DEFAULT_TIMING, SandboxTiming
from bot.providers.sandbox_together.profile import NAME
from bot.providers.sandbox_together.provider import SandboxTogetherProvider
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings


def check(settings: ProviderSettings) -> None:
    """It needs no setting."""


def build(
    settings: ProviderSettings, clock: Clock, *, timing: SandboxTiming | None = None
) -> SandboxTogetherProvider:
    """`timing`: the sandbox's own, when a caller set it (tests, the demo); else the default
    at FINETUNE_BOT_SANDBOX_SPEED."""
    state = settings.sandbox_state
    return SandboxTogetherProvider(
        clock,
        prices=family_prices(registry.family(NAME)),
        state_path=state.with_name(f"{state.stem}-together{state.suffix}") if state else None,
        timing=timing or scaled_timing(DEFAULT_TIMING, settings.sandbox_speed),
    )


def key_checker(policy: EndpointPolicy) -> SandboxKeyChecker:
    return SandboxKeyChecker(policy)


def team_factory(policy: EndpointPolicy) -> None:
    """None: it is served on the sandbox deployment's own (simulated) account."""
