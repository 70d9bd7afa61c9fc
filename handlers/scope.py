"""Core layer: one team's view of a provider account: its reads filtered by the team's tag."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    ACCOUNT_DEPLOYMENT,
    ACCOUNT_TEAM,
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    MetricPoint,
    ModelLimits,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import (
    Cancellable,
    Checkpoints,
    CompletionLog,
    Events,
    FineTuning,
    Inference,
    MetricFiles,
    ModelLimitsSource,
    Pausable,
    PriceEstimates,
    Provider,
    ProviderEstimate,
    Resumable,
)
from handlers.profile import ProviderProfile

TEAM_KEY = "ftbot_team"
"""The metadata key naming the team on everything the bot creates at a provider."""

FOREIGN_SCAN_JOBS = 1000
"""How many of the account's newest jobs are read to learn which models belong to others."""


def tagged_for(metadata: Mapping[str, str], team_id: str, *, shared: bool) -> bool:
    """Whether an item with this metadata is the team's to see.

    On a shared account only what carries the team's tag; on the team's own account also
    what carries no tag (it is the team's account), never what is tagged for another team.
    """
    tag = metadata.get(TEAM_KEY)
    if tag is None:
        return not shared
    return tag == team_id


def account_of(provider: FineTuning) -> str:
    """Whose key a view calls with, recorded with the family (`profile.name`) on every row the
    team makes through it; a bare provider (no team view) is the deployment's."""
    if isinstance(provider, TeamScopedProvider) and not provider.shared:
        return ACCOUNT_TEAM
    return ACCOUNT_DEPLOYMENT


