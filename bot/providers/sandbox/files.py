"""Provider adapter: what the sandbox learns from an uploaded file, and whether a job's files
suit its method."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bot.providers.sandbox.records import FileRecord, bad_request, to_datetime
from handlers.model import Method, ProviderFile


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


class Scan(NamedTuple):
    bytes: int
    lines: int
    format: str | None
    problem: str | None
    tokens: int
    sha256: str


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def scan_file(path: Path) -> Scan:
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
        raise bad_request(f"could not read the file: {error.strerror or error}") from error
    if lines == 0 and problem is None:
        problem = "the file has no examples"
    # About four bytes a token: good enough for a simulated `trained_tokens`.
    return Scan(size, lines, file_format, problem, max(size // 4, 0), digest.hexdigest())


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


def job_problem(method: str, training: FileRecord, validation: FileRecord | None) -> str | None:
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


def provider_file(record: FileRecord) -> ProviderFile:
    return ProviderFile(
        id=record.id,
        filename=record.filename,
        bytes=record.bytes,
        created_at=to_datetime(record.created_us),
        status="processed",
    )
