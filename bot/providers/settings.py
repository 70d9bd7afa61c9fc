"""Providers: what a family's factory reads of the bot's settings, named here so that the
registry and the factories need nothing of bot/app (which itself asks the registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr


class ProviderSettings(Protocol):
    """The deployment's provider settings; `bot.app.config.Settings` is one."""

    @property
    def provider(self) -> str: ...

    @property
    def openai_api_key(self) -> SecretStr | None: ...

    @property
    def openai_base_url(self) -> str | None: ...

    @property
    def azure_openai_endpoint(self) -> str | None: ...

    @property
    def azure_openai_api_key(self) -> SecretStr | None: ...

    @property
    def azure_openai_ad_token(self) -> SecretStr | None: ...

    @property
    def openai_api_version(self) -> str: ...

    @property
    def azure_openai_training_type(self) -> str: ...

    @property
    def nebius_api_key(self) -> SecretStr | None: ...

    @property
    def nebius_base_url(self) -> str: ...

    @property
    def together_api_key(self) -> SecretStr | None: ...

    @property
    def together_base_url(self) -> str | None: ...

    @property
    def fireworks_api_key(self) -> SecretStr | None: ...

    @property
    def fireworks_account_id(self) -> str | None: ...

    @property
    def fireworks_base_url(self) -> str | None: ...

    @property
    def sandbox_state(self) -> Path | None: ...

    @property
    def sandbox_speed(self) -> float: ...
