"""Providers: how the Fireworks AI family is built: the deployment's account and its key check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.fireworks.provider import FireworksProvider
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.ports import Clock

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings

PROVIDER_TIMEOUT_SECONDS = 60.0


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if settings.fireworks_api_key is None:
        raise ConfigError(
            "FIREWORKS_API_KEY is not set: export FIREWORKS_API_KEY=fw_... "
            "(or FINETUNE_BOT_PROVIDER=sandbox to try the bot without a key)."
        )
    if not settings.fireworks_account_id:
        raise ConfigError(
            "FIREWORKS_ACCOUNT_ID is not set: export FIREWORKS_ACCOUNT_ID=<your account id> "
            "(the ACCOUNT in accounts/ACCOUNT/..., shown on fireworks.ai under Account)."
        )


def build(settings: ProviderSettings, clock: Clock) -> FireworksProvider:
    """The deployment's Fireworks account (FIREWORKS_BASE_URL points it at a proxy or a fake)."""
    check(settings)
    assert settings.fireworks_api_key is not None
    assert settings.fireworks_account_id is not None
    return FireworksProvider.connect(
        settings.fireworks_api_key.get_secret_value(),
        account_id=settings.fireworks_account_id,
        base_url=settings.fireworks_base_url,
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


class TeamProviderBuilder:
    """A FireworksProvider for a team's own key, on the account that key belongs to: the setup
    request carries no account field, so the provider asks Fireworks (GET /v1/accounts) on
    first use. The key only ever goes to Fireworks' own API (or, in tests, the base URL given
    here)."""

    def __init__(self, *, base_url: str | None = None) -> None:
        self._base_url = base_url

    def __call__(self, credentials: TeamCredentials) -> FireworksProvider:
        return FireworksProvider.connect(
            credentials.api_key.reveal(),
            account_id=None,
            base_url=self._base_url,
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )


class FireworksKeyChecker:
    """Refuses an endpoint (a Fireworks account has none), then finds the key's account and
    lists its fine-tuning jobs: a key of no account, or one that cannot read it, is refused."""

    def __init__(self, build: TeamProviderBuilder) -> None:
        self._build = build

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "a Fireworks AI account takes no endpoint; set it up with the key alone",
            )
        provider = self._build(credentials)
        try:
            await provider.list_jobs(limit=1)
        finally:
            await provider.aclose()


def key_checker(policy: EndpointPolicy) -> FireworksKeyChecker:
    return FireworksKeyChecker(TeamProviderBuilder())


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder()
