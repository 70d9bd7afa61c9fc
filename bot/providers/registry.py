"""Providers: the registry of provider families: name -> profile, factories and key checker.

A new family is a folder beside openai/ and sandbox/ and one entry in FAMILIES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.openai import factory as openai
from bot.providers.openai.profile import PROFILE as OPENAI
from bot.providers.sandbox import factory as sandbox
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from handlers.errors import ConfigError
from handlers.model import TeamCredentials
from handlers.ports import Clock, FineTuning, KeyChecker
from handlers.profile import AccountKind, ProviderProfile
from handlers.secrets import use_key_patterns

if TYPE_CHECKING:
    from bot.config import Settings

TeamFactory = Callable[[TeamCredentials], FineTuning]
"""Builds the provider of a team's own account from its decrypted credentials."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One provider family: what it is like, and how its providers are built."""

    profile: ProviderProfile
    settings_names: tuple[str, ...]
    """The FINETUNE_BOT_PROVIDER values it serves (OpenAI's family also serves "azure")."""
    check: Callable[[Settings], None]
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    build: Callable[[Settings, Clock], FineTuning]
    """The deployment's provider."""
    key_checker: Callable[[EndpointPolicy], KeyChecker]
    team_factory: Callable[[EndpointPolicy], TeamFactory] | None = None
    """Builds a team's own provider; None keeps the deployment's for every team."""

    @property
    def name(self) -> str:
        return self.profile.name


FAMILIES: Mapping[str, Family] = {
    "openai": Family(
        profile=OPENAI,
        settings_names=("openai", "azure"),
        check=openai.check,
        build=openai.build,
        key_checker=openai.OpenAIKeyChecker,
        team_factory=openai.TeamProviderBuilder,
    ),
    "sandbox": Family(
        profile=SANDBOX,
        settings_names=("sandbox",),
        check=sandbox.check,
        build=sandbox.build,
        key_checker=sandbox.SandboxKeyChecker,
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
    """The family that serves a team account of this kind (e.g. azure -> openai)."""
    return next(
        (f for f in FAMILIES.values() if f.team_factory and f.profile.account(account)),
        None,
    )


def accounts() -> Mapping[str, AccountKind]:
    """Every account kind a team can set up, by name, across the families that build them."""
    return {a.name: a for f in FAMILIES.values() if f.team_factory for a in f.profile.accounts}
