"""Core layer: what a dataset validation settles before its scan: format, limit, early problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handlers.datasets.formats import Format
from handlers.datasets.problems import Kind, Problem
from handlers.datasets.reader import detect_format, looks_like_csv, looks_like_text, sniff
from handlers.profile import DataLimits


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
    limits: DataLimits = field(default_factory=DataLimits)
    """The family's example counts and file size."""


def plan(
    path: Path,
    *,
    model: str,
    token_limit: int,
    exact_tokens: bool,
    format: Format | None = None,
    limits: DataLimits | None = None,
    format_named: bool = True,
) -> Plan:
    """Sniff the file and settle its format (named, or detected from its first valid lines).

    `format_named`: the format was asked for by the user (format=), not carried over from
    the training file to its validation file; a file of another format is told to drop it.
    """
    early = sniff(path)
    detected = detect_format(path) if early is None else None
    if early is None and detected is None:
        early = looks_like_csv(path) or looks_like_text(path)
    if early is None and format is not None and detected is not None and detected != format:
        fix = (
            f"drop format={format.value} (the format is found from the file)"
            if format_named
            else f"the training file is {format.value}; give a validation file of that format"
        )
        early = Problem(
            kind=Kind.WRONG_FORMAT, line=None, detail=f"this is a {detected.value} file; {fix}"
        )
    chosen = format or detected or Format.CHAT
    return Plan(
        path=path,
        format=chosen,
        model=model,
        token_limit=token_limit,
        exact_tokens=exact_tokens,
        early=early,
        limits=limits or DataLimits(),
    )
