"""Core layer: what a dataset validation settles before its scan: format, limit, early problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handlers.datasets.formats import Format
from handlers.datasets.problems import Problem
from handlers.datasets.reader import detect_format, sniff
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
        limits=limits or DataLimits(),
    )
