"""Core layer: streaming checks of a JSONL training file (the first version: chat format)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MIN_EXAMPLES = 10
MAX_PROBLEMS_SHOWN = 5
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_CHUNK = 1 << 20
MAX_LINE_BYTES = 64 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetReport:
    path: str
    format: str
    examples: int
    bytes: int
    sha256: str
    problems: tuple[str, ...]
    problem_count: int

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def check_chat_jsonl(path: Path) -> DatasetReport:
    """Read the file once, line by line, hashing it and noting each problem with its line."""
    digest = hashlib.sha256()
    problems: list[str] = []
    count = 0
    examples = 0
    size = 0

    def note(problem: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS_SHOWN:
            problems.append(problem)

    with path.open("rb") as handle:
        for line_no, raw in enumerate(_lines(handle, digest), start=1):
            if raw is None:
                note(f"line {line_no}: longer than {MAX_LINE_BYTES >> 20} MB")
                continue
            text = raw.strip()
            if line_no == 1 and text.startswith(b"\xef\xbb\xbf"):
                text = text[3:].strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                note(f"line {line_no}: not valid JSON")
                continue
            problem = _chat_problem(record)
            if problem:
                note(f"line {line_no}: {problem}")
                continue
            examples += 1
        size = handle.tell()
    if size == 0:
        note("the file is empty")
    elif examples < MIN_EXAMPLES and count == 0:
        note(f"only {examples} examples; fine-tuning needs at least {MIN_EXAMPLES}")
    return DatasetReport(
        path=str(path),
        format="chat",
        examples=examples,
        bytes=size,
        sha256=digest.hexdigest(),
        problems=tuple(problems),
        problem_count=count,
    )


def _lines(handle: BinaryIO, digest: Any) -> Iterator[bytes | None]:
    """Yield lines without their newline; None for a line too long to hold (memory bounded)."""
    pending = bytearray()
    oversized = False
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if oversized:
                yield None
            else:
                pending += chunk[start:end]
                yield bytes(pending)
            pending.clear()
            oversized = False
            start = end + 1
        if not oversized:
            pending += chunk[start:]
            if len(pending) > MAX_LINE_BYTES:
                oversized = True
                pending.clear()
    if oversized:
        yield None
    elif pending:
        yield bytes(pending)


def _chat_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return "missing a non-empty 'messages' list"
    has_assistant = False
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            return f"message {index} is not an object"
        role = message.get("role")
        if not isinstance(role, str) or role not in KNOWN_ROLES:
            return f"message {index} has an unknown role {str(role)[:20]!r}"
        content = message.get("content")
        if role == "assistant":
            has_assistant = True
            if content is None and not message.get("tool_calls"):
                return f"message {index} (assistant) has no content"
        if content is not None and not isinstance(content, str | list):
            return f"message {index} content must be a string or a list of parts"
        if isinstance(content, str) and not content.strip() and role != "assistant":
            return f"message {index} has empty content"
    if not has_assistant:
        return "no assistant message"
    return None
