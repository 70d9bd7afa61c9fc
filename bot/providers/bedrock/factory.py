"""Providers: how the Amazon Bedrock family is built: the deployment's account, a team's, and
the check of a team's AWS credentials before they are stored."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from bot.providers.bedrock.account import BedrockAccount, Endpoints
from bot.providers.bedrock.profile import ACCOUNTS
from bot.providers.bedrock.provider import BedrockProvider
from bot.providers.endpoint_policy import EndpointPolicy
from handlers.errors import ConfigError, CredentialsRefused, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.ports import Clock
from handlers.secrets import secret_fields

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings

PROVIDER_TIMEOUT_SECONDS = 60.0
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
"""An IAM role's ARN (the role Bedrock assumes), as IAM writes them."""
_KIND = ACCOUNTS[0]


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if not settings.bedrock_role_arn:
        raise ConfigError(
            "FINETUNE_BOT_BEDROCK_ROLE_ARN is not set: export it as the ARN of the IAM role "
            "Bedrock assumes to read and write your bucket (README, Amazon Bedrock)."
        )
    if not settings.bedrock_bucket:
        raise ConfigError(
            "FINETUNE_BOT_BEDROCK_BUCKET is not set: export the name of the S3 bucket the bot "
            "stages training data in."
        )


def build(settings: ProviderSettings, clock: Clock) -> BedrockProvider:
    """The deployment's Bedrock account, on the AWS default credential chain."""
    check(settings)
    assert settings.bedrock_role_arn is not None
    assert settings.bedrock_bucket is not None
    return BedrockProvider(
        BedrockAccount(
            region=settings.bedrock_region,
            role_arn=settings.bedrock_role_arn,
            bucket=settings.bedrock_bucket,
            prefix=settings.bedrock_prefix,
        ),
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


DEFAULT_PREFIX = "finetune-bot/"


def bucket_and_prefix(location: str) -> tuple[str, str]:
    """`BUCKET`, `BUCKET/PREFIX/` or `s3://BUCKET/PREFIX/` as (bucket, prefix ending in /)."""
    bucket, _, prefix = location.strip().removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else DEFAULT_PREFIX


def team_account(credentials: TeamCredentials) -> BedrockAccount:
    """A team's account from its stored credentials (settings in clear, the secret packed)."""
    secrets = secret_fields(credentials.api_key, _KIND.secret_names)
    settings = credentials.settings
    bucket, prefix = bucket_and_prefix(settings.get("bucket", ""))
    return BedrockAccount(
        region=settings.get("region") or "us-east-1",
        role_arn=settings.get("role_arn", ""),
        bucket=bucket,
        prefix=prefix,
        access_key_id=secrets.get("key") or None,
        secret_access_key=secrets.get("secret_access_key") or None,
    )


class TeamProviderBuilder:
    """A BedrockProvider for a team's own AWS account; its calls go only to AWS's own
    endpoints (or, in tests, the endpoints given here)."""

    def __init__(self, *, endpoints: Endpoints | None = None) -> None:
        self._endpoints = endpoints

    def __call__(self, credentials: TeamCredentials) -> BedrockProvider:
        return BedrockProvider(
            team_account(credentials),
            endpoints=self._endpoints,
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )


class BedrockCredentialsChecker:
    """Before a team's AWS credentials are stored: who they are (sts get_caller_identity),
    that they can write the bucket under the prefix (a probe object, deleted again), and that
    Bedrock fine-tunes some model in the region. Each failure is one CredentialsRefused
    naming the problem and the fix; nothing else is staged or started."""

    def __init__(self, build: TeamProviderBuilder, *, allow_ambient: bool = False) -> None:
        self._build = build
        self._allow_ambient = allow_ambient

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            raise CredentialsRefused(
                "An Amazon Bedrock account takes no endpoint; set it up without one."
            )
        account = team_account(credentials)
        if credentials.ambient and not self._allow_ambient:
            raise CredentialsRefused(
                "This deployment does not lend its own AWS identity to teams: enter an access "
                "key id and secret access key (or ask the operator to set "
                "FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY)."
            )
        if bool(account.access_key_id) != bool(account.secret_access_key):
            raise CredentialsRefused(
                "Enter both the access key id and the secret access key (or neither)."
            )
        for name, value in (("role ARN", account.role_arn), ("bucket", account.bucket)):
            if not value:
                raise CredentialsRefused(f"The {name} is missing: fill it in and set up again.")
        if not ROLE_ARN.fullmatch(account.role_arn):
            raise CredentialsRefused(
                "The role ARN is not an IAM role's: it reads arn:aws:iam::ACCOUNT:role/NAME "
                "(IAM, Roles, the role, ARN); set up again with it."
            )
        provider = self._build(credentials)
        try:
            await self._identity(provider)
            await self._bucket(provider, account)
            await self._region(provider, account)
        finally:
            await provider.aclose()

    @staticmethod
    async def _identity(provider: BedrockProvider) -> None:
        try:
            await provider.caller_identity()
        except ProviderError as error:
            if error.kind in (ProviderErrorKind.AUTH, ProviderErrorKind.PERMISSION):
                raise CredentialsRefused(
                    "AWS did not accept these credentials (sts get_caller_identity was "
                    "refused): check the access key id and secret access key in IAM, or make "
                    "a new key, and set up again."
                ) from None
            raise

    @staticmethod
    async def _bucket(provider: BedrockProvider, account: BedrockAccount) -> None:
        try:
            await provider.probe_write(f"setup-check-{uuid.uuid4().hex}")
        except ProviderError as error:
            if error.kind in (
                ProviderErrorKind.AUTH,
                ProviderErrorKind.PERMISSION,
                ProviderErrorKind.NOT_FOUND,
            ):
                raise CredentialsRefused(
                    f"These credentials cannot write to s3://{account.bucket}/{account.prefix}"
                    ": check the bucket's name and region, and allow s3:PutObject, "
                    "s3:GetObject, s3:DeleteObject and s3:ListBucket on it to this identity."
                ) from None
            raise

    @staticmethod
    async def _region(provider: BedrockProvider, account: BedrockAccount) -> None:
        try:
            models = await provider.list_models()
        except ProviderError as error:
            if error.kind in (ProviderErrorKind.AUTH, ProviderErrorKind.PERMISSION):
                raise CredentialsRefused(
                    "These credentials may not list Bedrock's models: allow "
                    "bedrock:ListFoundationModels and the model-customization actions to "
                    "this identity (README, Amazon Bedrock)."
                ) from None
            raise
        if not models:
            raise CredentialsRefused(
                f"Bedrock fine-tunes no model in {account.region}: use us-east-1 (Amazon Nova) "
                "or us-west-2 (Claude 3 Haiku, Llama), and set up again."
            )


def key_checker(policy: EndpointPolicy) -> BedrockCredentialsChecker:
    return BedrockCredentialsChecker(TeamProviderBuilder(), allow_ambient=policy.ambient_identity)


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder()
