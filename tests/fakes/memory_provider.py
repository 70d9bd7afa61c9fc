"""Test fake: MemoryProvider, a deterministic in-memory provider that needs nothing of `bot/`.

Every capability of the split port (handlers/ports.py), driven by explicit ticks: each `tick()`
moves every live job one phase (validating, queued) or one training step on, so a test decides
exactly when anything happens. Uploads are checked by the bot's own validator. Faults and call
counts are `tests/fakes/faulty_provider.py`'s job; the contract suite proves it behaves like
the real providers (tests/contracts/providers.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.datasets import EstimateTokenizer, Kind, Severity, validate_file
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
from handlers.ports import Clock
from handlers.profile import Capability, JobStatus, ProviderProfile

BASE_MODEL: Final = "base-small"
STEPS: Final = 4
"""Training steps of every job; checkpoints after the middle and the last."""

PROFILE: Final = ProviderProfile(
    name="memory",
    label="In-memory fake",
    methods=frozenset({"supervised"}),
    capabilities=frozenset(
        {
            Capability.CANCEL,
            Capability.PAUSE,
            Capability.RESUME,
            Capability.EVENTS,
            Capability.LIVE_METRICS,
            Capability.CHECKPOINTS,
            Capability.INFERENCE,
            Capability.STORED_COMPLETIONS,
            Capability.JOB_TAGS,
        }
    ),
    # Its own strings are the core's names: the mapping is the identity.
    statuses={status.value: status for status in JobStatus},
    job_id=re.compile(r"memjob-\d+"),
    tuned_model=re.compile(r"tuned:.+"),
    base_model=re.compile(r"base-.+"),
    default_model=BASE_MODEL,
)

_LIVE: Final = frozenset({"validating", "queued", "running"})
_TERMINAL: Final = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(slots=True)
class _File:
    id: str
    filename: str
    content: bytes
    created_at: datetime
    problem: str | None


@dataclass(slots=True)
class _Job:
    id: str
    spec: JobSpec
    created_at: datetime
    problem: str | None
    status: str = "validating"
    step: int = 0
    finished_at: datetime | None = None
    events: list[JobEvent] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def tuned_model(self) -> str:
        return f"tuned:{self.spec.model}:{self.id}"


class MemoryProvider:
    """The split port over dictionaries; see the module docstring."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.files: dict[str, _File] = {}
        self.jobs: dict[str, _Job] = {}
        self._keys: dict[str, str] = {}
        self._stored: list[StoredCompletion] = []
        self._counter = 0

    @property
    def label(self) -> str:
        return PROFILE.label

    @property
    def is_simulation(self) -> bool:
        return True

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    # -- the world's clock --------------------------------------------------------------------

    def tick(self) -> None:
        """Every live job one phase or one step on; paused and finished jobs stay."""
        for job in self.jobs.values():
            if job.status in _LIVE:
                self._move(job)

    def finish(self, job_id: str, as_: str) -> None:
        """End a live job now as "succeeded" or "failed"."""
        job = self._job(job_id)
        if as_ == "succeeded":
            self._succeed(job)
        else:
            self._end(job, "failed", job.problem or "failed by the test", level="error")

    # -- files --------------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        content = await asyncio.to_thread(path.read_bytes)
        problem = await asyncio.to_thread(_problem, path)
        file = _File(self._new_id("file"), filename, content, self._clock.now(), problem)
        self.files[file.id] = file
        if progress is not None:
            progress(len(content), len(content))
        return _provider_file(file)

    async def delete_file(self, file_id: str) -> None:
        self._file(file_id)
        del self.files[file_id]

    async def file_content(self, file_id: str) -> bytes:
        return self._file(file_id).content

    # -- jobs ---------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        known = self._keys.get(idempotency_key)
        if known is not None:
            return self._state(self.jobs[known])
        if spec.model != BASE_MODEL and not self._is_tuned(spec.model):
            raise ProviderError(ProviderErrorKind.BAD_REQUEST, f"no model {spec.model}")
        training = self._file(spec.training_file)
        job = _Job(self._new_id("memjob"), spec, self._clock.now(), training.problem)
        self.jobs[job.id] = job
        self._keys[idempotency_key] = job.id
        self._event(job, f"Created job {job.id}")
        return self._state(job)

    async def get_job(self, job_id: str) -> JobState:
        return self._state(self._job(job_id))

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        wanted = (metadata or {}).items()
        newest = reversed(self.jobs.values())
        return [self._state(j) for j in newest if wanted <= j.spec.metadata.items()][:limit]

    async def list_models(self) -> Sequence[ProviderModel]:
        made = [j for j in self.jobs.values() if j.status == "succeeded"]
        return [
            ProviderModel(id=BASE_MODEL, created_at=datetime(2025, 1, 1, tzinfo=UTC)),
            *(ProviderModel(id=j.tuned_model, created_at=j.created_at) for j in made),
        ]

    async def cancel_job(self, job_id: str) -> JobState:
        job = self._job(job_id)
        if job.status in _TERMINAL:
            raise ProviderError(ProviderErrorKind.BAD_REQUEST, f"job already {job.status}")
        self._end(job, "cancelled", "Job cancelled")
        return self._state(job)

    async def pause_job(self, job_id: str) -> JobState:
        return self._switch(self._job(job_id), "running", "paused")

    async def resume_job(self, job_id: str) -> JobState:
        return self._switch(self._job(job_id), "paused", "running")

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        events = self._job(job_id).events
        ids = [e.id for e in events]
        start = ids.index(cursor) + 1 if cursor in ids else 0
        return events[start : start + max(limit, 0)]

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        return list(reversed(self._job(job_id).checkpoints))

    # -- inference ----------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        if model != BASE_MODEL and not self._is_tuned(model):
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"The model {model} does not exist")
        question = messages[-1].content if messages else ""
        answer = f"{model} answers: {question}"
        result = ChatResult(
            id=self._new_id("chat"),
            model=model,
            content=answer,
            prompt_tokens=max(1, sum(len(m.content.split()) for m in messages)),
            completion_tokens=len(answer.split()),
            latency_s=0.0,
        )
        if store:
            kept = StoredCompletion(
                id=result.id,
                model=model,
                created_at=self._clock.now(),
                metadata=tuple(sorted((metadata or {}).items())),
                messages=tuple(messages),
                answer=answer,
            )
            self._stored.append(kept)
        return result

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        wanted = set((metadata or {}).items())
        found = [
            c
            for c in reversed(self._stored)
            if (model is None or c.model == model)
            and wanted <= set(c.metadata)
            and (since is None or c.created_at >= since)
        ]
        return found[:limit]

    # -- the simulation -----------------------------------------------------------------------

    def _move(self, job: _Job) -> None:
        if job.status == "validating" and job.problem is not None:
            self._end(job, "failed", job.problem, level="error")
        elif job.status == "validating":
            job.status = "queued"
            self._event(job, "Files validated, job queued")
        elif job.status == "queued":
            job.status = "running"
            self._event(job, "Job started")
        else:
            self._train(job)

    def _train(self, job: _Job) -> None:
        job.step += 1
        loss = round(2.0 / job.step, 4)
        point = MetricPoint(step=job.step, total_steps=STEPS, train_loss=loss)
        data = {"step": job.step, "total_steps": STEPS, "train_loss": loss}
        self._event(job, f"Step {job.step}/{STEPS}", type="metrics", data=data, metrics=point)
        if job.step in (STEPS // 2, STEPS):
            checkpoint = Checkpoint(
                id=f"{job.id}-ckpt{job.step}",
                job_id=job.id,
                created_at=self._clock.now(),
                step=job.step,
                model_name=f"{job.tuned_model}:step-{job.step}",
            )
            job.checkpoints.append(checkpoint)
        if job.step >= STEPS:
            self._succeed(job)

    def _succeed(self, job: _Job) -> None:
        self._event(job, f"New model: {job.tuned_model}")
        self._end(job, "succeeded", "Job succeeded")

    def _end(self, job: _Job, status: str, message: str, *, level: str = "info") -> None:
        job.status = status
        job.finished_at = self._clock.now()
        self._event(job, message, level=level)

    def _switch(self, job: _Job, needed: str, to: str) -> JobState:
        if job.status != needed:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST, f"job is {job.status}; only a {needed} job can"
            )
        job.status = to
        self._event(job, f"Job {to}")
        return self._state(job)

    def _event(
        self,
        job: _Job,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: Mapping[str, int | float] | None = None,
        metrics: MetricPoint | None = None,
    ) -> None:
        event = JobEvent(
            id=f"{job.id}-ev{len(job.events) + 1:04d}",
            job_id=job.id,
            created_at=self._clock.now(),
            level=level,
            message=message,
            type=type,
            data=dict(data or {}),
            metrics=metrics,
        )
        job.events.append(event)

    def _state(self, job: _Job) -> JobState:
        succeeded = job.status == "succeeded"
        return JobState(
            id=job.id,
            model=job.spec.model,
            status=PROFILE.status(job.status),
            provider_status=job.status,
            created_at=job.created_at,
            training_file=job.spec.training_file,
            validation_file=job.spec.validation_file,
            suffix=job.spec.suffix,
            seed=job.spec.seed,
            fine_tuned_model=job.tuned_model if succeeded else None,
            error=job.problem if job.status == "failed" else None,
            finished_at=job.finished_at,
            metadata=dict(job.spec.metadata),
        )

    def _is_tuned(self, model: str) -> bool:
        return any(j.tuned_model == model for j in self.jobs.values() if j.status == "succeeded")

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}"

    def _file(self, file_id: str) -> _File:
        found = self.files.get(file_id)
        if found is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no file {file_id}")
        return found

    def _job(self, job_id: str) -> _Job:
        found = self.jobs.get(job_id)
        if found is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no job {job_id}")
        return found


def _problem(path: Path) -> str | None:
    """The first error the bot's validator finds, but not the count (a few examples train)."""
    report = validate_file(path, EstimateTokenizer(), model="", token_limit=65_536)
    errors = (p for p in report.shown if p.kind.severity is Severity.ERROR)
    return next((str(p) for p in errors if p.kind is not Kind.TOO_FEW), None)


def _provider_file(file: _File) -> ProviderFile:
    return ProviderFile(
        id=file.id,
        filename=file.filename,
        bytes=len(file.content),
        created_at=file.created_at,
        status="processed",
    )
