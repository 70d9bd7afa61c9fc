"""Provider adapter: SandboxProvider, a labelled deterministic simulation of fine-tuning jobs."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import tempfile
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NamedTuple

from bot.providers.openai.profile import metric_point
from bot.providers.sandbox.chat import MAX_KEPT_BYTES, Learnt, SandboxChat
from bot.providers.sandbox.profile import PROFILE
from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    TERMINAL_STATUSES,
    Checkpoint,
    Hyperparameters,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    MetricValue,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import Clock
from handlers.profile import ProviderProfile

log = logging.getLogger(__name__)

LABEL: Final = PROFILE.label
EVENT_PREFIX: Final = "[sandbox] "
"""Starts every event message, so no reader takes a simulated job for real training."""

ORG: Final = "sandbox"
"""The organisation part of every model name the sandbox makes (`ft:<base>:sandbox:...`)."""

BASE_MODELS: Final[Mapping[str, datetime]] = {
    "gpt-4.1-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4.1-mini-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4.1-nano-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4o-2024-08-06": datetime(2024, 8, 6, tzinfo=UTC),
    "gpt-4o-mini-2024-07-18": datetime(2024, 7, 18, tzinfo=UTC),
    "gpt-3.5-turbo-0125": datetime(2024, 1, 25, tzinfo=UTC),
}
"""Fine-tunable base snapshots; the release date stands in for `created` (stable, not `now`)."""

MODEL_ALIASES: Final[Mapping[str, str]] = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
"""Like the real API, a job on an alias reports the snapshot it resolved to."""

OPERATIONS: Final = frozenset(
    {
        "upload_file",
        "list_files",
        "get_file",
        "delete_file",
        "create_job",
        "get_job",
        "list_jobs",
        "cancel_job",
        "pause_job",
        "resume_job",
        "list_events_after",
        "list_checkpoints",
        "list_models",
        "file_content",
        "chat",
        "list_stored_completions",
    }
)
"""The names `calls` counts and `inject_fault(operation=...)` accepts: the port's methods."""

_STATE_FORMAT: Final = "finetune-bot-sandbox"
_STATE_VERSION: Final = 1
_DEFAULT_EPOCHS: Final = 3
_KEPT_CHECKPOINTS: Final = 3  # the real API keeps only the last three epochs' checkpoints
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_MASK64: Final = (1 << 64) - 1
_LIVE_RUNNING: Final = frozenset({"validating_files", "queued", "running"})


@dataclass(frozen=True, slots=True)
class SandboxTiming:
    """How long each simulated phase lasts, in seconds, and how big a job may get.

    Positional construction (`SandboxTiming(1, 1, 0.25)`) is allowed on purpose: it reads as
    the three phase lengths the demo and tests tune.
    """

    validating_s: float = 20.0
    queued_s: float = 30.0
    step_s: float = 5.0
    max_steps: int = 60
    eval_every: int = 10

    def __post_init__(self) -> None:
        if self.validating_s < 0 or self.queued_s < 0:
            raise ValueError("phase durations must not be negative")
        if self.step_s <= 0:
            raise ValueError("step_s must be positive: a step that takes no time never ends")
        if self.max_steps < 1 or self.eval_every < 1:
            raise ValueError("max_steps and eval_every must be at least 1")


DEFAULT_TIMING: Final = SandboxTiming()
"""Realistic but quick: 20 s validating, 30 s queued, 5 s a step (a 60-step job in ~6 min)."""

FAST_TIMING: Final = SandboxTiming(
    validating_s=1.0, queued_s=1.0, step_s=0.25, max_steps=40, eval_every=5
)
"""For the demo: a whole job in about 12 s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxFileInfo:
    """What the sandbox learnt from an uploaded file (not part of the Provider port)."""

    id: str
    filename: str
    bytes: int
    lines: int
    format: str | None
    problem: str | None
    tokens: int
    sha256: str

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True, kw_only=True)
class _FileRecord:
    id: str
    seq: int
    filename: str
    bytes: int
    created_us: int
    lines: int
    format: str | None  # "chat" or "preference"; None when no line could be read as either
    problem: str | None  # the first problem found; None means the file is usable
    tokens: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _JobRecord:
    """Everything a job's history is computed from; only `actions` ever changes."""

    id: str
    short: str
    seq: int
    created_us: int
    idempotency_key: str
    model: str
    base_root: str
    training_file: str
    validation_file: str | None
    method: str
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None
    suffix: str | None
    seed: int
    metadata: tuple[tuple[str, str], ...]
    # Frozen at creation so deleting or re-uploading a file cannot rewrite a job's history.
    problem: str | None
    trained_tokens: int
    total_steps: int
    # The timing too: processes configured differently must still agree on one job's history.
    validating_us: int
    queued_us: int
    step_us: int
    eval_every: int
    actions: tuple[tuple[str, int], ...] = ()


