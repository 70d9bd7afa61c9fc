"""Provider adapter: what the sandbox learns from an uploaded file, and whether a job's files
suit its method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bot.providers.sandbox.records import FileRecord, bad_request, to_datetime
from handlers.datasets import EstimateTokenizer, Kind, Problem, Severity, validate_file
from handlers.model import Method, ProviderFile

TOKEN_LIMIT = 65_536
"""Examples over this are a warning, never a refusal: the bot's default when no model is known."""


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
    """Lines that are not blank: what a job's steps are counted from."""
    format: str
    problem: str | None
    tokens: int
    sha256: str


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def scan_file(path: Path) -> Scan:
    """What the bot's own validator (handlers/datasets) finds in the file: the sandbox refuses
    exactly what `validate` would, so a job fails at the sandbox only on a file the bot itself
    calls broken (one uploaded with force=true). Reads the file once, in bounded memory."""
    try:
        report = validate_file(path, EstimateTokenizer(), model="", token_limit=TOKEN_LIMIT)
    except OSError as error:
        raise bad_request(f"could not read the file: {error.strerror or error}") from error
    problem = next((str(p) for p in report.shown if _refused(p)), None)
    # About four bytes a token: good enough for a simulated `trained_tokens`.
    tokens = max(report.bytes // 4, 0)
    lines = report.lines - report.counts.get(Kind.BLANK_LINE.value, 0)
    return Scan(report.bytes, lines, report.format, problem, tokens, report.sha256)


def _refused(problem: Problem) -> bool:
    # Any error in the examples themselves; not the count: the sandbox, like the providers'
    # fakes the contract suite also runs on, trains on a file of a few examples (the bot's own
    # upload still warns of too few, see handlers/datasets/report.py).
    return problem.kind.severity is Severity.ERROR and problem.kind is not Kind.TOO_FEW


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
