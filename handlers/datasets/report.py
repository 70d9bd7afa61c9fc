"""Core layer: a validation's result: range partials merged into a report, with its statistics."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from handlers.datasets.hashes import HashSet64
from handlers.datasets.plan import Plan
from handlers.datasets.problems import MAX_SHOWN_PER_KIND, Kind, Problem, Severity
from handlers.profile import DataLimits
from handlers.text import count, size

MIN_EXAMPLES: Final = DataLimits().min_examples
"""The API refuses a training file with fewer examples (a family's limits may say more)."""


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
    examples = byte_total = offset = 0
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
        byte_total += part.bytes
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
    else:
        for problem in _limit_problems(the_plan.limits, examples, byte_total, is_validation):
            shown.append(problem)
            counts[problem.kind] += 1
    shown = _cap_shown(shown)
    limit = the_plan.token_limit
    errors = sum(n for kind, n in counts.items() if kind.severity is Severity.ERROR)
    return DatasetReport(
        path=str(the_plan.path),
        format=the_plan.format.value,
        model=the_plan.model,
        examples=examples,
        lines=offset,
        bytes=byte_total,
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


def _limit_problems(
    limits: DataLimits, examples: int, byte_total: int, is_validation: bool
) -> Iterator[Problem]:
    """The file-level limits of the family: example counts and size."""
    least = limits.min_examples
    if examples < least and not is_validation:
        yield Problem(
            kind=Kind.TOO_FEW,
            line=None,
            detail=f"{count(examples, 'valid example')}; fine-tuning needs at least "
            f"{least} (50 to 100 usually help more)",
        )
    most = limits.max_validation_examples if is_validation else limits.max_examples
    if most is not None and examples > most:
        which = "a validation file" if is_validation else "a training file"
        yield Problem(
            kind=Kind.TOO_MANY,
            line=None,
            detail=f"{examples:,} examples; {which} here takes at most {most:,}: "
            "split it or sample it down",
        )
    largest = limits.file_bytes
    if largest is not None and byte_total > largest:
        yield Problem(
            kind=Kind.TOO_LARGE,
            line=None,
            detail=f"{size(byte_total)}; a file here takes at most {size(largest)}: "
            "split it into smaller files",
        )


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


def summary_lines(report: DatasetReport) -> tuple[str, ...]:
    """The statistics of a report as plain lines (chat replies and the command line)."""
    how = "exact" if report.exact_tokens else "estimate"
    lines = [
        f"Format: {report.format} · {count(report.examples, 'valid example')} · "
        f"{count(report.lines, 'line')} · {size(report.bytes)}",
    ]
    if report.examples:
        lines += [
            f"Tokens per example ({how}): {report.tokens}",
            f"Messages per example: {report.messages}",
            f"Assistant tokens per example: {report.assistant_tokens}",
            f"Total tokens: {report.total_tokens:,} ({how}); assistant tokens: "
            f"{report.total_assistant_tokens:,}",
            f"Over the {report.token_limit:,}-token limit"
            f"{' of ' + report.model if report.model else ''}: "
            f"{count(report.over_limit, 'example')} (they are truncated in training)",
        ]
    return tuple(lines)