class _Entry(NamedTuple):
    """One event of a plan, kept compact: messages and metrics are built only when returned."""

    at: int
    kind: str  # "message" | "metrics" | "checkpoint"
    text: str = ""
    step: int = 0
    level: str = "info"
    status: str = ""  # the status the job enters with this event, if any


@dataclass(slots=True, kw_only=True)
class _Plan:
    """A job's whole event list, stored compactly: a sweep keeps 10,000 of these cached.

    `refs[i] > 0` says event i is the metrics event of that step; otherwise it is the
    message `others[-refs[i]]`. Only the events a call returns become JobEvent objects.
    """

    times: array[int]
    refs: array[int]
    others: list[_Entry]
    transitions: list[tuple[int, str]]
    transition_times: list[int]
    checkpoints: list[tuple[int, int]]
    success_us: int | None


@dataclass(slots=True)
class _Fault:
    error: ProviderError
    remaining: int
    operation: str | None
    after: bool
    skip: int = 0


class _State:
    """Files, jobs and idempotency keys: the whole persisted world of one sandbox."""

    def __init__(self) -> None:
        self.counter = 0
        self.files: dict[str, _FileRecord] = {}
        self.jobs: dict[str, _JobRecord] = {}
        self.keys: dict[str, str] = {}
        self.deleted_models: set[str] = set()
        self.models: dict[str, str] = {}  # derived: fine-tuned model name -> job id
        # Re-encoding 10,000 unchanged records on every mutation would dominate each write.
        self._encoded: dict[str, tuple[_FileRecord | _JobRecord, str]] = {}

    def add_job(self, record: _JobRecord) -> None:
        self.jobs[record.id] = record
        self.keys[record.idempotency_key] = record.id
        self.models[_model_name(record)] = record.id

    def encode(self) -> bytes:
        """The state file's bytes; each immutable record is encoded once and reused."""
        live = len(self.files) + len(self.jobs)
        if len(self._encoded) > live:
            self._encoded = {
                key: value
                for key, value in self._encoded.items()
                if key in self.files or key in self.jobs
            }
        head = json.dumps(
            {
                "format": _STATE_FORMAT,
                "version": _STATE_VERSION,
                "counter": self.counter,
                "deleted_models": sorted(self.deleted_models),
            },
            separators=(",", ":"),
        )
        files = ",".join(self._fragment(record) for record in self.files.values())
        jobs = ",".join(self._fragment(record) for record in self.jobs.values())
        return f'{head[:-1]},"files":[{files}],"jobs":[{jobs}]}}'.encode()

    def _fragment(self, record: _FileRecord | _JobRecord) -> str:
        cached = self._encoded.get(record.id)
        if cached is not None and cached[0] is record:
            return cached[1]
        text = json.dumps(_record_dict(record), separators=(",", ":"))
        self._encoded[record.id] = (record, text)
        return text

    @classmethod
    def from_json(cls, document: Any) -> _State:
        if not isinstance(document, dict) or document.get("format") != _STATE_FORMAT:
            raise ValueError("not a sandbox state file")
        if document.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported sandbox state version {document.get('version')!r}")
        state = cls()
        state.counter = int(document["counter"])
        for item in document["files"]:
            file = _FileRecord(**item)
            state.files[file.id] = file
        for item in document["jobs"]:
            item["metadata"] = tuple((str(k), str(v)) for k, v in item["metadata"])
            item["actions"] = tuple((str(kind), int(at)) for kind, at in item["actions"])
            state.add_job(_JobRecord(**item))
        state.deleted_models = {str(name) for name in document["deleted_models"]}
        return state


