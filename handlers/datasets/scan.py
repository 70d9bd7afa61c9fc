"""Core layer: checking each line of a byte range of a JSONL file, findings into a Partial."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from handlers.datasets.formats import CHECKS, Check, Count, Format, json_kind
from handlers.datasets.hashes import line_hash
from handlers.datasets.problems import Kind
from handlers.datasets.reader import BOM, MAX_LINE_BYTES, ProgressCallback, read_lines
from handlers.datasets.report import Partial
from handlers.text import size

_CACHE_TEXT_CHARS: Final = 4096
_CACHE_ENTRIES: Final = 8192


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    format: Format
    model: str
    token_limit: int
    count: Count
    training_hashes: frozenset[int] | set[int] | None = None
    convert: Callable[[Mapping[str, object], str, str], Sequence[str]] | None = None
    """The family's check of what its own form cannot express (a profile's `converts`)."""


def scan_range(
    path: Path,
    start: int,
    end: int,
    options: ScanOptions,
    *,
    digest: bool = False,
    progress: ProgressCallback | None = None,
) -> Partial:
    """Validate the lines of `path[start:end]` (both on line boundaries), one at a time."""
    partial = Partial()
    sha = hashlib.sha256() if digest else None
    with path.open("rb") as handle:
        file_size = handle.seek(0, 2)
        end = min(end, file_size)
        checker = _Checker(options, partial, at_file_end=end == file_size)
        for line_no, raw, terminated in read_lines(handle, start, end, sha, progress):
            checker.line(line_no, raw, terminated, first_in_file=start == 0 and line_no == 1)
    partial.bytes = max(0, end - start)
    if sha is not None:
        partial.sha256 = sha.hexdigest()
    return partial


def _cached(count: Count) -> Count:
    """Counts of short texts remembered: system prompts and roles repeat on every line."""
    cache: dict[str, int] = {}

    def counted(text: str) -> int:
        found = cache.get(text)
        if found is None:
            found = count(text)
            if len(text) <= _CACHE_TEXT_CHARS:
                if len(cache) >= _CACHE_ENTRIES:
                    cache.clear()
                cache[text] = found
        return found

    return counted


class _Checker:
    """Checks one line at a time for one format; all findings go into a Partial."""

    def __init__(self, options: ScanOptions, partial: Partial, *, at_file_end: bool) -> None:
        self.options = options
        self.partial = partial
        self.at_file_end = at_file_end
        self.crlf_seen = False
        self.count = _cached(options.count)
        # A module function, never a bound method of self: a bound method kept on self is a
        # reference cycle, and a cycle holding the count cache lingers until a full collection
        # (megabytes per range in a pool worker).
        self.format_check: Check = CHECKS[options.format]

    def line(
        self, line_no: int, raw: bytes | int, terminated: bool, *, first_in_file: bool
    ) -> None:
        partial = self.partial
        partial.lines = line_no
        note = partial.note
        if isinstance(raw, int):
            note(
                Kind.LINE_TOO_LONG,
                line_no,
                f"{size(raw)} on one line, over the {size(MAX_LINE_BYTES)} this checker "
                "reads; not checked",
            )
            return
        if raw.endswith(b"\r"):
            raw = raw[:-1]
            if not self.crlf_seen:
                self.crlf_seen = True
                note(
                    Kind.CRLF,
                    line_no,
                    "Windows (CRLF) line ends; accepted, but saving with LF is safer",
                )
        if first_in_file and raw.startswith(BOM):
            raw = raw[3:]
            note(
                Kind.BOM,
                line_no,
                "the file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
            )
        if not raw or raw.isspace():
            note(Kind.BLANK_LINE, line_no, "blank line; it is skipped here but may be refused")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            bad = raw[error.start : error.start + 1].hex()
            note(
                Kind.ENCODING,
                line_no,
                f"byte 0x{bad} at column {error.start + 1} is not UTF-8; save the file as UTF-8",
            )
            return
        try:
            record = json.loads(text)
        except RecursionError:
            note(Kind.TOO_DEEP, line_no, "JSON nested too deeply to be an example")
            return
        except ValueError as error:
            if not terminated and self.at_file_end:
                note(
                    Kind.TRUNCATED,
                    line_no,
                    "the last line is cut off (no newline, incomplete JSON); "
                    "the file looks truncated",
                )
            else:
                note(Kind.INVALID_JSON, line_no, _json_error(error))
            return
        if not isinstance(record, dict):
            note(
                Kind.WRONG_TYPE, line_no, f"a line must be a JSON object, not {json_kind(record)}"
            )
            return
        try:
            found = self.format_check(self.count, record)
        except RecursionError:
            note(Kind.TOO_DEEP, line_no, "JSON nested too deeply to be an example")
            return
        if isinstance(found, list):
            for kind, detail in found[:3]:
                note(kind, line_no, detail)
            return
        convert = self.options.convert
        if convert is not None:
            # A valid canonical example the family's form cannot hold: an error of this line,
            # reported with the rest before anything is uploaded.
            for detail in convert(record, self.options.format.value, self.options.model)[:3]:
                note(Kind.NOT_CONVERTIBLE, line_no, detail)
        tokens, n_messages, assistant = found
        partial.examples += 1
        partial.tokens[tokens] += 1
        partial.messages[n_messages] += 1
        partial.assistant[assistant] += 1
        if tokens > self.options.token_limit:
            note(
                Kind.TOO_LONG,
                line_no,
                f"{tokens:,} tokens, over the {self.options.token_limit:,} limit"
                f"{' of ' + self.options.model if self.options.model else ''}; "
                "it will be truncated",
            )
        digest = line_hash(raw)
        partial.hashes.append(digest)
        partial.hash_lines.append(line_no)
        training = self.options.training_hashes
        if training is not None and digest in training:
            note(
                Kind.IN_TRAINING,
                line_no,
                "this validation example also appears in the training file",
            )


def _json_error(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at column {error.colno}"
    return "not valid JSON"
