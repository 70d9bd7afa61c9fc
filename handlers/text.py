"""Core layer: sizes, money, durations, times, numbers and clipped text, one copy each."""

from __future__ import annotations

from datetime import datetime, timedelta

MISSING = "—"
"""What a value nobody knows reads as in a field or a table cell."""


def count(n: int, word: str, many: str = "") -> str:
    """`1 error`, `3 errors`, `1,024 examples`: a number and its noun, never "error(s)".
    `many` is the plural when it is not the word plus "s" ("entries")."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def size(n: int) -> str:
    """Bytes for a person: "1,234 bytes" below a megabyte, whole megabytes, then GB."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MB"
    return f"{n:,} bytes"


def size_short(n: int) -> str:
    """Bytes in a table cell or a field: "512 B", "1.5 KB", "3.2 MB", "1.0 GB"."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def money(value: float | None, *, missing: str = MISSING, digits_below_a_dollar: int = 2) -> str:
    """Dollars with thousands separators and cents; more digits under $1 where they matter
    (the price of one test run), and `missing` when the amount is unknown."""
    if value is None:
        return missing
    digits = digits_below_a_dollar if value < 1 else 2
    return f"${value:,.{digits}f}"


def duration(delta: timedelta) -> str:
    """Whole seconds as "1h 05m", "3m 07s" or "12s"; a negative span reads as "0s"."""
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def seconds(value: float | None) -> str:
    """A short measured time such as a latency: "1.25 s"."""
    return MISSING if value is None else f"{value:.2f} s"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with "…" so the cut shows."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_line(text: str, limit: int) -> str:
    """A text shown inside one line (a question, an answer, a typed value): flattened, clipped."""
    return clip(one_line(text), limit)


def one_line(text: str) -> str:
    """Every run of whitespace (newlines included) as one space, ends trimmed."""
    return " ".join(text.split())


def timestamp(moment: datetime | None) -> str:
    """A moment to the minute, in UTC as every team member reads it: "2026-12-01 23:04 UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else MISSING


def decimal(value: float | None, digits: int = 4) -> str:
    """A measured value (a loss, an accuracy) with a fixed number of decimals."""
    return MISSING if value is None else f"{value:.{digits}f}"


def number(value: float) -> str:
    """A bound as typed: "1" for a whole number, "0.5" otherwise."""
    return str(int(value)) if float(value).is_integer() else str(value)
