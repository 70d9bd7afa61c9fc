"""Providers: how the Vertex AI family is built: credentials, the bucket, and the setup check.

A team's account is a service-account key (its JSON, the one secret), a project, a region, a
bucket and a prefix; or, when the operator allows it (FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY),
no key: Application Default Credentials act for the team. A pasted key's `token_uri` is never
used: its tokens always come from Google's own token endpoint (a test names its fake's), so
a team cannot make the bot post a signed assertion anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import google.auth
from google.cloud import storage
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.vertex.profile import ACCOUNTS
from bot.providers.vertex.provider import VertexProvider
from bot.providers.vertex.staging import Bucket, Staging, normal_prefix
from handlers.errors import ConfigError, CredentialsRefused, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.ports import Clock
from handlers.secrets import secret_fields

if TYPE_CHECKING:
    from bot.providers.settings import ProviderSettings

SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)
GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
PROVIDER_TIMEOUT_SECONDS = 60.0
_ACCOUNT = ACCOUNTS[0]


def check(settings: ProviderSettings) -> None:
    """Raise ConfigError naming the first missing setting of the deployment's account."""
    if not settings.vertex_project:
        raise ConfigError(
            "VERTEX_PROJECT is not set: export VERTEX_PROJECT=<your Google Cloud project id>."
        )
    if not settings.vertex_bucket:
        raise ConfigError(
            "VERTEX_BUCKET is not set: export VERTEX_BUCKET=<a private GCS bucket in "
            f"{settings.vertex_location}> (the bot stages training files there)."
        )
    path = settings.vertex_credentials_file
    if path is not None and not path.is_file():
        raise ConfigError(f"VERTEX_CREDENTIALS_FILE names no file: {path}.")


def _deployment_credentials(settings: ProviderSettings) -> Any:
    if settings.vertex_access_token is not None:
        return oauth2_credentials.Credentials(  # type: ignore[no-untyped-call]
            token=settings.vertex_access_token.get_secret_value()
        )
    if settings.vertex_credentials_file is not None:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(settings.vertex_credentials_file), scopes=SCOPES
        )
    found, _ = google.auth.default(scopes=SCOPES)
    return found


def connect(
    credentials: Any,
    *,
    project: str,
    location: str,
    bucket: str,
    prefix: str,
    base_url: str | None = None,
    storage_url: str | None = None,
) -> VertexProvider:
    """A provider on one project, region and bucket with these google.auth credentials."""
    client = storage.Client(
        project=project,
        credentials=credentials,
        client_options={"api_endpoint": storage_url} if storage_url else None,
    )
    staging = Staging(client, Bucket(name=bucket, prefix=normal_prefix(prefix)))
    return VertexProvider.connect(
        credentials=credentials,
        project=project,
        location=location,
        staging=staging,
        base_url=base_url,
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


def build(settings: ProviderSettings, clock: Clock) -> VertexProvider:
    """The deployment's Vertex AI account (VERTEX_BASE_URL and VERTEX_STORAGE_URL point it at
    a proxy, or a test's fake and emulator)."""
    check(settings)
    assert settings.vertex_project is not None
    assert settings.vertex_bucket is not None
    return connect(
        _deployment_credentials(settings),
        project=settings.vertex_project,
        location=settings.vertex_location,
        bucket=settings.vertex_bucket,
        prefix=settings.vertex_prefix,
        base_url=settings.vertex_base_url,
        storage_url=settings.vertex_storage_url,
    )


class TeamProviderBuilder:
    """A VertexProvider for a team's own account, from its stored credentials."""

    def __init__(
        self,
        policy: EndpointPolicy,
        *,
        base_url: str | None = None,
        storage_url: str | None = None,
        token_uri: str = GOOGLE_TOKEN_URI,
        ambient: Callable[[], Any] | None = None,
    ) -> None:
        self._policy = policy
        self._base_url = base_url
        self._storage_url = storage_url
        self._token_uri = token_uri
        self._ambient = ambient or (lambda: google.auth.default(scopes=SCOPES)[0])

    @property
    def policy(self) -> EndpointPolicy:
        return self._policy

    def credentials(self, credentials: TeamCredentials) -> Any:
        """The google.auth credentials of the account; CredentialsRefused if there are none
        the bot may use."""
        if credentials.ambient:
            if not self._policy.ambient_identity:
                raise CredentialsRefused(
                    "This deployment does not lend its own Google identity to teams: paste "
                    "the service account's JSON key (or ask the operator to set "
                    "FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY=true)."
                )
            return self._ambient()
        fields = secret_fields(credentials.api_key, _ACCOUNT.secret_names)
        try:
            info = json.loads(fields.get("service_account", ""))
            info["token_uri"] = self._token_uri  # never the pasted one
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (ValueError, TypeError, KeyError):
            raise CredentialsRefused(
                "The service account's key file could not be read: create a new JSON key "
                "and paste it whole."
            ) from None

    def __call__(self, credentials: TeamCredentials) -> VertexProvider:
        settings = credentials.settings
        return connect(
            self.credentials(credentials),
            project=settings.get("project", ""),
            location=settings.get("region") or "us-central1",
            bucket=settings.get("bucket", ""),
            prefix=settings.get("prefix", "finetune-bot/"),
            base_url=self._base_url,
            storage_url=self._storage_url,
        )


class VertexKeyChecker:
    """Checks an account before it is stored, each failure one reply naming the fix: the key
    (a token is fetched), Vertex AI in that project and region (one page of its jobs), and
    the bucket (a tiny object written and deleted)."""

    def __init__(self, build: TeamProviderBuilder) -> None:
        self._build = build

    async def check(self, credentials: TeamCredentials) -> None:
        if credentials.endpoint is not None:
            raise CredentialsRefused("A Vertex AI account takes no endpoint: leave it empty.")
        settings = credentials.settings
        project = settings.get("project", "")
        region = settings.get("region") or "us-central1"
        provider = self._build(credentials)
        try:
            try:
                await provider.list_jobs(limit=1)
            except ProviderError as error:
                raise _refusal(error, project=project, region=region) from None
            try:
                await provider.staging.check_writable()
            except ProviderError as error:
                if error.kind is ProviderErrorKind.AUTH:
                    raise CredentialsRefused(_KEY_REFUSED) from None
                raise
        finally:
            await provider.aclose()


_KEY_REFUSED = (
    "Google refused the service account's key (deleted, disabled, or not this account's): "
    "create a new JSON key for it and paste it."
)


def _refusal(error: ProviderError, *, project: str, region: str) -> Exception:
    match error.kind:
        case ProviderErrorKind.AUTH:
            return CredentialsRefused(_KEY_REFUSED)
        case ProviderErrorKind.PERMISSION:
            return CredentialsRefused(
                f"The service account may not use Vertex AI in project {project}: grant it "
                "the Vertex AI User role (roles/aiplatform.user), and enable the Vertex AI API."
            )
        case ProviderErrorKind.NOT_FOUND | ProviderErrorKind.BAD_REQUEST:
            return CredentialsRefused(
                f"Vertex AI has no region {region} for project {project}: give a region that "
                "tunes Gemini (e.g. us-central1 or europe-west4) and check the project id."
            )
    return error


def key_checker(policy: EndpointPolicy) -> VertexKeyChecker:
    return VertexKeyChecker(TeamProviderBuilder(policy))


def team_factory(policy: EndpointPolicy) -> TeamProviderBuilder:
    return TeamProviderBuilder(policy)
