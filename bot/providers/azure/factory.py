"""Providers: how the Azure OpenAI family is built: the deployment's resource, a team's, its
key check (the OpenAI family's, on Azure's client)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from bot.providers.azure.profile import API_VERSION_DEFAULT
from bot.providers.azure.provider import AzureOpenAIProvider
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.guarded_http import checked_http_client
from bot.providers.openai.factory import PROVIDER_TIMEOUT_SECONDS, OpenAIKeyChecker
from handlers.errors import ConfigError
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's resource."""
    if not settings.azure_openai_endpoint:
        raise ConfigError(
            "AZURE_OPENAI_ENDPOINT is not set: export "
            "AZURE_OPENAI_ENDPOINT=https://NAME.openai.azure.com"
        )
    if settings.azure_openai_api_key is None and settings.azure_openai_ad_token is None:
        raise ConfigError(
            "AZURE_OPENAI_API_KEY is not set: export AZURE_OPENAI_API_KEY=... "
            "(or AZURE_OPENAI_AD_TOKEN=<an Entra ID access token>)."
        )


def build(settings: ProviderSettings, clock: Clock) -> AzureOpenAIProvider:
    """The deployment's Azure OpenAI resource, with its key or else its Entra ID token."""
    check(settings)
    assert settings.azure_openai_endpoint is not None
    secret = settings.azure_openai_api_key or settings.azure_openai_ad_token
    assert secret is not None
    return AzureOpenAIProvider.connect(
        settings.azure_openai_endpoint,
        secret.get_secret_value(),
        api_version=settings.openai_api_version,
        training_type=settings.azure_openai_training_type,
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


class TeamProviderBuilder:
    """An AzureOpenAIProvider for a team's own resource (its endpoint, key or token and
    api-version from its setup; the default training tier) whose every connection goes only
    to an address the endpoint policy allows."""

    def __init__(self, policy: EndpointPolicy, *, ssl_context: ssl.SSLContext | None = None):
        self._policy = policy
        self._ssl = ssl_context

    def __call__(self, credentials: TeamCredentials) -> AzureOpenAIProvider:
        if credentials.endpoint is None:
            raise ConfigError("An Azure OpenAI account needs its endpoint: run /finetune setup.")
        http = checked_http_client(
            self._policy,
            team=credentials.team_id,
            timeout=PROVIDER_TIMEOUT_SECONDS,
            ssl_context=self._ssl,
        )
        return AzureOpenAIProvider.connect(
            credentials.endpoint,
            credentials.api_key.reveal(),
            api_version=credentials.api_version or API_VERSION_DEFAULT,
            http_client=http,
        )


def key_checker(policy: EndpointPolicy) -> OpenAIKeyChecker:
    return OpenAIKeyChecker(policy, TeamProviderBuilder(policy))


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder(policy)
