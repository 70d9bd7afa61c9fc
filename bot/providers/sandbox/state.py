"""Provider adapter: the sandbox's persisted world (files, jobs, idempotency keys) and the state
file processes share it through: re-read on change, rewritten atomically under a lock file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from bot.providers.sandbox.records import FileRecord, JobRecord, model_name
from handlers.errors import ProviderError, ProviderErrorKind

log = logging.getLogger(__name__)

_STATE_FORMAT: Final = "finetune-bot-sandbox"
_STATE_VERSION: Final = 1


ModelName = Callable[[JobRecord], str]
"""How a simulated family names the model a job makes (its shape's `model_name`)."""


class State:
    """Files, jobs and idempotency keys: the whole persisted world of one sandbox."""

    def __init__(self, name: ModelName = model_name) -> None:
        self._name = name
        self.counter = 0
        self.files: dict[str, FileRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.keys: dict[str, str] = {}
        self.deleted_models: set[str] = set()
        self.models: dict[str, str] = {}  # derived: fine-tuned model name -> job id
        self.tagged: dict[tuple[str, str], list[str]] = {}
        """Derived: job ids by each metadata pair, oldest first (a job's metadata never
        changes), so a list filtered by a tag walks that tag's jobs, not every job."""
        # Re-encoding 10,000 unchanged records on every mutation would dominate each write.
        self._encoded: dict[str, tuple[FileRecord | JobRecord, str]] = {}

    def add_job(self, record: JobRecord) -> None:
        if record.id not in self.jobs:
            for pair in record.metadata:
                self.tagged.setdefault(pair, []).append(record.id)
        self.jobs[record.id] = record
        self.keys[record.idempotency_key] = record.id
        self.models[self._name(record)] = record.id

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

    def _fragment(self, record: FileRecord | JobRecord) -> str:
        cached = self._encoded.get(record.id)
        if cached is not None and cached[0] is record:
            return cached[1]
        text = json.dumps(_record_dict(record), separators=(",", ":"))
        self._encoded[record.id] = (record, text)
        return text

    @classmethod
    def from_json(cls, document: Any, name: ModelName = model_name) -> State:
        if not isinstance(document, dict) or document.get("format") != _STATE_FORMAT:
            raise ValueError("not a sandbox state file")
        if document.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported sandbox state version {document.get('version')!r}")
        state = cls(name)
        state.counter = int(document["counter"])
        for item in document["files"]:
            file = FileRecord(**item)
            state.files[file.id] = file
        for item in document["jobs"]:
            item["metadata"] = tuple((str(k), str(v)) for k, v in item["metadata"])
            item["actions"] = tuple((str(kind), int(at)) for kind, at in item["actions"])
            state.add_job(JobRecord(**item))
        state.deleted_models = {str(name) for name in document["deleted_models"]}
        return state


class StateFile:
    """The state of one sandbox: in memory, or shared through `path` by every process."""

    def __init__(self, path: Path | None, name: ModelName = model_name) -> None:
        self._path = path
        self._name = name
        self._lock_path = path.with_name(path.name + ".lock") if path is not None else None
        self._state = State(name)
        self._signature: tuple[int, int, int, int] | None = None

    def read(self) -> State:
        """The current state, re-read only when another process replaced the file."""
        if self._path is None:
            return self._state
        try:
            # A stat per call is cheap; opening and parsing happen only after a change.
            if _signature(os.stat(self._path)) == self._signature:
                return self._state
            with self._path.open("rb") as handle:
                signature = _signature(os.fstat(handle.fileno()))
                data = handle.read() if signature != self._signature else b""
        except FileNotFoundError:
            if self._signature is not None:
                self._state, self._signature = State(self._name), None
            return self._state
        if signature != self._signature:
            self._state = _load(data, self._path, self._name)
            self._signature = signature
        return self._state

    @contextlib.contextmanager
    def mutating(self) -> Iterator[State]:
        """Change the state under the lock file and write it back atomically if no error."""
        if self._path is None or self._lock_path is None:
            yield self._state
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a+b") as lock:
            # One writer at a time; readers need no lock as os.replace swaps whole files.
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = self.read()
                yield state
                self._write(state)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, state: State) -> None:
        assert self._path is not None
        directory = self._path.parent
        data = state.encode()
        fd, temp = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                # No fsync: atomicity between processes is what matters for a simulation,
                # and an fsync per mutation would dominate the benchmarks.
            os.replace(temp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        # Stat after the rename (it changes ctime); the lock keeps other writers out meanwhile,
        # so this is our own file and the next call need not re-read it.
        self._signature = _signature(os.stat(self._path))


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    # The inode changes with every os.replace, so equal mtimes within a tick still differ.
    return (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)


def _record_dict(record: FileRecord | JobRecord) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record)}


def _load(data: bytes, path: Path, name: ModelName) -> State:
    try:
        return State.from_json(json.loads(data), name)
    except (ValueError, KeyError, TypeError) as error:
        log.error("sandbox state unreadable", extra={"path": str(path)})
        raise ProviderError(
            ProviderErrorKind.INVALID_RESPONSE, f"sandbox state {path} is unreadable: {error}"
        ) from error
