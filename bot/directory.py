"""Composition root: which provider serves a team: its own key's account, or the deployment's."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.registry import FAMILIES, TeamFactory, account_family
from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import (
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    MetricPoint,
    ProviderFile,
    ProviderModel,
    TeamCredentials,
)
from handlers.ports import FineTuning, Provider, TeamStore
from handlers.profile import ProviderProfile
from handlers.scope import TeamScopedProvider
from handlers.secrets import endpoint_problem

log = logging.getLogger(__name__)

ProviderFactory = TeamFactory


class TeamProviderDirectory:
    """Resolves (team, family) to a provider: the team's own key for that family if it set one
    up, else the deployment's account when the family is the deployment's or one of its
    companions (families the deployment also serves on its own account, the registry's
    `Family.companions`). Builds and caches one provider per (team, family). A sandbox
    deployment keeps the sandbox (and its companions) for everyone.

    A family the team cannot use (no key, not the deployment's) resolves to UnavailableProvider,
    so a job whose family's key was removed fails as AUTH, alone; `available` is what commands
    check first to refuse such a family in one reply.
    """

    def __init__(
        self,
        *,
        store: TeamStore,
        fallback: FineTuning,
        companions: Sequence[FineTuning] = (),
        keep_fallback: bool = False,
        factory: ProviderFactory | None = None,
        policy: EndpointPolicy | None = None,
        profiles: Mapping[str, ProviderProfile] | None = None,
    ) -> None:
        self._store = store
        self._fallback = fallback
        self._companions = {c.profile.name: c for c in companions if c is not fallback}
        """The deployment's account's other families, by name, in the order given."""
        self._keep_fallback = keep_fallback
        self._factory = factory
        self._policy = policy or EndpointPolicy()
        self._profiles = dict(profiles or {})
        """Profiles of families beyond the registry's (tests' own families), by name."""
        self._cache: dict[tuple[str, str], tuple[tuple[str, ...], FineTuning]] = {}
        self._retired: list[FineTuning] = []

    @property
    def provider(self) -> FineTuning:
        return self._fallback

    @property
    def family(self) -> str:
        """The deployment's own family: what a team with no default uses."""
        return self._fallback.profile.name

    def _build(self, credentials: TeamCredentials) -> FineTuning:
        """The team's own provider, from the family that serves its account kind."""
        if self._factory is not None:
            return self._factory(credentials)
        found = account_family(credentials.provider)
        build = found.load().team_factory(self._policy) if found is not None else None
        if build is None:
            raise ConfigError(f"No provider family serves {credentials.provider} accounts.")
        return build(credentials)

    @property
    def companions(self) -> Sequence[FineTuning]:
        """The other families the deployment's account serves, in order."""
        return tuple(self._companions.values())

    def _deployments(self) -> tuple[str, ...]:
        """The families the deployment's account serves: its own first."""
        return (self.family, *self._companions)

    def _shared(self, team_id: str, family: str) -> Provider:
        """The team's tag-scoped view of the deployment's account of `family`."""
        inner = self._companions.get(family, self._fallback)
        return TeamScopedProvider(inner, team_id=team_id, shared=True)

    def _profile(self, family: str) -> ProviderProfile:
        """A family's profile, for a provider that refuses every call but names its family."""
        if family in self._profiles:
            return self._profiles[family]
        if family == self.family:
            return self._fallback.profile
        if family in self._companions:
            return self._companions[family].profile
        found = FAMILIES.get(family)
        return found.profile if found is not None else self._fallback.profile

    async def available(self, team_id: str) -> Sequence[str]:
        """The families the team can use now, its default first (the deployment's unless it
        chose another); a sandbox deployment offers only its own account's families."""
        served = self._deployments()
        if self._keep_fallback and not self._companions:
            return served
        keys = (
            []
            if self._keep_fallback
            else [c.family for c in await self._store.list_credentials(team_id)]
        )
        default = await self._store.get_default_provider(team_id) or self.family
        found = dict.fromkeys([default, *served, *keys])
        return tuple(f for f in found if f in served or f in keys)

    async def for_team(self, team_id: str, family: str | None = None) -> Provider:
        """The team's view of one family (None: the team's default, else the deployment's):
        tag-scoped on the deployment's (shared) account; on the team's own account also what
        carries no tag, since the team owns that account."""
        if self._keep_fallback and not self._companions:
            return TeamScopedProvider(self._fallback, team_id=team_id, shared=True)
        wanted = family or await self._store.get_default_provider(team_id) or self.family
        if self._keep_fallback:
            # Any other family (a row from before a switch to this deployment) is the fallback.
            return self._shared(team_id, wanted)
        try:
            credentials = await self._store.get_credentials(team_id, wanted)
        except ConfigError:
            # An unreadable key must not silently bill the deployment's account instead.
            log.warning("team key unreadable; refusing provider calls", extra={"team": team_id})
            return UnavailableProvider(self._profile(wanted))
        if credentials is None:
            if wanted in self._deployments():
                return self._shared(team_id, wanted)
            log.warning("no key for the family", extra={"team": team_id, "family": wanted})
            return UnavailableProvider(self._profile(wanted))
        if credentials.endpoint is not None and (
            problem := endpoint_problem(credentials.endpoint, required=False)
        ):
            # A row stored before the form refused such URLs: never send the key there.
            log.warning("team endpoint refused", extra={"team": team_id, "reason": problem})
            return UnavailableProvider(self._profile(wanted))
        version = (
            credentials.provider,
            credentials.fingerprint,
            credentials.endpoint or "",
            credentials.api_version or "",
        )
        cached = self._cache.get((team_id, wanted))
        if cached is not None and cached[0] == version:
            return TeamScopedProvider(cached[1], team_id=team_id, shared=False)
        provider = self._build(credentials)
        if cached is not None:
            self._retired.append(cached[1])
        self._cache[(team_id, wanted)] = (version, provider)
        return TeamScopedProvider(provider, team_id=team_id, shared=False)

    def forget(self, team_id: str) -> None:
        """The team's keys changed here: build its providers afresh on the next call."""
        for key in [k for k in self._cache if k[0] == team_id]:
            self._retired.append(self._cache.pop(key)[1])

    async def aclose(self) -> None:
        for provider in [p for _, p in self._cache.values()] + self._retired:
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        self._cache.clear()
        self._retired.clear()


