"""Providers: how the OpenAI family is built: the deployment's account, a team's, its key check."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy, check_endpoint
from bot.providers.guarded_http import checked_http_client
from bot.providers.openai.provider import OpenAIProvider
from handlers.errors import ConfigError
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings

PROVIDER_TIMEOUT_SECONDS = 60.0


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if settings.openai_api_key is None:
        raise ConfigError(
            "OPENAI_API_KEY is not set: export OPENAI_API_KEY=sk-... "
            "(or FINETUNE_BOT_PROVIDER=sandbox to try the bot without a key)."
        )


def build(settings: ProviderSettings, clock: Clock) -> OpenAIProvider:
    """The deployment's account: OpenAI, or a compatible server (OPENAI_BASE_URL)."""
    check(settings)
    assert settings.openai_api_key is not None
    return OpenAIProvider.openai(
        api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url
    )


class TeamProviderBuilder:
    """An OpenAIProvider for a team's own account (OpenAI or a compatible endpoint)
    whose every connection goes only to an address the endpoint policy allows."""

    def __init__(self, policy: EndpointPolicy, *, ssl_context: ssl.SSLContext | None = None):
        self._policy = policy
        self._ssl = ssl_context

    def __call__(self, credentials: TeamCredentials) -> OpenAIProvider:
        key = credentials.api_key.reveal()
        http = checked_http_client(
            self._policy,
            team=credentials.team_id,
            timeout=PROVIDER_TIMEOUT_SECONDS,
            ssl_context=self._ssl,
        )
        return OpenAIProvider.openai(api_key=key, base_url=credentials.endpoint, http_client=http)


def key_checker(policy: EndpointPolicy) -> OpenAIKeyChecker:
    return OpenAIKeyChecker(policy)


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder(policy)


class OpenAIKeyChecker:
    """Checks the endpoint's addresses, then the key the cheapest way the API allows: list the
    models it may see (through a client that checks the addresses again as it connects)."""

    def __init__(
        self,
        policy: EndpointPolicy,
        factory: Callable[[TeamCredentials], OpenAIProvider] | None = None,
    ) -> None:
        self._policy = policy
        self._factory = factory or TeamProviderBuilder(policy)

    async def check(self, credentials: TeamCredentials) -> None:
        await check_endpoint(self._policy, credentials)
        provider = self._factory(credentials)
        try:
            await provider.list_models()
        finally:
            await provider.aclose()
