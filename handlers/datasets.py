"""Core layer: streaming validation and statistics of JSONL fine-tuning data in every format."""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Final

from handlers.ports import Tokenizer
from handlers.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    chat_tokens,
    json_tokens,
    value_tokens,
)

MIN_EXAMPLES: Final = 10
"""The API refuses a training file with fewer examples."""

MAX_SHOWN_PER_KIND: Final = 3
"""A report shows the first few problems of each kind, then counts."""

MAX_LINE_BYTES: Final = 16 << 20
"""A line longer than this is reported, never parsed: json.loads would hold many times it."""

CHUNK_BYTES: Final = 1 << 20
_DETECT_LINES: Final = 20
_DETECT_BYTES: Final = 64 << 20
_CACHE_TEXT_CHARS: Final = 4096
_CACHE_ENTRIES: Final = 8192
_BOM: Final = b"\xef\xbb\xbf"

ProgressCallback = Callable[[int, int], None]
"""(bytes done, bytes total); may be called from a worker thread, so keep it cheap."""


class Format(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"
    PREFERENCE = "preference"
    REINFORCEMENT = "reinforcement"


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
    TOO_LONG = "over the token limit"
    DUPLICATE = "duplicate example"
    IN_TRAINING = "also in training"
    CRLF = "CRLF line ends"
    BLANK_LINE = "blank line"

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """min, mean, p50, p95 and max of a per-example quantity."""

    count: int = 0
    minimum: int = 0
    mean: float = 0.0
    p50: int = 0
    p95: int = 0
    maximum: int = 0

    @classmethod
    def of(cls, histogram: Mapping[int, int]) -> Distribution:
        """From a value -> count histogram: exact quantiles, memory bounded by distinct values."""
        total = sum(histogram.values())
        if not total:
            return cls()
        values = sorted(histogram)
        return cls(
            count=total,
            minimum=values[0],
            mean=sum(v * n for v, n in histogram.items()) / total,
            p50=_quantile(values, histogram, total, 0.50),
            p95=_quantile(values, histogram, total, 0.95),
            maximum=values[-1],
        )

    def __str__(self) -> str:
        if not self.count:
            return "—"
        return (
            f"min {self.minimum:,} · mean {self.mean:,.1f} · p50 {self.p50:,} · "
            f"p95 {self.p95:,} · max {self.maximum:,}"
        )


def _quantile(values: list[int], histogram: Mapping[int, int], total: int, q: float) -> int:
    """Nearest rank: the smallest value with at least q of the examples at or below it."""
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in values:
        seen += histogram[value]
        if seen >= rank:
            return value
    return values[-1]  # pragma: no cover - ranks never exceed the total


@dataclass(slots=True, kw_only=True)
class Partial:
    """What one pass over a byte range found; partials of consecutive ranges merge in order.

    Line numbers inside are local to the range (its first line is 1).
    """

    start: int = 0
    lines: int = 0
    bytes: int = 0
    examples: int = 0
    shown: list[Problem] = field(default_factory=list)
    counts: Counter[Kind] = field(default_factory=Counter)
    tokens: Counter[int] = field(default_factory=Counter)
    messages: Counter[int] = field(default_factory=Counter)
    assistant: Counter[int] = field(default_factory=Counter)
    hashes: array[int] = field(default_factory=lambda: array("Q"))
    hash_lines: array[int] = field(default_factory=lambda: array("I"))
    sha256: str | None = None

    def note(self, kind: Kind, line: int | None, detail: str) -> None:
        if self.counts[kind] < MAX_SHOWN_PER_KIND:
            self.shown.append(Problem(kind=kind, line=line, detail=detail))
        self.counts[kind] += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetReport:
    """Everything the validator found, with statistics; nothing of the file's content."""

    path: str
    format: str
    model: str
    examples: int
    lines: int
    bytes: int
    sha256: str
    problems: tuple[str, ...]
    """Display lines: the first few problems of each kind, then a count of the rest."""
    problem_count: int
    """Errors (warnings excluded): a file with any is refused unless forced."""
    warning_count: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    shown: tuple[Problem, ...] = ()
    tokens: Distribution = Distribution()
    messages: Distribution = Distribution()
    assistant_tokens: Distribution = Distribution()
    total_tokens: int = 0
    total_assistant_tokens: int = 0
    token_limit: int = 0
    over_limit: int = 0
    billed_tokens_per_epoch: int = 0
    """Σ min(limit, tokens) over the examples: what one epoch is billed for."""
    exact_tokens: bool = True

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


# --------------------------------------------------------------------------- the scan


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    format: Format
    model: str
    token_limit: int
    count: Callable[[str], int]
    training_hashes: frozenset[int] | set[int] | None = None


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
    partial = Partial(start=start)
    sha = hashlib.sha256() if digest else None
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        end = min(end, size)
        checker = _Checker(options, partial, at_file_end=end == size)
        for line_no, raw, terminated in _lines(handle, start, end, sha, progress):
            checker.line(line_no, raw, terminated, first_in_file=start == 0 and line_no == 1)
    partial.bytes = max(0, end - start)
    if sha is not None:
        partial.sha256 = sha.hexdigest()
    return partial


def _lines(
    handle: BinaryIO,
    start: int,
    end: int,
    sha: hashlib._Hash | None,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, bytes | int, bool]]:
    """(line number, bytes without the newline, ended by a newline) for each line.

    Instead of bytes, an int is the length of a line too long to hold: memory stays bounded
    by MAX_LINE_BYTES plus one chunk, whatever the file holds.
    """
    handle.seek(start)
    total = end - start
    remaining = total
    pending = b""
    oversized = 0  # bytes of a too-long line seen so far; 0 when not in one
    line_no = 0
    while remaining > 0:
        chunk = handle.read(min(CHUNK_BYTES, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        if sha is not None:
            sha.update(chunk)
        if oversized:
            cut = chunk.find(b"\n")
            if cut == -1:
                oversized += len(chunk)
                continue
            line_no += 1
            yield line_no, oversized + cut, True
            oversized = 0
            chunk = chunk[cut + 1 :]
        parts = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
        pending = parts.pop()
        for raw in parts:
            line_no += 1
            yield line_no, raw, True
        if len(pending) > MAX_LINE_BYTES:
            oversized = len(pending)
            pending = b""
        if progress is not None:
            progress(total - remaining, total)
    if oversized:
        yield line_no + 1, oversized, False
    elif pending:
        yield line_no + 1, pending, False


def _cached(count: Callable[[str], int]) -> Callable[[str], int]:
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
        # Unbound: a bound method kept on self is a reference cycle, and a cycle holding the
        # count cache lingers until a full collection (megabytes per range in a pool worker).
        self.format_check: Callable[[_Checker, dict[str, object]], Checked] = {
            Format.CHAT: _Checker._chat,
            Format.REINFORCEMENT: _Checker._reinforcement,
            Format.PREFERENCE: _Checker._preference,
            Format.COMPLETION: _Checker._completion,
        }[options.format]

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
                f"{_size(raw)} on one line, over the {_size(MAX_LINE_BYTES)} this checker "
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
        if first_in_file and raw.startswith(_BOM):
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
            note(Kind.WRONG_TYPE, line_no, f"a line must be a JSON object, not {_kind(record)}")
            return
        try:
            found = self.format_check(self, record)
        except RecursionError:
            note(Kind.TOO_DEEP, line_no, "JSON nested too deeply to be an example")
            return
        if isinstance(found, list):
            for kind, detail in found[:3]:
                note(kind, line_no, detail)
            return
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

    # -- formats --------------------------------------------------------------------------

    def _chat(self, record: dict[str, object]) -> Checked:
        problems: list[tuple[Kind, str]] = []
        for key in record:
            if key not in _CHAT_KEYS:
                problems.append((Kind.UNKNOWN_KEY, f"unknown key {_clip(key)!r} {_HINT_CHAT}"))
        messages = _messages(record, "messages", problems)
        _tools(record, problems)
        if messages is None or problems:
            return problems
        assistant = _check_messages(messages, problems, need_assistant=True)
        if problems:
            return problems
        return self._chat_totals(record, messages, assistant)

    def _reinforcement(self, record: dict[str, object]) -> Checked:
        problems: list[tuple[Kind, str]] = []
        messages = _messages(record, "messages", problems)
        _tools(record, problems)
        if messages is None or problems:
            return problems
        assistant = _check_messages(messages, problems, need_assistant=False)
        if problems:
            return problems
        return self._chat_totals(record, messages, assistant)

    def _chat_totals(
        self, record: Mapping[str, object], messages: list[object], assistant: list[object]
    ) -> tuple[int, int, int]:
        """chat_tokens' arithmetic, with the common {"role", "content": text} shape inlined."""
        count = self.count
        tokens = REPLY_PRIMING_TOKENS
        assistant_tokens = 0
        for message in messages:
            assert isinstance(message, dict)
            content = message.get("content")
            role = message.get("role")
            if len(message) == 2 and type(content) is str and type(role) is str:
                n = count(content)
                tokens += TOKENS_PER_MESSAGE + count(role) + n
                if role == "assistant":
                    assistant_tokens += n
                continue
            tokens += chat_tokens(count, [message]) - REPLY_PRIMING_TOKENS
            if role == "assistant":
                if content:
                    assistant_tokens += value_tokens(count, content)
                calls = message.get("tool_calls")
                if calls:
                    assistant_tokens += json_tokens(count, calls)
        for key in ("tools", "functions"):
            value = record.get(key)
            if value:
                tokens += json_tokens(count, value)
        return tokens, len(messages), assistant_tokens

    def _preference(self, record: dict[str, object]) -> Checked:
        problems: list[tuple[Kind, str]] = []
        for key in record:
            if key not in _PREFERENCE_KEYS:
                problems.append(
                    (
                        Kind.UNKNOWN_KEY,
                        f"unknown key {_clip(key)!r} (a preference example has input, "
                        "preferred_output and non_preferred_output)",
                    )
                )
        given = record.get("input")
        messages: list[object] | None = None
        if given is None:
            problems.append((Kind.MISSING_KEY, "no 'input' (an object with 'messages')"))
        elif not isinstance(given, dict):
            problems.append((Kind.WRONG_TYPE, f"'input' must be an object, not {_kind(given)}"))
        else:
            for key in given:
                if key not in _INPUT_KEYS:
                    problems.append((Kind.UNKNOWN_KEY, f"unknown key {_clip(key)!r} in 'input'"))
            messages = _messages(given, "messages", problems, where="input.")
            _tools(given, problems)
            if messages is not None:
                _check_messages(messages, problems, need_assistant=False)
        outputs: list[list[object]] = []
        for key in ("preferred_output", "non_preferred_output"):
            output = _messages(record, key, problems)
            if output is None:
                continue
            assistant = _check_messages(output, problems, need_assistant=True, where=f"{key} ")
            if len(output) != 1 or len(assistant) != 1:
                problems.append(
                    (Kind.WRONG_TYPE, f"'{key}' must hold exactly one assistant message")
                )
            outputs.append(output)
        if problems or messages is None:
            return problems
        count = self.count
        tokens = chat_tokens(count, messages)
        assistant_tokens = 0
        for output in outputs:
            tokens += chat_tokens(count, output) - REPLY_PRIMING_TOKENS
            for message in output:
                assert isinstance(message, dict)
                assistant_tokens += value_tokens(count, message.get("content"))
        return tokens, len(messages) + 2, assistant_tokens

    def _completion(self, record: dict[str, object]) -> Checked:
        problems: list[tuple[Kind, str]] = []
        for key in record:
            if key not in ("prompt", "completion"):
                problems.append(
                    (
                        Kind.UNKNOWN_KEY,
                        f"unknown key {_clip(key)!r} (a completion example has prompt and "
                        "completion)",
                    )
                )
        texts: list[str] = []
        for key in ("prompt", "completion"):
            value = record.get(key)
            if value is None:
                problems.append((Kind.MISSING_KEY, f"no '{key}'"))
            elif not isinstance(value, str):
                problems.append((Kind.WRONG_TYPE, f"'{key}' must be a string, not {_kind(value)}"))
            else:
                texts.append(value)
        if not problems and not texts[1].strip():
            problems.append((Kind.EMPTY_CONTENT, "'completion' is empty"))
        if problems:
            return problems
        prompt, completion = (self.count(t) if t else 0 for t in texts)
        return prompt + completion, 1, completion


Checked = list[tuple[Kind, str]] | tuple[int, int, int]
"""A list of problems, or (tokens, messages, assistant tokens) of a valid example."""

_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_CHAT_KEYS: Final = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
_INPUT_KEYS: Final = frozenset({"messages", "tools", "parallel_tool_calls"})
_PREFERENCE_KEYS: Final = frozenset({"input", "preferred_output", "non_preferred_output"})
_MESSAGE_KEYS: Final = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
)
_PART_TYPES: Final = frozenset({"text", "image_url", "input_audio", "file"})
_HINT_CHAT: Final = "(a chat example has messages, tools, functions, parallel_tool_calls)"


def _messages(
    record: Mapping[str, object],
    key: str,
    problems: list[tuple[Kind, str]],
    *,
    where: str = "",
) -> list[object] | None:
    value = record.get(key)
    if value is None:
        problems.append((Kind.MISSING_KEY, f"no '{where}{key}' list"))
        return None
    if not isinstance(value, list):
        problems.append((Kind.WRONG_TYPE, f"'{where}{key}' must be a list, not {_kind(value)}"))
        return None
    if not value:
        problems.append((Kind.MISSING_KEY, f"'{where}{key}' is empty"))
        return None
    return value


def _tools(record: Mapping[str, object], problems: list[tuple[Kind, str]]) -> None:
    for key in ("tools", "functions"):
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            problems.append((Kind.WRONG_TYPE, f"'{key}' must be a list, not {_kind(value)}"))
            continue
        for index, tool in enumerate(value, start=1):
            if not isinstance(tool, dict):
                problems.append(
                    (Kind.WRONG_TYPE, f"{key}[{index}] must be an object, not {_kind(tool)}")
                )
    parallel = record.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        problems.append(
            (
                Kind.WRONG_TYPE,
                f"'parallel_tool_calls' must be true or false, not {_kind(parallel)}",
            )
        )


def _check_messages(
    messages: list[object],
    problems: list[tuple[Kind, str]],
    *,
    need_assistant: bool,
    where: str = "",
) -> list[object]:
    """Check each message; returns the assistant messages."""
    assistant: list[object] = []
    for index, message in enumerate(messages, start=1):
        # The common shape, {"role": ..., "content": "text"}, is settled in a few lookups.
        if type(message) is dict and len(message) == 2:
            role = message.get("role")
            content = message.get("content")
            if type(content) is str and content and not content.isspace() and role in _ROLES:
                if role == "assistant":
                    assistant.append(message)
                continue
        at = f"{where}message {index}"
        if not isinstance(message, dict):
            problems.append((Kind.WRONG_TYPE, f"{at} must be an object, not {_kind(message)}"))
            continue
        for key in message:
            if key not in _MESSAGE_KEYS:
                problems.append((Kind.UNKNOWN_KEY, f"{at} has an unknown key {_clip(key)!r}"))
        role = message.get("role")
        if role is None:
            problems.append((Kind.MISSING_KEY, f"{at} has no 'role'"))
            continue
        if not isinstance(role, str):
            problems.append((Kind.WRONG_TYPE, f"{at}: 'role' must be a string, not {_kind(role)}"))
            continue
        if role not in _ROLES:
            problems.append(
                (
                    Kind.UNKNOWN_ROLE,
                    f"{at} has the unknown role {_clip(role)!r} (system, developer, user, "
                    "assistant, tool)",
                )
            )
            continue
        if role == "assistant":
            assistant.append(message)
        calls = message.get("tool_calls") or message.get("function_call")
        _content(message.get("content"), at, role, calls is not None, problems)
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            problems.append((Kind.WRONG_TYPE, f"{at}: 'name' must be a string, not {_kind(name)}"))
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                problems.append((Kind.UNKNOWN_KEY, f"{at}: 'weight' only applies to assistant"))
            elif type(weight) is not int or weight not in (0, 1):
                problems.append(
                    (Kind.WRONG_TYPE, f"{at}: 'weight' must be 0 or 1, not {_clip(str(weight))}")
                )
        if "tool_calls" in message:
            _tool_calls(message["tool_calls"], at, role, problems)
        call_id = message.get("tool_call_id")
        if call_id is not None and not isinstance(call_id, str):
            problems.append(
                (Kind.WRONG_TYPE, f"{at}: 'tool_call_id' must be a string, not {_kind(call_id)}")
            )
    if need_assistant and not assistant and not problems:
        problems.append(
            (Kind.MISSING_ASSISTANT, f"no assistant message in {where or ''}messages".strip())
        )
    return assistant


def _content(
    content: object, at: str, role: str, has_calls: bool, problems: list[tuple[Kind, str]]
) -> None:
    if content is None:
        if not (role == "assistant" and has_calls):
            problems.append((Kind.MISSING_KEY, f"{at} ({role}) has no 'content'"))
        return
    if isinstance(content, str):
        if (not content or content.isspace()) and not has_calls:
            problems.append((Kind.EMPTY_CONTENT, f"{at} ({role}) has empty content"))
        return
    if not isinstance(content, list):
        problems.append(
            (
                Kind.WRONG_TYPE,
                f"{at}: 'content' must be a string or a list of parts, not {_kind(content)}",
            )
        )
        return
    if not content:
        problems.append((Kind.EMPTY_CONTENT, f"{at} ({role}) has an empty list of parts"))
        return
    for number, part in enumerate(content, start=1):
        if not isinstance(part, dict):
            problems.append(
                (Kind.WRONG_TYPE, f"{at} part {number} must be an object, not {_kind(part)}")
            )
            continue
        kind = part.get("type")
        if kind not in _PART_TYPES:
            problems.append(
                (Kind.WRONG_TYPE, f"{at} part {number} has an unknown type {_clip(str(kind))!r}")
            )
        elif kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                problems.append((Kind.WRONG_TYPE, f"{at} part {number}: 'text' must be a string"))
            elif not text or text.isspace():
                problems.append((Kind.EMPTY_CONTENT, f"{at} part {number} has empty text"))


def _tool_calls(calls: object, at: str, role: str, problems: list[tuple[Kind, str]]) -> None:
    if role != "assistant":
        problems.append((Kind.UNKNOWN_KEY, f"{at}: only assistant messages have 'tool_calls'"))
        return
    if not isinstance(calls, list):
        problems.append(
            (Kind.WRONG_TYPE, f"{at}: 'tool_calls' must be a list, not {_kind(calls)}")
        )
        return
    for number, call in enumerate(calls, start=1):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            problems.append(
                (Kind.WRONG_TYPE, f"{at} tool call {number} needs a 'function' object")
            )
            continue
        if not isinstance(function.get("name"), str) or not isinstance(
            function.get("arguments"), str
        ):
            problems.append(
                (
                    Kind.WRONG_TYPE,
                    f"{at} tool call {number}: function 'name' and 'arguments' must be strings",
                )
            )


# --------------------------------------------------------------------------- detection


def sniff(path: Path) -> Problem | None:
    """A file-level problem seen in the first bytes: binary, compressed, UTF-16/32, empty."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        return Problem(kind=Kind.EMPTY_FILE, line=None, detail="the file is empty")
    if head[:2] == b"\x1f\x8b":
        return Problem(
            kind=Kind.COMPRESSED,
            line=1,
            detail="this is a gzip file; decompress it (gunzip) and give the .jsonl",
        )
    if (
        head[:4] in (b"PK\x03\x04", b"(\xb5/\xfd")
        or head[:3] == b"BZh"
        or head[:6] == (b"\xfd7zXZ\x00")
    ):
        return Problem(
            kind=Kind.COMPRESSED,
            line=1,
            detail="this is a compressed archive (zip, zstd, bzip2 or xz); extract the .jsonl",
        )
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return Problem(
            kind=Kind.ENCODING,
            line=1,
            detail="the file is UTF-16 text; save it as UTF-8",
        )
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        return Problem(
            kind=Kind.BINARY,
            line=line,
            detail="this is a binary file (it holds NUL bytes), not JSONL text",
        )
    return None


def detect_format(path: Path) -> Format | None:
    """The format most of the first valid lines have; None when no line can be read as any."""
    votes: Counter[Format] = Counter()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        seen = 0
        for _, raw, _ in _lines(handle, 0, min(size, _DETECT_BYTES), None, None):
            if isinstance(raw, int):
                continue
            raw = raw.removeprefix(_BOM)
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            guess = format_of(record)
            if guess is not None:
                votes[guess] += 1
                seen += 1
            if seen >= _DETECT_LINES:
                break
    return votes.most_common(1)[0][0] if votes else None


def format_of(record: object) -> Format | None:
    """The format one example looks like."""
    if not isinstance(record, dict):
        return None
    if "input" in record or "preferred_output" in record or "non_preferred_output" in record:
        return Format.PREFERENCE
    if "messages" in record:
        extra = set(record) - _CHAT_KEYS
        return Format.REINFORCEMENT if extra else Format.CHAT
    if "prompt" in record or "completion" in record:
        return Format.COMPLETION
    return None


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a validation needs before scanning: the format, the limit, how to count."""

    path: Path
    format: Format
    model: str
    token_limit: int
    exact_tokens: bool
    early: Problem | None = None
    """A file-level problem that makes scanning pointless (binary, gzip, empty)."""


def plan(
    path: Path,
    *,
    model: str,
    token_limit: int,
    exact_tokens: bool,
    format: Format | None = None,
) -> Plan:
    """Sniff the file and settle its format (named, or detected from its first valid lines)."""
    early = sniff(path)
    chosen = format or (detect_format(path) if early is None else None) or Format.CHAT
    return Plan(
        path=path,
        format=chosen,
        model=model,
        token_limit=token_limit,
        exact_tokens=exact_tokens,
        early=early,
    )


def finish(
    the_plan: Plan,
    partials: Iterable[Partial],
    *,
    sha256: str = "",
    is_validation: bool = False,
) -> DatasetReport:
    """Merge the partials of consecutive ranges (in file order) into one report."""
    counts: Counter[Kind] = Counter()
    tokens: Counter[int] = Counter()
    messages: Counter[int] = Counter()
    assistant: Counter[int] = Counter()
    shown: list[Problem] = []
    examples = size = offset = 0
    seen = HashSet64()
    kept: list[tuple[int, array[int], array[int]]] = []
    duplicates: list[tuple[int, int]] = []  # (line, hash) of the first few
    for part in partials:
        for problem in part.shown:
            line = problem.line + offset if problem.line is not None else None
            shown.append(Problem(kind=problem.kind, line=line, detail=problem.detail))
        counts.update(part.counts)
        tokens.update(part.tokens)
        messages.update(part.messages)
        assistant.update(part.assistant)
        examples += part.examples
        size += part.bytes
        add = seen.add
        for digest, line in zip(part.hashes, part.hash_lines, strict=True):
            if not add(digest):
                counts[Kind.DUPLICATE] += 1
                if len(duplicates) < MAX_SHOWN_PER_KIND:
                    duplicates.append((line + offset, digest))
        kept.append((offset, part.hashes, part.hash_lines))
        offset += part.lines
        sha256 = sha256 or (part.sha256 or "")
    del seen
    for line, digest in duplicates:
        shown.append(
            Problem(
                kind=Kind.DUPLICATE,
                line=line,
                detail=f"repeats line {_first_line(kept, digest)} exactly",
            )
        )
    del kept
    if the_plan.early is not None:
        shown.insert(0, the_plan.early)
        counts[the_plan.early.kind] += 1
    elif examples < MIN_EXAMPLES and not is_validation:
        shown.append(
            Problem(
                kind=Kind.TOO_FEW,
                line=None,
                detail=f"{examples} valid example(s); fine-tuning needs at least "
                f"{MIN_EXAMPLES} (50 to 100 usually help more)",
            )
        )
        counts[Kind.TOO_FEW] += 1
    shown = _cap_shown(shown)
    limit = the_plan.token_limit
    errors = sum(n for kind, n in counts.items() if kind.severity is Severity.ERROR)
    return DatasetReport(
        path=str(the_plan.path),
        format=the_plan.format.value,
        model=the_plan.model,
        examples=examples,
        lines=offset,
        bytes=size,
        sha256=sha256,
        problems=tuple(_display(shown, counts)),
        problem_count=errors,
        warning_count=sum(counts.values()) - errors,
        counts={kind.value: n for kind, n in counts.items() if n},
        shown=tuple(shown),
        tokens=Distribution.of(tokens),
        messages=Distribution.of(messages),
        assistant_tokens=Distribution.of(assistant),
        total_tokens=sum(t * n for t, n in tokens.items()),
        total_assistant_tokens=sum(t * n for t, n in assistant.items()),
        token_limit=limit,
        over_limit=sum(n for t, n in tokens.items() if t > limit),
        billed_tokens_per_epoch=sum(min(limit, t) * n for t, n in tokens.items()),
        exact_tokens=the_plan.exact_tokens,
    )


class HashSet64:
    """A set of 64-bit hashes in one array('Q') (open addressing): 16 bytes an example at
    most, where a Python set of ints takes about 75 (a million examples: 16 MB, not 75)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, value: int) -> bool:
        """Insert `value`; False if it was already there."""
        value = value or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        slot = value & mask
        while True:
            found = table[slot]
            if found == 0:
                table[slot] = value
                self._size += 1
                if self._size * 2 > mask:
                    self._grow()
                return True
            if found == value:
                return False
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._mask = 2 * len(old) - 1
        self._size = 0
        for value in old:
            if value:
                self.add(value)


def _first_line(kept: Sequence[tuple[int, array[int], array[int]]], digest: int) -> int:
    for offset, hashes, lines in kept:
        try:
            return lines[hashes.index(digest)] + offset
        except ValueError:
            continue
    return 0  # pragma: no cover - a duplicate always has a first occurrence


def _cap_shown(shown: list[Problem]) -> list[Problem]:
    """The first few of each kind, errors before warnings, each kind in line order."""
    per_kind: Counter[Kind] = Counter()
    kept: list[Problem] = []
    for problem in sorted(
        shown,
        key=lambda p: (p.kind.severity is Severity.WARNING, p.line is not None, p.line or 0),
    ):
        if per_kind[problem.kind] < MAX_SHOWN_PER_KIND:
            per_kind[problem.kind] += 1
            kept.append(problem)
    return kept


def _display(shown: Sequence[Problem], counts: Mapping[Kind, int]) -> Iterator[str]:
    listed: Counter[Kind] = Counter()
    order: list[Kind] = []
    for problem in shown:
        if problem.kind not in order:
            order.append(problem.kind)
    for kind in order:
        for problem in shown:
            if problem.kind is kind:
                listed[kind] += 1
                tag = "warning: " if kind.severity is Severity.WARNING else ""
                yield f"{tag}{problem} [{kind.value}]"
        rest = counts.get(kind, 0) - listed[kind]
        if rest > 0:
            yield f"… and {rest:,} more [{kind.value}]"


# --------------------------------------------------------------------------- one call


def validate_file(
    path: Path,
    tokenizer: Tokenizer,
    *,
    model: str,
    token_limit: int,
    format: Format | None = None,
    training_hashes: frozenset[int] | set[int] | None = None,
    progress: ProgressCallback | None = None,
) -> DatasetReport:
    """Validate a whole file in this thread, reading it once in bounded memory."""
    the_plan = plan(
        path, model=model, token_limit=token_limit, exact_tokens=tokenizer.exact, format=format
    )
    if the_plan.early is not None:
        return finish(the_plan, [_digest_only(path)], is_validation=training_hashes is not None)
    options = ScanOptions(
        format=the_plan.format,
        model=model,
        token_limit=token_limit,
        count=counter_for(tokenizer, model),
        training_hashes=training_hashes,
    )
    size = path.stat().st_size
    partial = scan_range(path, 0, size, options, digest=True, progress=progress)
    return finish(the_plan, [partial], is_validation=training_hashes is not None)


def example_hashes(path: Path) -> set[int]:
    """The hashes of every non-blank line, to find validation examples copied from training."""
    found: set[int] = set()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        for _, raw, _ in _lines(handle, 0, size, None, None):
            if isinstance(raw, bytes):
                raw = raw.removesuffix(b"\r")
                if raw and not raw.isspace():
                    found.add(line_hash(raw))
    return found


def line_hash(raw: bytes) -> int:
    """64 bits of BLAKE2b over a line's stripped bytes: stable across processes."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def counter_for(tokenizer: Tokenizer, model: str) -> Callable[[str], int]:
    """A one-argument counting function; a tokenizer may offer a faster one (`counter`)."""
    fast = getattr(tokenizer, "counter", None)
    if callable(fast):
        made = fast(model)
        if callable(made):
            return made  # type: ignore[no-any-return]
    return lambda text: tokenizer.count(text, model=model)


def _digest_only(path: Path) -> Partial:
    partial = Partial()
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            sha.update(chunk)
            partial.bytes += len(chunk)
    partial.sha256 = sha.hexdigest()
    return partial


def _kind(value: object) -> str:
    match value:
        case bool():
            return "true/false"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
        case None:
            return "null"
    return type(value).__name__  # pragma: no cover - json yields only the kinds above


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_error(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at column {error.colno}"
    return "not valid JSON"


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MB"
    return f"{n:,} bytes"


class EstimateTokenizer:
    """About four UTF-8 bytes per token: the labelled fallback when no tokenizer is given."""

    @property
    def exact(self) -> bool:
        return False

    def count(self, text: str, *, model: str) -> int:
        return math.ceil(len(text.encode("utf-8", errors="surrogatepass")) / 4)


def check_chat_jsonl(path: Path) -> DatasetReport:
    """The first version's entry point: chat format, estimated tokens, a 65,536-token limit."""
    return validate_file(
        path, EstimateTokenizer(), model="", token_limit=65_536, format=Format.CHAT
    )


def summary_lines(report: DatasetReport) -> tuple[str, ...]:
    """The statistics of a report as plain lines (chat replies and the command line)."""
    how = "exact" if report.exact_tokens else "estimate"
    lines = [
        f"Format: {report.format} · {report.examples:,} valid example(s) · "
        f"{report.lines:,} line(s) · {_size(report.bytes)}",
    ]
    if report.examples:
        lines += [
            f"Tokens per example ({how}): {report.tokens}",
            f"Messages per example: {report.messages}",
            f"Assistant tokens per example: {report.assistant_tokens}",
            f"Total tokens: {report.total_tokens:,} ({how}); assistant tokens: "
            f"{report.total_assistant_tokens:,}",
            f"Over the {report.token_limit:,}-token limit"
            f"{' of ' + report.model if report.model else ''}: {report.over_limit:,} "
            "example(s) (they are truncated in training)",
        ]
    return tuple(lines)
