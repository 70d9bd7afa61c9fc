"""Application: every setting, read once from the environment in main, never at import."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.providers.endpoint_policy import parse_allowlist
from bot.providers.registry import SETTINGS_NAMES, family
from handlers.errors import ConfigError
from handlers.model import Role

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/finetune-bot.db"


class SlackMode(StrEnum):
    SOCKET = "socket"
    HTTP = "http"


def _env(*names: str) -> Any:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Conventional names for the platforms' and OpenAI's secrets; FINETUNE_BOT_ for the rest."""

    model_config = SettingsConfigDict(
        env_prefix="FINETUNE_BOT_",
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
    )

    # chat platforms (adapters arrive with their own issues; the settings are read already)
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_mode: SlackMode = Field(default=SlackMode.SOCKET, validation_alias=_env("SLACK_MODE"))
    slack_api_base_url: str | None = Field(
        default=None, validation_alias=_env("SLACK_API_BASE_URL")
    )
    slack_client_id: str | None = Field(default=None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_CLIENT_SECRET")
    )
    discord_token: SecretStr | None = Field(default=None, validation_alias=_env("DISCORD_TOKEN"))
    discord_guild_ids: str = Field(default="", validation_alias=_env("DISCORD_GUILD_IDS"))
    discord_shard_count: int | None = Field(
        default=None, ge=1, le=10000, validation_alias=_env("DISCORD_SHARD_COUNT")
    )
    discord_api_base_url: str | None = Field(
        default=None, validation_alias=_env("DISCORD_API_BASE_URL")
    )
    discord_gateway_url: str | None = Field(
        default=None, validation_alias=_env("DISCORD_GATEWAY_URL")
    )
    discord_commands_hash_file: Path = Field(
        default=Path("./data/discord-commands.sha256"),
        validation_alias=_env("DISCORD_COMMANDS_HASH_FILE"),
    )

    # provider
    provider: str = "openai"
    """A FINETUNE_BOT_PROVIDER value one registered provider family serves."""
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    azure_openai_endpoint: str | None = Field(
        default=None, validation_alias=_env("AZURE_OPENAI_ENDPOINT")
    )
    azure_openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("AZURE_OPENAI_API_KEY")
    )
    azure_openai_ad_token: SecretStr | None = Field(
        default=None, validation_alias=_env("AZURE_OPENAI_AD_TOKEN")
    )
    """An Entra ID access token for the deployment's Azure resource, when it has no key."""
    openai_api_version: str = Field(
        default="2025-04-01-preview", validation_alias=_env("OPENAI_API_VERSION")
    )
    """The api-version of every Azure OpenAI request of the deployment's resource."""
    azure_openai_training_type: Literal["globalstandard", "standard", "developer"] = Field(
        default="globalstandard", validation_alias=_env("AZURE_OPENAI_TRAINING_TYPE")
    )
    """The training tier Azure jobs are created with (Global Standard, Standard, Developer)."""
    nebius_api_key: SecretStr | None = Field(default=None, validation_alias=_env("NEBIUS_API_KEY"))
    nebius_base_url: str = Field(
        default="https://api.tokenfactory.nebius.com/v1/",
        validation_alias=_env("NEBIUS_BASE_URL"),
    )
    """Nebius Token Factory's API root: a proxy, or a test's fake."""
    openai_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("OPENAI_WEBHOOK_SECRET")
    )
    together_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("TOGETHER_API_KEY")
    )
    together_base_url: str | None = Field(default=None, validation_alias=_env("TOGETHER_BASE_URL"))
    """Together's API root (default https://api.together.ai): a proxy, or a test's fake."""
    fireworks_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("FIREWORKS_API_KEY")
    )
    fireworks_account_id: str | None = Field(
        default=None, validation_alias=_env("FIREWORKS_ACCOUNT_ID")
    )
    """The account the deployment's key works in (the ACCOUNT of accounts/ACCOUNT/...)."""
    fireworks_base_url: str | None = Field(
        default=None, validation_alias=_env("FIREWORKS_BASE_URL")
    )
    """Fireworks' API root (default https://api.fireworks.ai): a proxy, or a test's fake."""
    bedrock_region: str = Field(
        default="us-east-1", validation_alias=_env("FINETUNE_BOT_BEDROCK_REGION", "AWS_REGION")
    )
    """The deployment's Bedrock region; its AWS credentials come from the default chain."""
    bedrock_role_arn: str | None = None
    """The IAM role Bedrock assumes to read and write the bucket."""
    bedrock_bucket: str | None = None
    """The S3 bucket the bot stages training data in and Bedrock writes its output to."""
    bedrock_prefix: str = "finetune-bot/"
    """Where in the bucket the bot stages files and Bedrock writes each job's output."""
    vertex_project: str | None = Field(default=None, validation_alias=_env("VERTEX_PROJECT"))
    """The Google Cloud project of the deployment's own Vertex AI account."""
    vertex_location: str = Field(default="us-central1", validation_alias=_env("VERTEX_LOCATION"))
    vertex_bucket: str | None = Field(default=None, validation_alias=_env("VERTEX_BUCKET"))
    """The private GCS bucket the deployment's account stages training files in."""
    vertex_prefix: str = Field(default="finetune-bot/", validation_alias=_env("VERTEX_PREFIX"))
    vertex_credentials_file: Path | None = Field(
        default=None, validation_alias=_env("VERTEX_CREDENTIALS_FILE")
    )
    """A service-account JSON key file; unset: Application Default Credentials."""
    vertex_access_token: SecretStr | None = Field(
        default=None, validation_alias=_env("VERTEX_ACCESS_TOKEN")
    )
    """A ready OAuth2 access token instead of a key file (it is never refreshed)."""
    vertex_base_url: str | None = Field(default=None, validation_alias=_env("VERTEX_BASE_URL"))
    """Vertex AI's API root (default https://REGION-aiplatform.googleapis.com/): a proxy, or
    a test's fake."""
    vertex_storage_url: str | None = Field(
        default=None, validation_alias=_env("VERTEX_STORAGE_URL")
    )
    """Cloud Storage's API root (default https://storage.googleapis.com): a test's emulator."""
    sandbox_state: Path | None = None
    sandbox_speed: float = Field(default=1.0, gt=0, le=1000)
    prices_file: Path | None = None
    """An operator's copy of the provider family's bot/providers/<family>/prices.json (prices
    and token limits); it replaces that family's bundled table."""

    # teams, keys and permissions
    encryption_keys: SecretStr | None = None
    """Fernet keys, comma-separated, newest first: encrypt the teams' own provider keys."""
    default_role: Role = Role.VIEWER
    """The role of a member who is no workspace admin and was granted none."""
    approval_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    self_approval: bool = False
    """A team admin may approve their own start (a team with one admin); each is audited."""
    confirm_over_usd: float | None = Field(default=25.0, ge=0)
    """A typed start estimated above this many dollars asks its requester to press Start
    first (0: every priced start asks; `off`: none asks)."""
    endpoint_allowlist: str = ""
    """Hosts and networks (CIDR) a team's endpoint may reach although private or plain http."""
    ambient_cloud_identity: bool = False
    """Teams may set up a cloud account (Vertex AI, Bedrock) with no secrets of their own, to
    have the deployment's identity (Google ADC, the AWS default chain) act for them."""

    # storage and web
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"

    # watcher
    sweep_seconds: float = Field(default=5.0, gt=0, le=3600)
    dispatch_seconds: float = Field(default=1.0, gt=0, le=3600)
    running_poll_seconds: float = Field(default=15.0, gt=0, le=3600)
    queued_poll_seconds: float = Field(default=60.0, gt=0, le=86400)
    metric_interval_seconds: float = Field(default=60.0, ge=0, le=86400)
    housekeeping_seconds: float = Field(default=300.0, gt=0, le=86400)
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    claim_limit: int = Field(default=200, ge=1, le=10_000)
    """Due jobs one claim takes (whole accounts); a sweep claims chunk after chunk."""
    outbox_retention_days: float = Field(default=7.0, gt=0, le=3650)

    # compare
    compare_concurrency: int = Field(default=8, ge=1, le=256)
    """Chat calls in flight at once per comparison."""
    compare_max_examples: int = Field(default=500, ge=1, le=100_000)
    """The test-set cap: a comparison asking for more examples is refused."""

    # long work (compare, validate, upload, dataset, try): refused at once over a limit
    team_long_tasks: int = Field(default=2, ge=1, le=1000)
    """Long tasks one team may run at once; one more is refused with a message."""
    long_tasks: int = Field(default=16, ge=1, le=10_000)
    """Long tasks the whole bot runs at once, for all teams together."""
    validation_threads: int = Field(default=1, ge=1, le=64)
    """Threads that validate files; validations beyond them wait for a free one."""

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("confirm_over_usd", mode="before")
    @classmethod
    def _confirm_over(cls, value: object) -> object:
        """`off` (or an empty value): no typed start asks to be confirmed."""
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none"):
            return None
        return value

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in SETTINGS_NAMES:
            quoted = [f"'{n}'" for n in SETTINGS_NAMES]
            raise ValueError(f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}")
        return value

    @field_validator("endpoint_allowlist")
    @classmethod
    def _allowlist(cls, value: str) -> str:
        parse_allowlist(value)  # its ValueError names the bad entry
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        if value.startswith("postgresql://"):
            return "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        return value

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None or self.slack_client_id is not None

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None


def env_name(field: str) -> str:
    """The environment variable that sets a field; `field` may be the name or an alias, as
    pydantic reports an aliased field by its alias."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    if info is None and any(
        isinstance(f.validation_alias, AliasChoices)
        and field.upper() in (str(c).upper() for c in f.validation_alias.choices)
        for f in Settings.model_fields.values()
    ):
        return field.upper()
    return f"FINETUNE_BOT_{field.upper()}"


def settings_epilog(*fields: str) -> str:
    """A sub-command's `--help` epilog naming the environment variables it reads."""
    names = ", ".join(env_name(f) for f in fields)
    return f"Settings (environment variables; README, Configuration): {names}."


def load_settings(**overrides: Any) -> Settings:
    """Build the Settings once; an invalid value becomes one ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        # Never echo the rejected value: it could be a secret.
        raise ConfigError(
            f"{env_name(field)} is invalid: {message}. Set it in the environment, e.g. "
            f"export {env_name(field)}=..."
        ) from None


def check_provider(settings: Settings) -> None:
    """Raise ConfigError naming the first missing provider setting."""
    family(settings.provider).load().check(settings)
