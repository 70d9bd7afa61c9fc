"""Test fake: a Provider wrapper that fails chosen calls and rewrites statuses, for any provider.

It stands in front of a provider that has no network to break (the sandbox): a test asks for
the next call of one port operation to fail, before or after it took effect, and for a job's
reads to answer a status string the provider never sends. Nothing here is in `bot/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import Provider
from handlers.profile import ProviderProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class _Planned:
    kind: ProviderErrorKind
    took_effect: bool
    retry_after: float | None


class FaultyProvider:
    """The Provider port around `inner`, with scripted failures (see the module docstring)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.reported_status: dict[str, str] = {}
        """Job id -> the status every JobState of that job is rewritten to carry."""
        self._planned: dict[str, list[_Planned]] = {}

    def fail_next(
        self,
        kind: ProviderErrorKind,
        *,
        operation: str,
        took_effect: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The next call of `operation` raises `kind`; with `took_effect` it does its work
        first (the answer was lost), otherwise the inner provider never hears of it."""
        if not callable(getattr(self.inner, operation, None)):
            raise ValueError(f"{operation!r} is not an operation of the Provider port")
        planned = _Planned(kind=kind, took_effect=took_effect, retry_after=retry_after)
        self._planned.setdefault(operation, []).append(planned)

    def pending(self) -> int:
        return sum(len(queue) for queue in self._planned.values())

    def _before(self, operation: str) -> _Planned | None:
        queue = self._planned.get(operation)
        if not queue:
            return None
        planned = queue.pop(0)
        if not planned.took_effect:
            raise ProviderError(planned.kind, retry_after=planned.retry_after)
        return planned

    @staticmethod
    def _after(planned: _Planned | None) -> None:
        if planned is not None:
            raise ProviderError(planned.kind, retry_after=planned.retry_after)

    def _shown(self, state: JobState) -> JobState:
        raw = self.reported_status.get(state.id)
        if raw is None:
            return state
        # What the provider's own mapping would make of a string it sent.
        return replace(state, status=self.inner.profile.status(raw), provider_status=raw)

    # -- the port ---------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.inner.label

    @property
    def is_simulation(self) -> bool:
        return self.inner.is_simulation

    @property
    def profile(self) -> ProviderProfile:
        return self.inner.profile

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        planned = self._before("upload_file")
        uploaded = await self.inner.upload_file(path, filename=filename, progress=progress)
        self._after(planned)
        return uploaded

    async def delete_file(self, file_id: str) -> None:
        planned = self._before("delete_file")
        await self.inner.delete_file(file_id)
        self._after(planned)

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        planned = self._before("create_job")
        state = await self.inner.create_job(spec, idempotency_key=idempotency_key)
        self._after(planned)
        return self._shown(state)

    async def get_job(self, job_id: str) -> JobState:
        planned = self._before("get_job")
        state = await self.inner.get_job(job_id)
        self._after(planned)
        return self._shown(state)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        planned = self._before("list_jobs")
        jobs = await self.inner.list_jobs(metadata=metadata, limit=limit)
        self._after(planned)
        return [self._shown(job) for job in jobs]

    async def cancel_job(self, job_id: str) -> JobState:
        planned = self._before("cancel_job")
        state = await self.inner.cancel_job(job_id)
        self._after(planned)
        return self._shown(state)

    async def pause_job(self, job_id: str) -> JobState:
        planned = self._before("pause_job")
        state = await self.inner.pause_job(job_id)
        self._after(planned)
        return self._shown(state)

    async def resume_job(self, job_id: str) -> JobState:
        planned = self._before("resume_job")
        state = await self.inner.resume_job(job_id)
        self._after(planned)
        return self._shown(state)

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        planned = self._before("list_events_after")
        events = await self.inner.list_events_after(job_id, cursor, limit=limit)
        self._after(planned)
        return events

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        planned = self._before("list_checkpoints")
        checkpoints = await self.inner.list_checkpoints(job_id)
        self._after(planned)
        return checkpoints

    async def list_models(self) -> Sequence[ProviderModel]:
        planned = self._before("list_models")
        models = await self.inner.list_models()
        self._after(planned)
        return models

    async def file_content(self, file_id: str) -> bytes:
        planned = self._before("file_content")
        content = await self.inner.file_content(file_id)
        self._after(planned)
        return content

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        planned = self._before("chat")
        result = await self.inner.chat(
            model, messages, max_tokens=max_tokens, store=store, metadata=metadata
        )
        self._after(planned)
        return result

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        planned = self._before("list_stored_completions")
        stored = await self.inner.list_stored_completions(
            model=model, metadata=metadata, since=since, limit=limit
        )
        self._after(planned)
        return stored