class TeamScopedProvider:
    """The Provider port for one team: every read of the account is filtered by the team's tag
    and everything it creates there carries it.

    The directory hands only this to the core, so no command can forget the filter. Filters go
    to the server where the API takes them (`metadata[ftbot_team]=...`) and are checked again
    here, because compatible servers may ignore them. Files carry no metadata at the provider:
    the team's files are the store's, and a listing of the account's files shows a team on a
    shared account nothing.
    """

    def __init__(self, inner: FineTuning, *, team_id: str, shared: bool) -> None:
        self._inner = inner
        self._team = team_id
        self._shared = shared
        self._foreign: frozenset[str] | None = None

    @property
    def inner(self) -> FineTuning:
        return self._inner

    @property
    def team_id(self) -> str:
        return self._team

    @property
    def shared(self) -> bool:
        return self._shared

    @property
    def account(self) -> str:
        return ACCOUNT_DEPLOYMENT if self._shared else ACCOUNT_TEAM

    @property
    def label(self) -> str:
        return self._inner.label

    @property
    def is_simulation(self) -> bool:
        return self._inner.is_simulation

    @property
    def profile(self) -> ProviderProfile:
        return self._inner.profile

    def _refuse(self, what: str) -> ProviderError:
        """The core asks the profile before it calls; this is the net if it did not."""
        return ProviderError(ProviderErrorKind.BAD_REQUEST, f"{self.label} cannot {what}")

    def _mine(self, metadata: Mapping[str, str]) -> bool:
        return tagged_for(metadata, self._team, shared=self._shared)

    def _filter(self, metadata: Mapping[str, str] | None) -> dict[str, str] | None:
        """The server-side filter: the caller's, plus the team's tag on a shared account; None
        when the caller asked for another team's tag (nothing can match)."""
        wanted = dict(metadata or {})
        asked = wanted.get(TEAM_KEY)
        if asked is not None and asked != self._team:
            return None
        if self._shared:
            wanted[TEAM_KEY] = self._team
        return wanted

    # -- files: referenced by the store's ids, never discovered by listing ---------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        return await self._inner.upload_file(path, filename=filename, progress=progress)

    async def delete_file(self, file_id: str) -> None:
        await self._inner.delete_file(file_id)

    async def file_content(self, file_id: str) -> bytes:
        return await self._inner.file_content(file_id)

    # -- jobs ---------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        tagged = replace(spec, metadata={**spec.metadata, TEAM_KEY: self._team})
        return await self._inner.create_job(tagged, idempotency_key=idempotency_key)

    async def get_job(self, job_id: str) -> JobState:
        return await self._inner.get_job(job_id)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        wanted = self._filter(metadata)
        if wanted is None:
            return []
        listed = await self._inner.list_jobs(metadata=wanted or None, limit=limit)
        return [j for j in listed if self._mine(j.metadata)][:limit]

    async def cancel_job(self, job_id: str) -> JobState:
        if not isinstance(self._inner, Cancellable):
            raise self._refuse("cancel a job")
        return await self._inner.cancel_job(job_id)

    async def pause_job(self, job_id: str) -> JobState:
        if not isinstance(self._inner, Pausable):
            raise self._refuse("pause a job")
        return await self._inner.pause_job(job_id)

    async def resume_job(self, job_id: str) -> JobState:
        if not isinstance(self._inner, Resumable):
            raise self._refuse("resume a job")
        return await self._inner.resume_job(job_id)

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        if not isinstance(self._inner, Events):
            return []  # a family without events: the job's status is all there is to watch
        return await self._inner.list_events_after(job_id, cursor, limit=limit)

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        if not isinstance(self._inner, MetricFiles):
            return []  # a family whose metrics come as events, or not at all
        return await self._inner.metric_points(job_id)

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        if not isinstance(self._inner, Checkpoints):
            return []
        return await self._inner.list_checkpoints(job_id)

    async def estimate_price(self, spec: JobSpec) -> ProviderEstimate:
        if not isinstance(self._inner, PriceEstimates):
            raise self._refuse("price a job itself")
        return await self._inner.estimate_price(spec)

    async def model_limits(
        self, model: str, *, method: Method, training_type: str | None
    ) -> ModelLimits:
        if not isinstance(self._inner, ModelLimitsSource):
            raise self._refuse("say a model's limits")
        return await self._inner.model_limits(model, method=method, training_type=training_type)

    # -- models -------------------------------------------------------------------------------

    async def _foreign_models(self) -> frozenset[str]:
        """Models made by the account's jobs that are not this team's (read once per view)."""
        if self._foreign is None:
            jobs = await self._inner.list_jobs(limit=FOREIGN_SCAN_JOBS)
            self._foreign = frozenset(
                j.fine_tuned_model
                for j in jobs
                if j.fine_tuned_model and not self._mine(j.metadata)
            )
        return self._foreign

    async def list_models(self) -> Sequence[ProviderModel]:
        listed = await self._inner.list_models()
        if not self._shared:
            return listed
        foreign = await self._foreign_models()
        return [m for m in listed if m.id not in foreign]

    # -- chat ---------------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        if self._shared and model in await self._foreign_models():
            # Another team's fine-tuned model on the shared account reads as unknown.
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        if not isinstance(self._inner, Inference):
            raise self._refuse("answer prompts")
        if store:
            # A kept completion is read back by `dataset from-logs`: it must name its team.
            metadata = {**(metadata or {}), TEAM_KEY: self._team}
        return await self._inner.chat(
            model, messages, max_tokens=max_tokens, store=store, metadata=metadata
        )

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        wanted = self._filter(metadata)
        if wanted is None or not isinstance(self._inner, CompletionLog):
            return []
        found = await self._inner.list_stored_completions(
            model=model, metadata=wanted or None, since=since, limit=limit
        )
        return [c for c in found if self._mine(dict(c.metadata))][:limit]


__all__ = ["FOREIGN_SCAN_JOBS", "TEAM_KEY", "TeamScopedProvider", "tagged_for"]


class SharedProviderDirectory:
    """Every team uses the deployment's provider (tests, the sandbox, single-team installs),
    each through its own tag-scoped view of the shared account."""

    def __init__(self, provider: FineTuning) -> None:
        self._provider = provider

    @property
    def provider(self) -> FineTuning:
        return self._provider

    async def for_team(self, team_id: str, family: str | None = None) -> Provider:
        return TeamScopedProvider(self._provider, team_id=team_id, shared=True)

    async def available(self, team_id: str) -> Sequence[str]:
        return (self._provider.profile.name,)
