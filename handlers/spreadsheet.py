"""Core layer: CSV cells that a spreadsheet shows as text, never runs as a formula."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_bytes(text: str) -> bytes:
    """A CSV document as UTF-8 with a byte-order mark: Excel opens such a file as UTF-8;
    without the mark it guesses the locale's code page and mangles "é", "→" and emoji."""
    return text.encode("utf-8-sig")


def csv_cell(text: str) -> str:
    """A text cell starting like a formula gets a `'` in front (OWASP's rule for CSV
    injection), so `=HYPERLINK(…)` in a prompt, an answer or an argument stays words."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text
