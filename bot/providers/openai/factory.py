"""Providers: how the OpenAI family is built: the deployment's account, a team's, its key check."""

from __future__ import annotations

import ssl
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
AZURE_API_VERSION = "2025-04-01-preview"


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if settings.provider == "azure":
        if not settings.azure_openai_endpoint:
            raise ConfigError(
                "AZURE_OPENAI_ENDPOINT is not set: export "
                "AZURE_OPENAI_ENDPOINT=https://NAME.openai.azure.com"
            )
        if settings.azure_openai_api_key is None:
            raise ConfigError("AZURE_OPENAI_API_KEY is not set: export AZURE_OPENAI_API_KEY=...")
    elif settings.openai_api_key is None:
        raise ConfigError(
            "OPENAI_API_KEY is not set: export OPENAI_API_KEY=sk-... "
            "(or FINETUNE_BOT_PROVIDER=sandbox to try the bot without a key)."
        )


def build(settings: ProviderSettings, clock: Clock) -> OpenAIProvider:
    """The deployment's account: OpenAI (or a compatible server), or Azure OpenAI."""
    check(settings)
    if settings.provider == "azure":
        assert settings.azure_openai_endpoint is not None
        assert settings.azure_openai_api_key is not None
        return OpenAIProvider.azure(
            endpoint=settings.azure_openai_endpoint,
            api_key=settings.azure_openai_api_key.get_secret_value(),
            api_version=settings.openai_api_version,
        )
    assert settings.openai_api_key is not None
    return OpenAIProvider.openai(
        api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url
    )


class TeamProviderBuilder:
    """An OpenAIProvider for a team's own account (OpenAI, Azure or a compatible endpoint)
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
        if credentials.provider == "azure":
            assert credentials.endpoint is not None
            return OpenAIProvider.azure(
                endpoint=credentials.endpoint,
                api_key=key,
                api_version=credentials.api_version or AZURE_API_VERSION,
                http_client=http,
            )
        return OpenAIProvider.openai(api_key=key, base_url=credentials.endpoint, http_client=http)


def key_checker(policy: EndpointPolicy) -> OpenAIKeyChecker:
    return OpenAIKeyChecker(policy)


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder(policy)


class OpenAIKeyChecker:
    """Checks the endpoint's addresses, then the key the cheapest way the API allows: list the
    models it may see (through a client that checks the addresses again as it connects)."""

    def __init__(self, policy: EndpointPolicy, factory: TeamProviderBuilder | None = None) -> None:
        self._policy = policy
        self._factory = factory or TeamProviderBuilder(policy)

    async def check(self, credentials: TeamCredentials) -> None:
        await check_endpoint(self._policy, credentials)
        provider = self._factory(credentials)
        try:
            await provider.list_models()
        finally:
            await provider.aclose()