class AccountKeyChecker:
    """Checks a team's key with the family that builds its kind of account."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy

    async def check(self, credentials: TeamCredentials) -> None:
        found = account_family(credentials.provider)
        if found is None:  # setup offers only kinds some family builds
            raise ProviderError(ProviderErrorKind.BAD_REQUEST, "no provider builds that account")
        await found.load().key_checker(self._policy).check(credentials)


class UnavailableProvider:
    """Stands in for a team whose stored key cannot be read: every call fails as AUTH."""

    label = "Unavailable (the team's key cannot be read)"
    is_simulation = False

    def __init__(self, profile: ProviderProfile) -> None:
        self._profile = profile

    @property
    def profile(self) -> ProviderProfile:
        return self._profile

    @staticmethod
    def _refuse() -> ProviderError:
        return ProviderError(ProviderErrorKind.AUTH)

    async def upload_file(
        self, path: Path, *, filename: str, progress: Callable[[int, int], None] | None = None
    ) -> ProviderFile:
        raise self._refuse()

    async def delete_file(self, file_id: str) -> None:
        raise self._refuse()

    async def file_content(self, file_id: str) -> bytes:
        raise self._refuse()

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        raise self._refuse()

    async def get_job(self, job_id: str) -> JobState:
        raise self._refuse()

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        raise self._refuse()

    async def list_models(self) -> Sequence[ProviderModel]:
        raise self._refuse()

    async def cancel_job(self, job_id: str) -> JobState:
        raise self._refuse()

    async def pause_job(self, job_id: str) -> JobState:
        raise self._refuse()

    async def resume_job(self, job_id: str) -> JobState:
        raise self._refuse()

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        raise self._refuse()

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        raise self._refuse()

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        raise self._refuse()

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        raise self._refuse()

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        raise self._refuse()
