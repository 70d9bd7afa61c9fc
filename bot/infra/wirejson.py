"""Infrastructure: JSON from the network parsed under a nesting cap, never a RecursionError."""

from __future__ import annotations

import json
import re

MAX_DEPTH = 64
"""Deeper than any Slack or OpenAI payload; json.loads recurses once per level."""

# A string token (so brackets inside strings are skipped) or one bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class BadJson(ValueError):
    """The text is not UTF-8, not JSON, or nested deeper than the cap."""


def nesting_depth(text: str, *, stop_after: int = MAX_DEPTH) -> int:
    """The deepest bracket nesting of `text`, counted without recursion; stops early once it
    passes `stop_after` (so a hostile document costs one linear scan at most)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        elif token in "]}":
            depth -= 1
    return deepest


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """json.loads for untrusted input: BadJson for anything that is not UTF-8 JSON within
    `max_depth` levels."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadJson("the body is not UTF-8") from None
    if nesting_depth(data, stop_after=max_depth) > max_depth:
        raise BadJson(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except ValueError as error:
        raise BadJson(f"not JSON ({error.__class__.__name__})") from None
