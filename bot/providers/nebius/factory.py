"""Providers: how the Nebius Token Factory family is built: the deployment's account, a team's,
and its key check (list the models the key may see)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.nebius.profile import BASE_URL
from bot.providers.nebius.provider import NebiusProvider
from bot.providers.openai.factory import PROVIDER_TIMEOUT_SECONDS
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if settings.nebius_api_key is None:
        raise ConfigError(
            "NEBIUS_API_KEY is not set: export NEBIUS_API_KEY=... (a Token Factory API key), "
            "or FINETUNE_BOT_PROVIDER=sandbox to try the bot without a key."
        )


def build(settings: ProviderSettings, clock: Clock) -> NebiusProvider:
    """The deployment's Nebius account (NEBIUS_BASE_URL points it at a proxy or a fake)."""
    check(settings)
    assert settings.nebius_api_key is not None
    return NebiusProvider.connect(
        settings.nebius_api_key.get_secret_value(),
        base_url=settings.nebius_base_url,
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


class TeamProviderBuilder:
    """A NebiusProvider for a team's own key. The key only ever goes to Nebius's own API (or,
    in tests, the base URL given here)."""

    def __init__(self, *, base_url: str = BASE_URL) -> None:
        self._base_url = base_url

    def __call__(self, credentials: TeamCredentials) -> NebiusProvider:
        return NebiusProvider.connect(
            credentials.api_key.reveal(), base_url=self._base_url, timeout=PROVIDER_TIMEOUT_SECONDS
        )


class NebiusKeyChecker:
    """Refuses an endpoint (a Nebius account has none), then lists the models the key sees."""

    def __init__(self, build: TeamProviderBuilder) -> None:
        self._build = build

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "a Nebius Token Factory account takes no endpoint; set it up with the key alone",
            )
        provider = self._build(credentials)
        try:
            await provider.list_models()
        finally:
            await provider.aclose()


def key_checker(policy: EndpointPolicy) -> NebiusKeyChecker:
    return NebiusKeyChecker(TeamProviderBuilder())


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder()
