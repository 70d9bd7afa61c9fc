"""Providers: how the sandbox family is built, and its key check (shape and endpoint only)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy, check_endpoint
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import DEFAULT_TIMING, SandboxTiming
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings


def check(settings: ProviderSettings) -> None:
    """The sandbox needs no setting."""


def scaled_timing(timing: SandboxTiming, speed: float) -> SandboxTiming:
    """The sandbox's phases `speed` times faster (FINETUNE_BOT_SANDBOX_SPEED)."""
    return replace(
        timing,
        validating_s=timing.validating_s / speed,
        queued_s=timing.queued_s / speed,
        step_s=timing.step_s / speed,
    )


def build(settings: ProviderSettings, clock: Clock) -> SandboxProvider:
    return SandboxProvider(
        clock,
        state_path=settings.sandbox_state,
        timing=scaled_timing(DEFAULT_TIMING, settings.sandbox_speed),
    )


class SandboxKeyChecker:
    """A sandbox deployment never calls a provider: any well-shaped key is accepted, but the
    endpoint obeys the same policy (the row outlives a switch to a real provider)."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            await check_endpoint(self._policy, credentials)


def key_checker(policy: EndpointPolicy) -> SandboxKeyChecker:
    return SandboxKeyChecker(policy)


def team_factory(policy: EndpointPolicy) -> None:
    """None: a sandbox deployment keeps the sandbox for every team."""
