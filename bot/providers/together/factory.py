"""Providers: how the Together AI family is built: the deployment's account and its key check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.together.provider import TogetherProvider
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings

PROVIDER_TIMEOUT_SECONDS = 60.0


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if settings.together_api_key is None:
        raise ConfigError(
            "TOGETHER_API_KEY is not set: export TOGETHER_API_KEY=tgp_v1_... "
            "(or FINETUNE_BOT_PROVIDER=sandbox to try the bot without a key)."
        )


def build(settings: ProviderSettings, clock: Clock) -> TogetherProvider:
    """The deployment's Together account (TOGETHER_BASE_URL points it at a proxy or a fake)."""
    check(settings)
    assert settings.together_api_key is not None
    return TogetherProvider.connect(
        settings.together_api_key.get_secret_value(),
        base_url=settings.together_base_url,
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


class TeamProviderBuilder:
    """A TogetherProvider for a team's own key. A Together account takes no endpoint of the
    team's choosing, so the key only ever goes to Together's own API (or, in tests, to the
    base URL the deployment gives); guarded_http.py's checked transport is for endpoints a
    team types, and speaks httpx2 where the together SDK takes httpx."""

    def __init__(self, *, base_url: str | None = None) -> None:
        self._base_url = base_url

    def __call__(self, credentials: TeamCredentials) -> TogetherProvider:
        return TogetherProvider.connect(
            credentials.api_key.reveal(),
            base_url=self._base_url,
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )


class TogetherKeyChecker:
    """Refuses an endpoint (a Together account has none), then tries the key the cheapest
    way: the fine-tuning catalogue."""

    def __init__(self, build: TeamProviderBuilder) -> None:
        self._build = build

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "a Together AI account takes no endpoint; set it up with the key alone",
            )
        provider = self._build(credentials)
        try:
            await provider.list_models()
        finally:
            await provider.aclose()


def key_checker(policy: EndpointPolicy) -> TogetherKeyChecker:
    return TogetherKeyChecker(TeamProviderBuilder())


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder()
