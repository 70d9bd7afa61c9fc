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


class TogetherKeyChecker:
    """A team's own Together key is not built yet (team_accounts=False in the registry): a
    team endpoint needs the checked transport of guarded_http.py, which speaks httpx2 (the
    openai SDK's client) while the together SDK takes an httpx client. Refuse plainly."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy

    async def check(self, credentials: TeamCredentials) -> None:
        raise ProviderError(
            ProviderErrorKind.BAD_REQUEST,
            "a team's own Together AI key is not supported yet; the deployment's "
            "TOGETHER_API_KEY serves every team",
        )


def key_checker(policy: EndpointPolicy) -> TogetherKeyChecker:
    return TogetherKeyChecker(policy)


def team_factory(policy: EndpointPolicy) -> None:
    """None: the deployment's Together account serves every team, scoped by suffix tags."""
