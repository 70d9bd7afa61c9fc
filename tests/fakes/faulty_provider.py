"""Test fake: a Provider wrapper that counts calls, fails chosen ones and rewrites statuses.

It stands in front of a provider that has no network to break (the sandbox): a test asks for
the next calls of one port operation (or of any) to fail, before or after they took effect,
counts the calls each operation got, and makes a job's reads answer a status string the
provider never sends. Nothing here is in `bot/`: the sandbox itself has no test hooks.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    MetricPoint,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import MetricFiles, Provider
from handlers.profile import ProviderProfile


@dataclass(slots=True)
class _Fault:
    error: ProviderError
    remaining: int
    operation: str | None
    after: bool
    skip: int = 0


class FaultyProvider:
    """The Provider port around `inner`, with counted calls and scripted failures (see the
    module docstring)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.reported_status: dict[str, str] = {}
        """Job id -> the status every JobState of that job is rewritten to carry."""
        self.calls: Counter[str] = Counter()
        """How many times each port operation was called (faulted calls included)."""
        self._faults: list[_Fault] = []

    def inject_fault(
        self,
        error: ProviderError,
        *,
        times: int = 1,
        operation: str | None = None,
        after: bool = False,
        skip: int = 0,
    ) -> None:
        """Raise `error` on the next `times` calls of `operation` (any operation if None),
        once `skip` calls have gone through (a failure midway through a comparison).

        `after=True` raises once the call has taken effect: a lost answer, e.g. a job that was
        created although the caller saw a timeout; otherwise `inner` never hears of the call.
        """
        if operation is not None and not callable(getattr(self.inner, operation, None)):
            raise ValueError(f"unknown operation {operation!r}: not one of the Provider port")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Fault(error, times, operation, after, skip))

    def fail_next(
        self,
        kind: ProviderErrorKind,
        *,
        operation: str,
        took_effect: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The next call of `operation` raises `kind` (the contract suite's switch)."""
        error = ProviderError(kind, retry_after=retry_after)
        self.inject_fault(error, operation=operation, after=took_effect)

    def clear_faults(self) -> None:
        self._faults.clear()

    def pending(self) -> int:
        """Planned failures not raised yet."""
        return sum(fault.remaining for fault in self._faults)

    @contextlib.contextmanager
    def _operation(self, name: str) -> Iterator[None]:
        self.calls[name] += 1
        self._raise_fault(name, after=False)
        yield
        self._raise_fault(name, after=True)

    def _raise_fault(self, name: str, *, after: bool) -> None:
        for fault in self._faults:
            if fault.after is after and fault.operation in (None, name):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise fault.error

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
        with self._operation("upload_file"):
            uploaded = await self.inner.upload_file(path, filename=filename, progress=progress)
        return uploaded

    async def delete_file(self, file_id: str) -> None:
        with self._operation("delete_file"):
            await self.inner.delete_file(file_id)

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        with self._operation("create_job"):
            state = await self.inner.create_job(spec, idempotency_key=idempotency_key)
        return self._shown(state)

    async def get_job(self, job_id: str) -> JobState:
        with self._operation("get_job"):
            state = await self.inner.get_job(job_id)
        return self._shown(state)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        with self._operation("list_jobs"):
            jobs = await self.inner.list_jobs(metadata=metadata, limit=limit)
        return [self._shown(job) for job in jobs]

    async def cancel_job(self, job_id: str) -> JobState:
        with self._operation("cancel_job"):
            state = await self.inner.cancel_job(job_id)
        return self._shown(state)

    async def pause_job(self, job_id: str) -> JobState:
        with self._operation("pause_job"):
            state = await self.inner.pause_job(job_id)
        return self._shown(state)

    async def resume_job(self, job_id: str) -> JobState:
        with self._operation("resume_job"):
            state = await self.inner.resume_job(job_id)
        return self._shown(state)

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        with self._operation("list_events_after"):
            events = await self.inner.list_events_after(job_id, cursor, limit=limit)
        return events

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        """The inner family's metrics file (none for a family that has no such port)."""
        with self._operation("metric_points"):
            inner = self.inner
            found = await inner.metric_points(job_id) if isinstance(inner, MetricFiles) else ()
        return found

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        with self._operation("list_checkpoints"):
            checkpoints = await self.inner.list_checkpoints(job_id)
        return checkpoints

    async def list_models(self) -> Sequence[ProviderModel]:
        with self._operation("list_models"):
            models = await self.inner.list_models()
        return models

    async def file_content(self, file_id: str) -> bytes:
        with self._operation("file_content"):
            content = await self.inner.file_content(file_id)
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
        with self._operation("chat"):
            result = await self.inner.chat(
                model, messages, max_tokens=max_tokens, store=store, metadata=metadata
            )
        return result

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        with self._operation("list_stored_completions"):
            stored = await self.inner.list_stored_completions(
                model=model, metadata=metadata, since=since, limit=limit
            )
        return stored