class SandboxProvider:
    """The Provider port as a simulation: no key, no network, no sleeps, no background tasks.

    A job's status, events and checkpoints are a pure function of its record (creation time,
    spec, seed, timing and its pause/resume/cancel timeline) and `clock.now()` at the call, so
    processes sharing one `state_path` (or a restarted one) see identical histories and ids.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        state_path: Path | None = None,
        timing: SandboxTiming = DEFAULT_TIMING,
    ) -> None:
        self._clock = clock
        self._timing = timing
        self._state_path = state_path
        self._lock_path = (
            state_path.with_name(state_path.name + ".lock") if state_path is not None else None
        )
        self._state = _State()
        self._signature: tuple[int, int, int, int] | None = None
        self._plans: dict[str, tuple[_JobRecord, _Plan]] = {}
        self._faults: list[_Fault] = []
        self.calls: Counter[str] = Counter()
        """How many times each port operation was called (faulted calls included)."""
        self.chunked_threshold = 512 << 20
        """Files over this go \"in parts\" like the Uploads API (tests lower it)."""
        self.part_bytes = 64 << 20
        self.upload_parts: dict[str, int] = {}
        """File id -> simulated parts, for files that took the chunked path."""
        self._chat = SandboxChat()

    # -- identity -----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return LABEL

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    @property
    def is_simulation(self) -> bool:
        return True

    @property
    def timing(self) -> SandboxTiming:
        return self._timing

    # -- fault injection ----------------------------------------------------------------------

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
        created although the caller saw a timeout.
        """
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {sorted(OPERATIONS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Fault(error, times, operation, after, skip))

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- files --------------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        with self._operation("upload_file"):
            # Reading a big file must not stall the event loop the chat adapters share.
            scan = await asyncio.to_thread(_scan_file, path)
            with self._mutating() as state:
                now = self._now_us()
                state.counter += 1
                digest = _hex(f"file|{scan.sha256}|{now}|{state.counter}")
                record = _FileRecord(
                    id=f"file-sbx{digest[:24]}",
                    seq=state.counter,
                    filename=filename,
                    bytes=scan.bytes,
                    created_us=now,
                    lines=scan.lines,
                    format=scan.format,
                    problem=scan.problem,
                    tokens=scan.tokens,
                    sha256=scan.sha256,
                )
                state.files[record.id] = record
            if scan.bytes <= MAX_KEPT_BYTES:
                self._chat.keep(record.id, await asyncio.to_thread(_read_bytes, path))
            if scan.bytes > self.chunked_threshold:
                parts = -(-scan.bytes // self.part_bytes)
                self.upload_parts[record.id] = parts
                for part in range(1, parts + 1):
                    if progress is not None:
                        progress(min(scan.bytes, part * self.part_bytes), scan.bytes)
            elif progress is not None:
                progress(scan.bytes, scan.bytes)
            log.debug("sandbox file uploaded", extra={"file_id": record.id})
            return _provider_file(record)

    async def list_files(self) -> Sequence[ProviderFile]:
        with self._operation("list_files"):
            files = self._read().files.values()
            return [_provider_file(record) for record in reversed(files)]

    async def get_file(self, file_id: str) -> ProviderFile:
        with self._operation("get_file"):
            return _provider_file(self._file(self._read(), file_id))

    async def delete_file(self, file_id: str) -> None:
        with self._operation("delete_file"), self._mutating() as state:
            self._file(state, file_id)
            del state.files[file_id]
            self._chat.forget(file_id)

    def inspect_file(self, file_id: str) -> SandboxFileInfo:
        """What validation found in an uploaded file (for tests and the demo; not a port call)."""
        record = self._file(self._read(), file_id)
        return SandboxFileInfo(
            id=record.id,
            filename=record.filename,
            bytes=record.bytes,
            lines=record.lines,
            format=record.format,
            problem=record.problem,
            tokens=record.tokens,
            sha256=record.sha256,
        )

    # -- jobs ---------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        """Create a job exactly once: a retry with the same key returns the first job."""
        with self._operation("create_job"):
            now = self._now_us()
            # A retry is answered from a read: no lock, no rewrite of the state file.
            known = self._read()
            existing = known.keys.get(idempotency_key)
            if existing is not None and existing in known.jobs:
                return self._job_state(known.jobs[existing], now)
            return self._create(spec, idempotency_key)

    def _create(self, spec: JobSpec, idempotency_key: str) -> JobState:
        with self._mutating() as state:
            now = self._now_us()
            existing = state.keys.get(idempotency_key)
            if existing is not None and existing in state.jobs:
                return self._job_state(state.jobs[existing], now)
            record = self._new_job(state, spec, idempotency_key, now)
            state.counter = record.seq
            state.add_job(record)
            log.info("sandbox job created", extra={"job_id": record.id})
            return self._job_state(record, now)

    async def get_job(self, job_id: str) -> JobState:
        with self._operation("get_job"):
            return self._job_state(self._job(self._read(), job_id), self._now_us())

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        with self._operation("list_jobs"):
            wanted = set((metadata or {}).items())
            now = self._now_us()
            found: list[JobState] = []
            # Records are kept in creation order, so walking backwards is newest first.
            for record in reversed(self._read().jobs.values()):
                if len(found) >= limit:
                    break
                if wanted <= set(record.metadata):
                    found.append(self._job_state(record, now))
            return found

    async def cancel_job(self, job_id: str) -> JobState:
        with self._operation("cancel_job"):
            return self._act(job_id, "cancel")

    async def pause_job(self, job_id: str) -> JobState:
        with self._operation("pause_job"):
            return self._act(job_id, "pause")

    async def resume_job(self, job_id: str) -> JobState:
        with self._operation("resume_job"):
            return self._act(job_id, "resume")

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        """Events newer than the one whose id is `cursor` (all if None or unknown), oldest first.

        At most `limit` are returned, the oldest ones, so paging with the last id loses nothing.
        """
        with self._operation("list_events_after"):
            record = self._job(self._read(), job_id)
            plan = self._plan(record)
            visible = bisect_right(plan.times, self._now_us())
            start = _cursor_seq(cursor, record.short, visible)
            end = min(visible, start + max(limit, 0))
            return [_event(record, plan, seq) for seq in range(start, end)]

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        """The job's checkpoints so far, newest first (like the API), the last three epochs."""
        with self._operation("list_checkpoints"):
            record = self._job(self._read(), job_id)
            now = self._now_us()
            made = [(at, step) for at, step in self._plan(record).checkpoints if at <= now]
            return [
                _checkpoint(record, at, step) for at, step in reversed(made[-_KEPT_CHECKPOINTS:])
            ]

    # -- models -------------------------------------------------------------------------------

    async def list_models(self) -> Sequence[ProviderModel]:
        with self._operation("list_models"):
            state = self._read()
            now = self._now_us()
            models = [
                ProviderModel(id=name, created_at=created, owned_by="system")
                for name, created in BASE_MODELS.items()
            ]
            for record in state.jobs.values():
                name = _model_name(record)
                if name in state.deleted_models:
                    continue
                finished = self._succeeded_at(record, now)
                if finished is not None:
                    models.append(
                        ProviderModel(id=name, created_at=_datetime(finished), owned_by=ORG)
                    )
            return models

    # -- chat completions ---------------------------------------------------------------------

    async def file_content(self, file_id: str) -> bytes:
        with self._operation("file_content"):
            self._file(self._read(), file_id)
            content = self._chat.content(file_id)
            if content is None:
                raise _bad_request(f"the sandbox did not keep the content of {file_id}")
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
        """A simulated answer: see `sandbox_chat` for how base and fine-tuned models differ."""
        with self._operation("chat"):
            state = self._read()
            now = self._now_us()
            learnt: Learnt | None = None
            if MODEL_ALIASES.get(model, model) not in BASE_MODELS:
                record = self._own_model(state, model, now)
                if record is None:
                    raise ProviderError(
                        ProviderErrorKind.NOT_FOUND, f"The model {model} does not exist"
                    )
                learnt = Learnt(
                    model=model,
                    base=record.base_root,
                    training_file=record.training_file,
                    validation_file=record.validation_file,
                )
            if not messages:
                raise _bad_request("messages must not be empty")
            return self._chat.answer(
                model,
                messages,
                learnt=learnt,
                max_tokens=max_tokens,
                now=_datetime(now),
                store=store,
                metadata=metadata,
            )

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        """Completions made with `store=True` in this process, newest first."""
        with self._operation("list_stored_completions"):
            return self._chat.stored(model=model, metadata=metadata, since=since, limit=limit)

    # -- the simulation -----------------------------------------------------------------------

    def _new_job(self, state: _State, spec: JobSpec, idempotency_key: str, now: int) -> _JobRecord:
        model, base_root = self._resolve_model(state, spec.model, now)
        training = state.files.get(spec.training_file)
        if training is None:
            raise _bad_request(f"training file {spec.training_file} does not exist")
        validation = None
        if spec.validation_file is not None:
            validation = state.files.get(spec.validation_file)
            if validation is None:
                raise _bad_request(f"validation file {spec.validation_file} does not exist")
        _check_spec(spec)
        hp = spec.hyperparameters
        method = Method(spec.method).value
        epochs = hp.n_epochs or _DEFAULT_EPOCHS
        examples = max(training.lines, 1)
        batch = hp.batch_size or max(1, min(8, examples // 100))
        # Real jobs run ceil(examples / batch) steps an epoch; the cap keeps simulations short
        # while checkpoints still fall on epoch boundaries.
        per_epoch = min(math.ceil(examples / batch), max(1, self._timing.max_steps // epochs))
        seq = state.counter + 1
        digest = _hex(f"job|{idempotency_key}|{now}|{seq}")
        seed = spec.seed if spec.seed is not None else int(digest[-8:], 16) % 2**31
        return _JobRecord(
            id=f"ftjob-sbx{digest[:21]}",
            short=digest[:12],
            seq=seq,
            created_us=now,
            idempotency_key=idempotency_key,
            model=model,
            base_root=base_root,
            training_file=training.id,
            validation_file=validation.id if validation is not None else None,
            method=method,
            n_epochs=epochs,
            batch_size=batch,
            learning_rate_multiplier=hp.learning_rate_multiplier or 1.0,
            beta=(hp.beta or 0.1) if method == Method.DPO.value else None,
            suffix=spec.suffix,
            seed=seed,
            metadata=tuple(sorted(spec.metadata.items())),
            problem=_job_problem(method, training, validation),
            trained_tokens=training.tokens * epochs,
            total_steps=per_epoch * epochs,
            validating_us=_seconds_us(self._timing.validating_s),
            queued_us=_seconds_us(self._timing.queued_s),
            step_us=max(1, _seconds_us(self._timing.step_s)),
            eval_every=self._timing.eval_every,
        )

    def _resolve_model(self, state: _State, model: str, now: int) -> tuple[str, str]:
        """The snapshot a job will report and the base model its fine-tuned name carries."""
        snapshot = MODEL_ALIASES.get(model, model)
        if snapshot in BASE_MODELS:
            return snapshot, snapshot
        parent = self._own_model(state, model, now)
        if parent is not None:
            # Like the real API, a model tuned from a tuned model is named after the root base.
            return model, parent.base_root
        raise _bad_request(f"model {model} is not available for fine-tuning")

    def _own_model(self, state: _State, name: str, now: int) -> _JobRecord | None:
        job_id = state.models.get(name)
        if job_id is None or name in state.deleted_models or job_id not in state.jobs:
            return None
        record = state.jobs[job_id]
        return record if self._succeeded_at(record, now) is not None else None

    def _act(self, job_id: str, action: str) -> JobState:
        with self._mutating() as state:
            record = self._job(state, job_id)
            # A clock behind this job's own timeline (another process) must not reorder it.
            now = max(self._now_us(), record.created_us, *(at for _, at in record.actions), 0)
            status = self._status(self._plan(record), now)
            match action:
                case "cancel" if status in TERMINAL_STATUSES:
                    raise _bad_request(f"job already {status}")
                case "pause" if status != "running":
                    raise _bad_request(_not_now("paused", status, "running"))
                case "resume" if status != "paused":
                    raise _bad_request(_not_now("resumed", status, "paused"))
            record = replace(record, actions=(*record.actions, (action, now)))
            state.jobs[job_id] = record
            log.info("sandbox job %s", action, extra={"job_id": job_id})
            return self._job_state(record, now)

    def _plan(self, record: _JobRecord) -> _Plan:
        cached = self._plans.get(record.id)
        # Records are immutable and replaced on change, so identity is the cheap equality.
        if cached is not None and cached[0] is record:
            return cached[1]
        plan = _build_plan(record)
        self._plans[record.id] = (record, plan)
        return plan

    @staticmethod
    def _status(plan: _Plan, now: int) -> str:
        index = bisect_right(plan.transition_times, now) - 1
        return plan.transitions[max(index, 0)][1]

    def _succeeded_at(self, record: _JobRecord, now: int) -> int | None:
        success = self._plan(record).success_us
        return success if success is not None and success <= now else None

    def _job_state(self, record: _JobRecord, now: int) -> JobState:
        plan = self._plan(record)
        index = max(bisect_right(plan.transition_times, now) - 1, 0)
        entered, status = plan.transitions[index]
        succeeded = status == "succeeded"
        estimate = plan.success_us if status in _LIVE_RUNNING else None
        return JobState(
            id=record.id,
            model=record.model,
            status=PROFILE.status(status),
            provider_status=status,
            created_at=_datetime(record.created_us),
            training_file=record.training_file,
            method=record.method,
            validation_file=record.validation_file,
            hyperparameters=Hyperparameters(
                n_epochs=record.n_epochs,
                batch_size=record.batch_size,
                learning_rate_multiplier=record.learning_rate_multiplier,
                beta=record.beta,
            ),
            suffix=record.suffix,
            seed=record.seed,
            fine_tuned_model=_model_name(record) if succeeded else None,
            trained_tokens=record.trained_tokens if succeeded else None,
            error=record.problem if status == "failed" else None,
            finished_at=_datetime(entered) if status in TERMINAL_STATUSES else None,
            estimated_finish=_datetime(estimate) if estimate is not None else None,
            metadata=dict(record.metadata),
        )

    # -- plumbing -----------------------------------------------------------------------------

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

    def _now_us(self) -> int:
        return _micros(self._clock.now())

    def _file(self, state: _State, file_id: str) -> _FileRecord:
        record = state.files.get(file_id)
        if record is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no file {file_id}")
        return record

    def _job(self, state: _State, job_id: str) -> _JobRecord:
        record = state.jobs.get(job_id)
        if record is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no job {job_id}")
        return record

    def _read(self) -> _State:
        """The current state, re-read only when another process replaced the file."""
        if self._state_path is None:
            return self._state
        try:
            # A stat per call is cheap; opening and parsing happen only after a change.
            if _signature(os.stat(self._state_path)) == self._signature:
                return self._state
            with self._state_path.open("rb") as handle:
                signature = _signature(os.fstat(handle.fileno()))
                data = handle.read() if signature != self._signature else b""
        except FileNotFoundError:
            if self._signature is not None:
                self._state, self._signature = _State(), None
            return self._state
        if signature != self._signature:
            self._state = _load(data, self._state_path)
            self._signature = signature
        return self._state

    @contextlib.contextmanager
    def _mutating(self) -> Iterator[_State]:
        """Change the state under the lock file and write it back atomically if no error."""
        if self._state_path is None or self._lock_path is None:
            yield self._state
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a+b") as lock:
            # One writer at a time; readers need no lock as os.replace swaps whole files.
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                self._write(state)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, state: _State) -> None:
        assert self._state_path is not None
        directory = self._state_path.parent
        data = state.encode()
        fd, temp = tempfile.mkstemp(prefix=f".{self._state_path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                # No fsync: atomicity between processes is what matters for a simulation,
                # and an fsync per mutation would dominate the benchmarks.
            os.replace(temp, self._state_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        # Stat after the rename (it changes ctime); the lock keeps other writers out meanwhile,
        # so this is our own file and the next call need not re-read it.
        self._signature = _signature(os.stat(self._state_path))


# -- the timeline -----------------------------------------------------------------------------


def _build_plan(record: _JobRecord) -> _Plan:
    """Every event of the job as its timeline stands, in order; the caller cuts at `now`.

    Each mutation happens at `now` and only adds events at or after it, so what a caller has
    already seen stays a prefix of every later plan: event ids (their position) never shift.
    """
    cancel_at = next((at for kind, at in record.actions if kind == "cancel"), None)
    times: array[int] = array("q")
    refs: array[int] = array("l")
    others: list[_Entry] = []
    transitions: list[tuple[int, str]] = []
    checkpoints: list[tuple[int, int]] = []
    for entry in _natural_entries(record):
        if cancel_at is not None and entry.at > cancel_at:
            break
        _add_entry(entry, times, refs, others)
        if entry.status:
            transitions.append((entry.at, entry.status))
        if entry.kind == "checkpoint":
            checkpoints.append((entry.at, entry.step))
    if cancel_at is not None and transitions[-1][1] not in TERMINAL_STATUSES:
        cancelled = _Entry(cancel_at, "message", "Fine-tuning job cancelled", status="cancelled")
        _add_entry(cancelled, times, refs, others)
        transitions.append((cancel_at, "cancelled"))
    final_at, final_status = transitions[-1]
    return _Plan(
        times=times,
        refs=refs,
        others=others,
        transitions=transitions,
        transition_times=[at for at, _ in transitions],
        checkpoints=checkpoints,
        success_us=final_at if final_status == "succeeded" else None,
    )


def _add_entry(entry: _Entry, times: array[int], refs: array[int], others: list[_Entry]) -> None:
    times.append(entry.at)
    if entry.kind == "metrics":
        refs.append(entry.step)
    else:
        refs.append(-len(others))
        others.append(entry)


def _natural_entries(record: _JobRecord) -> Iterator[_Entry]:
    """The job's events had it never been cancelled; pauses stop the step clock."""
    t0 = record.created_us
    yield _Entry(t0, "message", f"Created fine-tuning job: {record.id}", status="validating_files")
    yield _Entry(t0, "message", f"Validating training file: {record.training_file}")
    if record.validation_file is not None:
        yield _Entry(t0, "message", f"Validating validation file: {record.validation_file}")
    validated = t0 + record.validating_us
    if record.problem is not None:
        yield _Entry(validated, "message", record.problem, level="error", status="failed")
        return
    yield _Entry(
        validated, "message", "Files validated, moving job to queued state", status="queued"
    )
    started = validated + record.queued_us
    yield _Entry(started, "message", "Fine-tuning job started", status="running")

    total = record.total_steps
    checkpoint_steps = {
        round(total * epoch / record.n_epochs) for epoch in range(1, record.n_epochs + 1)
    }
    pauses = _pauses(record.actions)
    next_pause = 0
    segment_start = started  # wall time the current running stretch began
    banked = 0  # running time done before segment_start
    at = started
    for step in range(1, total + 1):
        needed = step * record.step_us
        at = segment_start + needed - banked
        # A pause at exactly a step's end comes after that step (the caller saw it running).
        while next_pause < len(pauses) and pauses[next_pause][0] < at:
            paused_at, resumed_at = pauses[next_pause]
            next_pause += 1
            done = f"{step - 1}/{total}"
            yield _Entry(
                paused_at, "message", f"Fine-tuning job paused at step {done}", status="paused"
            )
            if resumed_at is None:
                return
            banked += paused_at - segment_start
            segment_start = resumed_at
            yield _Entry(
                resumed_at, "message", f"Fine-tuning job resumed at step {done}", status="running"
            )
            at = segment_start + needed - banked
        yield _Entry(at, "metrics", step=step)
        if step in checkpoint_steps:
            yield _Entry(at, "checkpoint", f"Checkpoint created at step {step}", step=step)
    yield _Entry(at, "message", f"New fine-tuned model created: {_model_name(record)}")
    yield _Entry(at, "message", "The job has successfully completed", status="succeeded")


def _pauses(actions: Sequence[tuple[str, int]]) -> list[tuple[int, int | None]]:
    """Pair each pause with the resume that ended it (None while still paused)."""
    pairs: list[tuple[int, int | None]] = []
    for kind, at in actions:
        if kind == "pause":
            pairs.append((at, None))
        elif kind == "resume" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], max(at, pairs[-1][0]))
    return pairs


def _event(record: _JobRecord, plan: _Plan, index: int) -> JobEvent:
    """The plan's event at `index`; its id is its 1-based position, stable by construction."""
    event_id = f"ftevent-{record.short}-{index + 1:06d}"
    created = _datetime(plan.times[index])
    ref = plan.refs[index]
    if ref > 0:
        data = _metrics(record, ref)
        return JobEvent(
            id=event_id,
            job_id=record.id,
            created_at=created,
            message=(
                f"{EVENT_PREFIX}Step {ref}/{record.total_steps}: "
                f"training loss={data['train_loss']:.4f}"
            ),
            type="metrics",
            data=data,
            metrics=metric_point("metrics", data),
        )
    entry = plan.others[-ref]
    extra: dict[str, MetricValue] = {}
    if entry.kind == "checkpoint":
        extra = {"step": entry.step, "fine_tuned_model_checkpoint": _ckpt_name(record, entry.step)}
    return JobEvent(
        id=event_id,
        job_id=record.id,
        created_at=created,
        level=entry.level,
        message=EVENT_PREFIX + entry.text,
        data=extra,
    )


def _metrics(record: _JobRecord, step: int, *, all_valid: bool = False) -> dict[str, MetricValue]:
    """Step metrics: loss falls and accuracy rises along a seeded curve with seeded noise.

    Noise comes from hashing (seed, step), not from a running RNG, so any step is computed
    alone in O(1) and never depends on which steps were computed before.
    """
    seed, total = record.seed, record.total_steps
    progress = step / total
    decay = math.exp(-4.0 * progress)
    start_loss = 2.1 + 0.3 * _noise(seed, 0, 1)
    floor_loss = 0.35 + 0.1 * _noise(seed, 0, 2)
    start_acc = 0.5 + 0.05 * _noise(seed, 0, 3)
    top_acc = 0.9 + 0.04 * _noise(seed, 0, 4)
    loss = floor_loss + (start_loss - floor_loss) * decay
    accuracy = top_acc - (top_acc - start_acc) * decay
    jitter = 1.0 - 0.5 * progress  # late steps are steadier, as real curves are
    data: dict[str, MetricValue] = {
        "step": step,
        "total_steps": total,
        "train_loss": round(max(0.01, loss + 0.08 * jitter * _noise(seed, step, 5)), 4),
        "train_mean_token_accuracy": round(
            min(0.999, max(0.0, accuracy + 0.02 * jitter * _noise(seed, step, 6))), 4
        ),
    }
    last = step == total
    if all_valid or last or step % record.eval_every == 0:
        data["valid_loss"] = round(max(0.01, loss + 0.1 + 0.05 * _noise(seed, step, 7)), 4)
        data["valid_mean_token_accuracy"] = round(
            min(0.999, max(0.0, accuracy - 0.03 + 0.02 * _noise(seed, step, 8))), 4
        )
    if all_valid or last:
        data["full_valid_loss"] = round(max(0.01, loss + 0.1 + 0.02 * _noise(seed, step, 9)), 4)
        data["full_valid_mean_token_accuracy"] = round(
            min(0.999, max(0.0, accuracy - 0.03 + 0.01 * _noise(seed, step, 10))), 4
        )
    return data


def _noise(seed: int, step: int, channel: int) -> float:
    """A deterministic number in [-1, 1) for one (seed, step, channel).

    A splitmix64 finaliser over the three integers: stable across processes and Python builds
    (unlike hash()) and a few times cheaper than a cryptographic digest, which matters when a
    watcher sweep materialises hundreds of thousands of metrics events.
    """
    x = (
        seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + channel * 0x94D049BB133111EB
    ) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return x / 2**63 - 1.0


def _checkpoint(record: _JobRecord, at: int, step: int) -> Checkpoint:
    metrics = _metrics(record, step, all_valid=True)
    metrics.pop("total_steps")
    return Checkpoint(
        id=f"ftckpt-{record.short}-{step:06d}",
        job_id=record.id,
        created_at=_datetime(at),
        step=step,
        model_name=_ckpt_name(record, step),
        metrics=metrics,
    )


def _model_name(record: _JobRecord) -> str:
    return f"ft:{record.base_root}:{ORG}:{record.suffix or ''}:{record.short}"


def _ckpt_name(record: _JobRecord, step: int) -> str:
    return f"{_model_name(record)}:ckpt-step-{step}"


def _cursor_seq(cursor: str | None, short: str, visible: int) -> int:
    """How many events the cursor says were seen; 0 (all) for None or a foreign cursor."""
    prefix = f"ftevent-{short}-"
    if cursor is None or not cursor.startswith(prefix):
        return 0
    tail = cursor[len(prefix) :]
    if not tail.isdigit():
        return 0
    seq = int(tail)
    return seq if 1 <= seq <= visible else 0


def _not_now(done: str, status: str, needed: str) -> str:
    if status in TERMINAL_STATUSES:
        return f"job already {status}"
    if status == needed == "paused":
        return f"job is {status}; only a paused job can be {done}"
    return f"job is {status}; only a {needed} job can be {done}"


# -- files ------------------------------------------------------------------------------------


class _Scan(NamedTuple):
    bytes: int
    lines: int
    format: str | None
    problem: str | None
    tokens: int
    sha256: str


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _scan_file(path: Path) -> _Scan:
    """Stream a JSONL file once: size, digest, example count and the first problem found."""
    size = lines = 0
    digest = hashlib.sha256()
    file_format: str | None = None
    problem: str | None = None
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                size += len(raw)
                digest.update(raw)
                if not raw.strip():
                    continue
                lines += 1
                if problem is not None:
                    continue
                line_format, problem = _check_line(number, raw)
                if problem is None and file_format is None:
                    file_format = line_format
                elif problem is None and line_format != file_format:
                    problem = (
                        f"line {number} is a {line_format} example but earlier lines are "
                        f"{file_format} examples"
                    )
    except OSError as error:
        raise _bad_request(f"could not read the file: {error.strerror or error}") from error
    if lines == 0 and problem is None:
        problem = "the file has no examples"
    # About four bytes a token: good enough for a simulated `trained_tokens`.
    return _Scan(size, lines, file_format, problem, max(size // 4, 0), digest.hexdigest())


def _check_line(number: int, raw: bytes) -> tuple[str | None, str | None]:
    """The line's format ("chat" or "preference") or the reason it is neither."""
    try:
        item = json.loads(raw)
    except UnicodeDecodeError:
        return None, f"line {number} is not UTF-8 text"
    except ValueError:
        return None, f"line {number} is not valid JSON"
    if not isinstance(item, dict):
        return None, f"line {number} is not a JSON object"
    if "messages" in item:
        messages = item["messages"]
        if not isinstance(messages, list) or not messages:
            return None, f'line {number} has an empty or invalid "messages" list'
        if not all(isinstance(message, dict) for message in messages):
            return None, f'line {number} has a "messages" entry that is not an object'
        if not any(message.get("role") == "assistant" for message in messages):
            return None, f"line {number} has no assistant message"
        return "chat", None
    if "input" in item or "preferred_output" in item:
        prompt = item.get("input")
        if not isinstance(prompt, dict) or not isinstance(prompt.get("messages"), list):
            return None, f'line {number} has no "input" with a "messages" list'
        for key in ("preferred_output", "non_preferred_output"):
            value = item.get(key)
            if not isinstance(value, list) or not value:
                return None, f'line {number} has no "{key}" list'
        return "preference", None
    return None, f'line {number} has no "messages" list'


def _job_problem(method: str, training: _FileRecord, validation: _FileRecord | None) -> str | None:
    """Why validation will fail the job, worked out once when the job is created."""
    wanted = "preference" if method == Method.DPO.value else "chat"
    for role, record in (("Training", training), ("Validation", validation)):
        if record is None:
            continue
        if record.problem is not None:
            return f"{role} file {record.id} is not valid: {record.problem}"
        if record.format != wanted:
            return (
                f"{role} file {record.id} holds {record.format} examples, "
                f"but a {method} job needs {wanted} examples"
            )
    return None


def _provider_file(record: _FileRecord) -> ProviderFile:
    return ProviderFile(
        id=record.id,
        filename=record.filename,
        bytes=record.bytes,
        created_at=_datetime(record.created_us),
        status="processed",
    )


# -- checks and conversions -------------------------------------------------------------------


def _check_spec(spec: JobSpec) -> None:
    """The real API's documented limits, so the sandbox refuses what OpenAI would refuse."""
    hp = spec.hyperparameters
    if hp.n_epochs is not None and not 1 <= hp.n_epochs <= 50:
        raise _bad_request("n_epochs must be between 1 and 50")
    if hp.batch_size is not None and not 1 <= hp.batch_size <= 256:
        raise _bad_request("batch_size must be between 1 and 256")
    if hp.learning_rate_multiplier is not None and not hp.learning_rate_multiplier > 0:
        raise _bad_request("learning_rate_multiplier must be greater than 0")
    if hp.beta is not None:
        if spec.method != Method.DPO:
            raise _bad_request("beta applies to dpo jobs only")
        if not 0 < hp.beta <= 2:
            raise _bad_request("beta must be greater than 0 and at most 2")
    if spec.suffix is not None and not 1 <= len(spec.suffix) <= 64:
        raise _bad_request("suffix must be 1 to 64 characters")
    if spec.suffix is not None and ":" in spec.suffix:
        raise _bad_request("suffix must not contain ':'")
    if spec.seed is not None and not 0 <= spec.seed <= 2_147_483_647:
        raise _bad_request("seed must be between 0 and 2147483647")
    if len(spec.metadata) > 16:
        raise _bad_request("metadata holds at most 16 pairs")
    for key, value in spec.metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise _bad_request("metadata keys hold at most 64 characters, values 512")


def _bad_request(detail: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.BAD_REQUEST, detail)


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    # Integer microseconds: the same arithmetic in every process, no float rounding drift.
    return (moment - _EPOCH) // _MICRO


def _datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _seconds_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    # The inode changes with every os.replace, so equal mtimes within a tick still differ.
    return (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)


def _record_dict(record: _FileRecord | _JobRecord) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record)}


def _load(data: bytes, path: Path) -> _State:
    try:
        return _State.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:
        log.error("sandbox state unreadable", extra={"path": str(path)})
        raise ProviderError(
            ProviderErrorKind.INVALID_RESPONSE, f"sandbox state {path} is unreadable: {error}"
        ) from error
