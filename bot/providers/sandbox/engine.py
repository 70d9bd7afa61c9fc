"""Provider adapter: SandboxEngine, a labelled deterministic simulation of fine-tuning jobs,
in the shape of one family (`shape`: the sandbox's OpenAI shape, or another's).

The port's operations over the sandbox's pieces: `records` (what a file and a job keep),
`state` (the world and its shared state file), `timeline` (a job's history from its record),
`files` (what an upload is found to hold) and `chat` (simulated answers). The operations a
family may lack (pause and resume, stored completions) are the subclasses' to add, so a
family's class implements exactly what its profile declares.
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from bot.providers.sandbox.chat import MAX_KEPT_BYTES, Learnt, SandboxChat
from bot.providers.sandbox.files import (
    SandboxFileInfo,
    job_problem,
    provider_file,
    read_bytes,
    scan_file,
)
from bot.providers.sandbox.records import (
    FileRecord,
    JobRecord,
    bad_request,
    hex_digest,
    micros,
    seconds_us,
    to_datetime,
)
from bot.providers.sandbox.shape import SandboxShape
from bot.providers.sandbox.state import State, StateFile
from bot.providers.sandbox.timeline import (
    CANCELLING,
    KEPT_CHECKPOINTS,
    Plan,
    build_plan,
    checkpoint_at,
    cursor_seq,
    event_at,
    not_now,
)
from bot.providers.sandbox.timing import DEFAULT_TIMING, SandboxTiming
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    TERMINAL_STATUSES,
    Checkpoint,
    Hyperparameters,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import Clock
from handlers.profile import ProviderProfile

log = logging.getLogger(__name__)

_STILL: Final = frozenset({"paused", CANCELLING})
"""Live phases with no finish in sight."""


class SandboxEngine:
    """The Provider port as a simulation: no key, no network, no sleeps, no background tasks.

    A job's status, events and checkpoints are a pure function of its record (creation time,
    spec, seed, timing and its pause/resume/cancel timeline) and `clock.now()` at the call, so
    processes sharing one `state_path` (or a restarted one) see identical histories and ids.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        shape: SandboxShape,
        state_path: Path | None = None,
        timing: SandboxTiming = DEFAULT_TIMING,
    ) -> None:
        self._clock = clock
        self._shape = shape
        self._timing = timing
        self._store = StateFile(state_path, shape.model_name)
        self._plans: dict[str, tuple[JobRecord, Plan]] = {}
        self.chunked_threshold = 512 << 20
        """Files over this go \"in parts\" like the Uploads API (tests lower it)."""
        self.part_bytes = 64 << 20
        self.upload_parts: dict[str, int] = {}
        """File id -> simulated parts, for files that took the chunked path."""
        self._chat = SandboxChat()

    # -- identity -----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self._shape.label

    @property
    def profile(self) -> ProviderProfile:
        return self._shape.profile

    @property
    def is_simulation(self) -> bool:
        return True

    @property
    def timing(self) -> SandboxTiming:
        return self._timing

    # -- files --------------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        # Reading a big file must not stall the event loop the chat adapters share.
        scan = await asyncio.to_thread(scan_file, path)
        with self._store.mutating() as state:
            now = self._now_us()
            state.counter += 1
            digest = hex_digest(f"file|{scan.sha256}|{now}|{state.counter}")
            record = FileRecord(
                id=self._shape.file_id(digest),
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
            self._chat.keep(record.id, await asyncio.to_thread(read_bytes, path))
        if scan.bytes > self.chunked_threshold:
            parts = -(-scan.bytes // self.part_bytes)
            self.upload_parts[record.id] = parts
            for part in range(1, parts + 1):
                if progress is not None:
                    progress(min(scan.bytes, part * self.part_bytes), scan.bytes)
        elif progress is not None:
            progress(scan.bytes, scan.bytes)
        log.debug("sandbox file uploaded", extra={"file_id": record.id})
        return provider_file(record)

    async def list_files(self) -> Sequence[ProviderFile]:
        files = self._store.read().files.values()
        return [provider_file(record) for record in reversed(files)]

    async def get_file(self, file_id: str) -> ProviderFile:
        return provider_file(self._file(self._store.read(), file_id))

    async def delete_file(self, file_id: str) -> None:
        with self._store.mutating() as state:
            self._file(state, file_id)
            del state.files[file_id]
            self._chat.forget(file_id)

    def inspect_file(self, file_id: str) -> SandboxFileInfo:
        """What validation found in an uploaded file (for tests and the demo; not a port call)."""
        record = self._file(self._store.read(), file_id)
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
        now = self._now_us()
        # A retry is answered from a read: no lock, no rewrite of the state file.
        known = self._store.read()
        existing = known.keys.get(idempotency_key)
        if existing is not None and existing in known.jobs:
            return self._job_state(known.jobs[existing], now)
        return self._create(spec, idempotency_key)

    def _create(self, spec: JobSpec, idempotency_key: str) -> JobState:
        with self._store.mutating() as state:
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
        return self._job_state(self._job(self._store.read(), job_id), self._now_us())

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        wanted = set((metadata or {}).items())
        now = self._now_us()
        state = self._store.read()
        found: list[JobState] = []
        # Both orders are creation order, so walking backwards is newest first; with a filter,
        # only the jobs carrying its rarest pair are walked.
        ids: Sequence[str] = (
            min((state.tagged.get(pair, []) for pair in wanted), key=len)
            if wanted
            else list(state.jobs)
        )
        for job_id in reversed(ids):
            if len(found) >= limit:
                break
            record = state.jobs[job_id]
            if wanted <= set(record.metadata):
                found.append(self._job_state(record, now))
        return found

    async def cancel_job(self, job_id: str) -> JobState:
        return self._act(job_id, "cancel")

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        """Events newer than the one whose id is `cursor` (all if None or unknown), oldest first.

        At most `limit` are returned, the oldest ones, so paging with the last id loses nothing.
        """
        record = self._job(self._store.read(), job_id)
        plan = self._plan(record)
        visible = bisect_right(plan.times, self._now_us())
        start = cursor_seq(cursor, record.short, visible)
        end = min(visible, start + max(limit, 0))
        return [event_at(record, plan, seq, self._shape) for seq in range(start, end)]

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        """The job's checkpoints so far, newest first (like the API), the last three epochs."""
        record = self._job(self._store.read(), job_id)
        now = self._now_us()
        made = [(at, step) for at, step in self._plan(record).checkpoints if at <= now]
        kept = reversed(made[-KEPT_CHECKPOINTS:])
        return [checkpoint_at(record, at, step, self._shape) for at, step in kept]

    # -- models -------------------------------------------------------------------------------

    async def list_models(self) -> Sequence[ProviderModel]:
        state = self._store.read()
        now = self._now_us()
        models = [
            ProviderModel(id=name, created_at=created, owned_by="system")
            for name, created in self._shape.base_models.items()
        ]
        for record in state.jobs.values():
            name = self._shape.model_name(record)
            if name in state.deleted_models:
                continue
            finished = self._succeeded_at(record, now)
            if finished is not None:
                models.append(
                    ProviderModel(
                        id=name, created_at=to_datetime(finished), owned_by=self._shape.owned_by
                    )
                )
        return models

    # -- chat completions ---------------------------------------------------------------------

    async def file_content(self, file_id: str) -> bytes:
        self._file(self._store.read(), file_id)
        content = self._chat.content(file_id)
        if content is None:
            raise bad_request(f"the sandbox did not keep the content of {file_id}")
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
        state = self._store.read()
        now = self._now_us()
        learnt: Learnt | None = None
        if self._shape.aliases.get(model, model) not in self._shape.base_models:
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
            raise bad_request("messages must not be empty")
        return self._chat.answer(
            model,
            messages,
            learnt=learnt,
            max_tokens=max_tokens,
            now=to_datetime(now),
            store=store,
            metadata=metadata,
        )

    # -- the simulation -----------------------------------------------------------------------

    def _new_job(self, state: State, spec: JobSpec, idempotency_key: str, now: int) -> JobRecord:
        model, base_root = self._resolve_model(state, spec.model, now)
        training = state.files.get(spec.training_file)
        if training is None:
            raise bad_request(f"training file {spec.training_file} does not exist")
        validation = None
        if spec.validation_file is not None:
            validation = state.files.get(spec.validation_file)
            if validation is None:
                raise bad_request(f"validation file {spec.validation_file} does not exist")
        self._shape.check_spec(spec)
        hp = spec.hyperparameters
        method = Method(spec.method).value
        epochs = hp.n_epochs or self._shape.default_epochs
        examples = max(training.lines, 1)
        batch = hp.batch_size or max(1, min(8, examples // 100))
        # Real jobs run ceil(examples / batch) steps an epoch; the cap keeps simulations short
        # while checkpoints still fall on epoch boundaries.
        per_epoch = min(math.ceil(examples / batch), max(1, self._timing.max_steps // epochs))
        seq = state.counter + 1
        digest = hex_digest(f"job|{idempotency_key}|{now}|{seq}")
        seed = spec.seed if spec.seed is not None else int(digest[-8:], 16) % 2**31
        return JobRecord(
            id=self._shape.job_id(digest),
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
            learning_rate_multiplier=hp.learning_rate_multiplier or self._shape.default_lr,
            beta=(hp.beta or 0.1) if method == Method.DPO.value else None,
            suffix=spec.suffix,
            seed=seed,
            metadata=tuple(sorted(spec.metadata.items())),
            problem=job_problem(method, training, validation),
            trained_tokens=training.tokens * epochs,
            total_steps=per_epoch * epochs,
            validating_us=seconds_us(self._timing.validating_s),
            queued_us=seconds_us(self._timing.queued_s),
            step_us=max(1, seconds_us(self._timing.step_s)),
            eval_every=self._timing.eval_every,
        )

    def _resolve_model(self, state: State, model: str, now: int) -> tuple[str, str]:
        """The snapshot a job will report and the base model its fine-tuned name carries."""
        snapshot = self._shape.aliases.get(model, model)
        if snapshot in self._shape.base_models:
            return snapshot, snapshot
        parent = self._own_model(state, model, now)
        if parent is not None:
            # Like the real API, a model tuned from a tuned model is named after the root base.
            return model, parent.base_root
        raise bad_request(f"model {model} is not available for fine-tuning")

    def _own_model(self, state: State, name: str, now: int) -> JobRecord | None:
        job_id = state.models.get(name)
        if job_id is None or name in state.deleted_models or job_id not in state.jobs:
            return None
        record = state.jobs[job_id]
        return record if self._succeeded_at(record, now) is not None else None

    def _act(self, job_id: str, action: str) -> JobState:
        with self._store.mutating() as state:
            record = self._job(state, job_id)
            # A clock behind this job's own timeline (another process) must not reorder it.
            now = max(self._now_us(), record.created_us, *(at for _, at in record.actions), 0)
            status = self._status(self._plan(record), now)
            match action:
                case "cancel" if status in TERMINAL_STATUSES:
                    raise bad_request(f"job already {status}")
                case "pause" if status != "running":
                    raise bad_request(not_now("paused", status, "running"))
                case "resume" if status != "paused":
                    raise bad_request(not_now("resumed", status, "paused"))
            record = replace(record, actions=(*record.actions, (action, now)))
            state.jobs[job_id] = record
            log.info("sandbox job %s", action, extra={"job_id": job_id})
            return self._job_state(record, now)

    def _plan(self, record: JobRecord) -> Plan:
        cached = self._plans.get(record.id)
        # Records are immutable and replaced on change, so identity is the cheap equality.
        if cached is not None and cached[0] is record:
            return cached[1]
        plan = build_plan(record, self._shape)
        self._plans[record.id] = (record, plan)
        return plan

    @staticmethod
    def _status(plan: Plan, now: int) -> str:
        index = bisect_right(plan.transition_times, now) - 1
        return plan.transitions[max(index, 0)][1]

    def _succeeded_at(self, record: JobRecord, now: int) -> int | None:
        success = self._plan(record).success_us
        return success if success is not None and success <= now else None

    def _job_state(self, record: JobRecord, now: int) -> JobState:
        plan = self._plan(record)
        index = max(bisect_right(plan.transition_times, now) - 1, 0)
        entered, status = plan.transitions[index]
        succeeded = status == "succeeded"
        live = status not in TERMINAL_STATUSES and status not in _STILL
        estimate = plan.success_us if live else None
        shown = self._shape.status(status)
        return JobState(
            id=record.id,
            model=record.model,
            status=self._shape.profile.status(shown),
            provider_status=shown,
            created_at=to_datetime(record.created_us),
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
            fine_tuned_model=self._shape.model_name(record) if succeeded else None,
            trained_tokens=record.trained_tokens if succeeded else None,
            error=record.problem if status == "failed" else None,
            finished_at=to_datetime(entered) if status in TERMINAL_STATUSES else None,
            estimated_finish=to_datetime(estimate) if estimate is not None else None,
            metadata=dict(record.metadata),
        )

    # -- plumbing -----------------------------------------------------------------------------

    def _now_us(self) -> int:
        return micros(self._clock.now())

    def _file(self, state: State, file_id: str) -> FileRecord:
        record = state.files.get(file_id)
        if record is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no file {file_id}")
        return record

    def _job(self, state: State, job_id: str) -> JobRecord:
        record = state.jobs.get(job_id)
        if record is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, f"no job {job_id}")
        return record
