"""Tests for handlers/text.py: the one copy of sizes, money, durations and clipped text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import text


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 bytes"),
        (1_234, "1,234 bytes"),
        ((1 << 20) - 1, "1,048,575 bytes"),
        (1 << 20, "1 MB"),
        (16 << 20, "16 MB"),
        (64 << 20, "64 MB"),
        ((1 << 30) - 1, "1024 MB"),
        (1 << 30, "1.0 GB"),
        (7 << 29, "3.5 GB"),
    ],
)
def test_size(n: int, shown: str) -> None:
    assert text.size(n) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0.0, "$0.00"), (0.5, "$0.50"), (1_234.5, "$1,234.50"), (-3.0, "$-3.00")],
)
def test_money_in_cents(value: float | None, shown: str) -> None:
    assert text.money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "no price known"),
        (0.001234, "$0.0012"),
        (0.9999, "$0.9999"),
        (1.0, "$1.00"),
        (12.3456, "$12.35"),
    ],
)
def test_money_with_more_digits_below_a_dollar(value: float | None, shown: str) -> None:
    assert text.money(value, missing="no price known", digits_below_a_dollar=4) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "0s"), (0, "0s"), (12, "12s"), (187, "3m 07s"), (3_900, "1h 05m"), (90_000, "25h 00m")],
)
def test_duration(seconds: int, shown: str) -> None:
    assert text.duration(timedelta(seconds=seconds)) == shown


def test_seconds() -> None:
    assert text.seconds(None) == "—"
    assert text.seconds(1.254) == "1.25 s"


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_clip_keeps_short_text_and_marks_every_cut(value: str, limit: int) -> None:
    clipped = text.clip(value, limit)
    assert len(clipped) <= limit
    if len(value) <= limit:
        assert clipped == value
    else:
        assert clipped == value[: limit - 1] + "…"


@given(st.text())
def test_one_line_leaves_one_space_between_the_words(value: str) -> None:
    flat = text.one_line(value)
    assert flat.split(" ") == (value.split() or [""])
