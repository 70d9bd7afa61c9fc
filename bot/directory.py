"""Composition root: which provider serves a team: its own key's account, or the deployment's."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any, cast

from bot.providers.endpoint_policy import EndpointPolicy, EndpointRefusedError
from bot.providers.guarded_http import checked_http_client
from bot.providers.openai.provider import OpenAIProvider
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials, TeamProviderKind
from handlers.ports import Provider, TeamStore
from handlers.scope import TeamScopedProvider
from handlers.secrets import endpoint_problem

log = logging.getLogger(__name__)

ProviderFactory = Callable[[TeamCredentials], OpenAIProvider]
OPENAI_BASE_URL = "https://api.openai.com/v1"
PROVIDER_TIMEOUT_SECONDS = 60.0


class SharedProviderDirectory:
    """Every team uses the deployment's provider (tests, the sandbox, single-team installs),
    each through its own tag-scoped view of the shared account."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    @property
    def provider(self) -> Provider:
        return self._provider

    async def for_team(self, team_id: str) -> Provider:
        return TeamScopedProvider(self._provider, team_id=team_id, shared=True)


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
        match credentials.provider:
            case TeamProviderKind.AZURE:
                assert credentials.endpoint is not None
                return OpenAIProvider.azure(
                    endpoint=credentials.endpoint,
                    api_key=key,
                    api_version=credentials.api_version or "2025-04-01-preview",
                    http_client=http,
                )
            case _:
                return OpenAIProvider.openai(
                    api_key=key, base_url=credentials.endpoint, http_client=http
                )


class TeamProviderDirectory:
    """Builds and caches one provider per team from its decrypted key; the deployment's
    provider serves teams without one. A sandbox deployment keeps the sandbox for everyone."""

    def __init__(
        self,
        *,
        store: TeamStore,
        fallback: Provider,
        keep_fallback: bool = False,
        factory: ProviderFactory | None = None,
    ) -> None:
        self._store = store
        self._fallback = fallback
        self._keep_fallback = keep_fallback
        self._factory = factory or TeamProviderBuilder(EndpointPolicy())
        self._cache: dict[str, tuple[tuple[str, ...], OpenAIProvider]] = {}
        self._retired: list[OpenAIProvider] = []

    @property
    def provider(self) -> Provider:
        return self._fallback

    async def for_team(self, team_id: str) -> Provider:
        """The team's view: tag-scoped on the deployment's (shared) account; on the team's own
        account also what carries no tag, since the team owns that account."""
        if self._keep_fallback:
            return TeamScopedProvider(self._fallback, team_id=team_id, shared=True)
        try:
            credentials = await self._store.get_credentials(team_id)
        except ConfigError:
            # An unreadable key must not silently bill the deployment's account instead.
            log.warning("team key unreadable; refusing provider calls", extra={"team": team_id})
            return cast(Provider, UnavailableProvider())
        if credentials is None:
            return TeamScopedProvider(self._fallback, team_id=team_id, shared=True)
        if credentials.endpoint is not None and (
            problem := endpoint_problem(credentials.endpoint, required=False)
        ):
            # A row stored before the form refused such URLs: never send the key there.
            log.warning("team endpoint refused", extra={"team": team_id, "reason": problem})
            return cast(Provider, UnavailableProvider())
        version = (
            credentials.provider.value,
            credentials.fingerprint,
            credentials.endpoint or "",
            credentials.api_version or "",
        )
        cached = self._cache.get(team_id)
        if cached is not None and cached[0] == version:
            return TeamScopedProvider(cached[1], team_id=team_id, shared=False)
        provider = self._factory(credentials)
        if cached is not None:
            self._retired.append(cached[1])
        self._cache[team_id] = (version, provider)
        return TeamScopedProvider(provider, team_id=team_id, shared=False)

    def forget(self, team_id: str) -> None:
        """The team's key changed here: build its provider afresh on the next call."""
        cached = self._cache.pop(team_id, None)
        if cached is not None:
            self._retired.append(cached[1])

    async def aclose(self) -> None:
        for _, provider in self._cache.values():
            await provider.aclose()
        for provider in self._retired:
            await provider.aclose()
        self._cache.clear()
        self._retired.clear()


async def check_endpoint(policy: EndpointPolicy, credentials: TeamCredentials) -> None:
    """Raise ProviderError unless the credentials' endpoint may receive the key; the reason
    goes to the operator's log only (it names addresses and ports, never the key or a query)."""
    try:
        await policy.check_url(credentials.endpoint or OPENAI_BASE_URL)
    except EndpointRefusedError as error:
        log.warning(
            "team endpoint refused", extra={"team": credentials.team_id, "reason": str(error)}
        )
        raise ProviderError(ProviderErrorKind.CONNECTION) from None


class OpenAIKeyChecker:
    """Checks the endpoint's addresses, then the key the cheapest way the API allows: list the
    models it may see (through a client that checks the addresses again as it connects)."""

    def __init__(self, policy: EndpointPolicy, factory: ProviderFactory | None = None) -> None:
        self._policy = policy
        self._factory = factory or TeamProviderBuilder(policy)

    async def check(self, credentials: TeamCredentials) -> None:
        await check_endpoint(self._policy, credentials)
        provider = self._factory(credentials)
        try:
            await provider.list_models()
        finally:
            await provider.aclose()


class SandboxKeyChecker:
    """A sandbox deployment never calls a provider: any well-shaped key is accepted, but the
    endpoint obeys the same policy (the row outlives a switch to a real provider)."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            await check_endpoint(self._policy, credentials)


class UnavailableProvider:
    """Stands in for a team whose stored key cannot be read: every call fails as AUTH."""

    label = "Unavailable (the team's key cannot be read)"
    is_simulation = False

    def __getattr__(self, name: str) -> Any:
        async def refuse(*args: object, **kwargs: object) -> Any:
            raise ProviderError(ProviderErrorKind.AUTH)

        return refuse
