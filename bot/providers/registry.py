"""Providers: the registry of provider families: name -> profile and the module that builds it.

A new family is a folder beside openai/, azure/, nebius/, sandbox/, sandbox_together/,
together/ and fireworks/ (profile.py, provider.py, factory.py, prices.json) and one entry in
FAMILIES. The
factory module is imported on first use, so reading the profiles (settings, setup forms,
redaction) loads no provider SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from bot.providers.azure.profile import PROFILE as AZURE
from bot.providers.fireworks.profile import PROFILE as FIREWORKS
from bot.providers.nebius.profile import PROFILE as NEBIUS
from bot.providers.openai.profile import PROFILE as OPENAI
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox_together.profile import PROFILE as SANDBOX_TOGETHER
from bot.providers.together.profile import PROFILE as TOGETHER
from handlers.errors import ConfigError
from handlers.model import TeamCredentials
from handlers.ports import Clock, FineTuning, KeyChecker
from handlers.profile import AccountKind, ProviderProfile
from handlers.secrets import use_key_patterns

if TYPE_CHECKING:
    from bot.providers.endpoint_policy import EndpointPolicy
    from bot.providers.settings import ProviderSettings

TeamFactory = Callable[[TeamCredentials], FineTuning]
"""Builds the provider of a team's own account from its decrypted credentials."""


class FamilyFactory(Protocol):
    """What a family's factory module defines."""

    def check(self, settings: ProviderSettings) -> None:
        """Raise ConfigError naming the first missing setting of the deployment's account."""
        ...

    def build(self, settings: ProviderSettings, clock: Clock) -> FineTuning:
        """The deployment's provider."""
        ...

    def key_checker(self, policy: EndpointPolicy) -> KeyChecker: ...

    def team_factory(self, policy: EndpointPolicy) -> TeamFactory | None:
        """Builds a team's own provider; None keeps the deployment's for every team."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One provider family: what it is like, and where its providers are built."""

    profile: ProviderProfile
    settings_names: tuple[str, ...]
    """The FINETUNE_BOT_PROVIDER values it serves."""
    factory: str
    """The module that builds it (see FamilyFactory)."""
    team_accounts: bool = True
    """Whether it builds a team's own account of its profile's account kinds."""
    prices: str = "prices.json"
    """Its price table, a file of its folder (see bot/providers/prices.py)."""
    companions: tuple[str, ...] = ()
    """Families a deployment of this one also serves, on the deployment's own account, to
    every team (the sandbox simulates a Together-shaped family beside its own)."""

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def package(self) -> str:
        """Its folder, as a package: where its factory and its price table live."""
        return self.factory.rpartition(".")[0]

    def load(self) -> FamilyFactory:
        return cast(FamilyFactory, importlib.import_module(self.factory))


FAMILIES: Mapping[str, Family] = {
    "openai": Family(
        profile=OPENAI,
        settings_names=("openai",),
        factory="bot.providers.openai.factory",
    ),
    "azure": Family(
        profile=AZURE,
        settings_names=("azure",),
        factory="bot.providers.azure.factory",
    ),
    "sandbox": Family(
        profile=SANDBOX,
        settings_names=("sandbox",),
        factory="bot.providers.sandbox.factory",
        # A sandbox deployment keeps the sandbox for every team, own key or not.
        team_accounts=False,
        companions=(SANDBOX_TOGETHER.name,),
    ),
    SANDBOX_TOGETHER.name: Family(
        profile=SANDBOX_TOGETHER,
        # Not a deployment of its own: the sandbox's companion.
        settings_names=(),
        factory="bot.providers.sandbox_together.factory",
        team_accounts=False,
    ),
    "together": Family(
        profile=TOGETHER,
        settings_names=("together",),
        factory="bot.providers.together.factory",
    ),
    "fireworks": Family(
        profile=FIREWORKS,
        settings_names=("fireworks",),
        factory="bot.providers.fireworks.factory",
    ),
    "nebius": Family(
        profile=NEBIUS,
        settings_names=("nebius",),
        factory="bot.providers.nebius.factory",
    ),
}

SETTINGS_NAMES: tuple[str, ...] = tuple(n for f in FAMILIES.values() for n in f.settings_names)
"""Every value FINETUNE_BOT_PROVIDER takes, in the order the README lists them."""

use_key_patterns(p for f in FAMILIES.values() for p in f.profile.key_patterns)


def family(name: str) -> Family:
    """The family a profile name or a FINETUNE_BOT_PROVIDER value names."""
    found = FAMILIES.get(name) or next(
        (f for f in FAMILIES.values() if name in f.settings_names), None
    )
    if found is None:
        raise ConfigError(
            f"FINETUNE_BOT_PROVIDER {name} is not supported: use one of "
            + ", ".join(SETTINGS_NAMES)
            + "."
        )
    return found


def account_family(account: str) -> Family | None:
    """The family that builds a team account of this kind (e.g. compatible -> openai)."""
    return next(
        (f for f in FAMILIES.values() if f.team_accounts and f.profile.account(account)),
        None,
    )


def profiles() -> tuple[ProviderProfile, ...]:
    """Every registered family's profile, in FAMILIES order."""
    return tuple(f.profile for f in FAMILIES.values())


def account_families() -> Mapping[str, str]:
    """The family each team account kind belongs to (compatible -> openai), by kind name."""
    return {
        a.name: f.name for f in FAMILIES.values() if f.team_accounts for a in f.profile.accounts
    }


def accounts() -> Mapping[str, AccountKind]:
    """Every account kind a team can set up, by name, across the families that build them."""
    return {a.name: a for f in FAMILIES.values() if f.team_accounts for a in f.profile.accounts}


def tuned_base(model: str) -> str | None:
    """The base model a fine-tuned model's name says it came from, asked of every family's
    profile (only a family knows how its names look: OpenAI's "ft:<base>:org::id")."""
    return next(
        (base for f in FAMILIES.values() if (base := f.profile.tuned_base(model)) is not None),
        None,
    )
