"""Test helpers: a second provider family for end-to-end tests, registered beside the real ones.

It is the sandbox under another profile name, reached only with a team's own key: the shape
of a family the registry does not ship, so multi-family paths run through the real runtime
without naming any real provider. Its module is the family's factory (registry.FamilyFactory).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.infra.clock import SystemClock
from bot.providers.registry import Family, TeamFactory
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.model import TeamCredentials
from handlers.ports import Clock, FineTuning
from handlers.profile import AccountKind, ProviderProfile, SetupField
from tests.fakes.faulty_provider import FaultyProvider

if TYPE_CHECKING:
    from bot.providers.endpoint_policy import EndpointPolicy
    from bot.providers.settings import ProviderSettings

NAME = "second"
KEY = "sf-" + "k3" * 12
ACCOUNT = AccountKind(
    name="second-key",
    label="Second family (test)",
    key_shape=re.compile(r"^sf-[a-z0-9]{20,}$"),
    key_refusal="That is not a key of the second family.",
    fields=(SetupField(name="key", label="API key", required=True),),
)
PROFILE = replace(SANDBOX, name=NAME, label="Second family (test)", accounts=(ACCOUNT,))
FAST = SandboxTiming(validating_s=0.05, queued_s=0.05, step_s=0.05, max_steps=2, eval_every=1)

made: list[FaultyProvider] = []
"""Every provider the family built (each in the call-counting wrapper), in order: what the
tests inspect."""


class SecondProvider(SandboxProvider):
    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    @property
    def label(self) -> str:
        return PROFILE.label


FAMILY = Family(profile=PROFILE, settings_names=(NAME,), factory=__name__)


def check(settings: ProviderSettings) -> None:
    """A team-only family: no deployment settings."""


def build(settings: ProviderSettings, clock: Clock) -> FineTuning:
    return SecondProvider(clock, timing=FAST)


class AcceptAll:
    async def check(self, credentials: TeamCredentials) -> None:
        return None


def key_checker(policy: EndpointPolicy) -> AcceptAll:
    return AcceptAll()


def team_factory(policy: EndpointPolicy) -> TeamFactory:
    def make(credentials: TeamCredentials) -> FineTuning:
        provider = FaultyProvider(SecondProvider(SystemClock(), timing=FAST))
        made.append(provider)
        return provider

    return make
