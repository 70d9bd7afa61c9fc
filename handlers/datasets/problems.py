"""Core layer: what the dataset validator reports: problem kinds, their severity, a finding."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

MAX_SHOWN_PER_KIND: Final = 3
"""A report shows the first few problems of each kind, then counts."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Kind(StrEnum):
    """Every problem the validator names; warnings do not block an upload."""

    BINARY = "binary file"
    COMPRESSED = "compressed file"
    ENCODING = "not UTF-8"
    BOM = "byte-order mark"
    EMPTY_FILE = "empty file"
    TRUNCATED = "truncated last line"
    LINE_TOO_LONG = "line too long"
    TOO_DEEP = "nested too deeply"
    INVALID_JSON = "invalid JSON"
    WRONG_TYPE = "wrong type"
    MISSING_KEY = "missing key"
    UNKNOWN_KEY = "unknown key"
    UNKNOWN_ROLE = "unknown role"
    EMPTY_CONTENT = "empty content"
    MISSING_ASSISTANT = "missing assistant message"
    TOO_FEW = "too few examples"
    TOO_MANY = "too many examples"
    TOO_LARGE = "file too large"
    NOT_CONVERTIBLE = "not expressible at the provider"
    TOO_LONG = "over the token limit"
    DUPLICATE = "duplicate example"
    IN_TRAINING = "also in training"
    CRLF = "CRLF line ends"
    BLANK_LINE = "blank line"
    CSV = "CSV, not JSONL"
    PLAIN_TEXT = "text, not JSONL"
    WRONG_FORMAT = "another format"

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self in _WARNINGS else Severity.ERROR


_WARNINGS: Final = frozenset(
    {Kind.TOO_LONG, Kind.DUPLICATE, Kind.IN_TRAINING, Kind.CRLF, Kind.BLANK_LINE}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    kind: Kind
    line: int | None
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.detail}"
