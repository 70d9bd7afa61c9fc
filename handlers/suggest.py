"""Core layer: "did you mean": the closest known name to a mistyped command or option."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, names: Iterable[str]) -> str | None:
    """The known name nearest to `word` (difflib's ratio, at least 0.6), or None."""
    found = difflib.get_close_matches(word.lower(), list(dict.fromkeys(names)), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """` Did you mean 'start'?` to append to a refusal, or "" when nothing is close."""
    found = closest(word, names)
    return f" Did you mean '{found}'?" if found else ""
