"""Tests for the formats handlers/text.py took over from the service, cards, compare and the
option engine: each reads as it did at its call sites."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import text


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (5 << 20, "5.0 MB"),
        (3 << 30, "3.0 GB"),
    ],
)
def test_size_short(n: int, shown: str) -> None:
    assert text.size_short(n) == shown


def test_timestamp_to_the_minute_or_missing() -> None:
    assert text.timestamp(datetime(2026, 12, 1, 23, 4, 59, tzinfo=UTC)) == "2026-12-01 23:04 UTC"
    assert text.timestamp(None) == "—"


@pytest.mark.parametrize(
    ("value", "digits", "shown"), [(None, 4, "—"), (0.5, 4, "0.5000"), (1.23456, 2, "1.23")]
)
def test_decimal(value: float | None, digits: int, shown: str) -> None:
    assert text.decimal(value, digits) == shown


@pytest.mark.parametrize(("value", "shown"), [(1, "1"), (50.0, "50"), (0.5, "0.5"), (0, "0")])
def test_number_shows_a_bound_as_typed(value: float, shown: str) -> None:
    assert text.number(value) == shown


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_clip_line_is_one_clipped_line(value: str, limit: int) -> None:
    shown = text.clip_line(value, limit)
    assert len(shown) <= limit
    assert "\n" not in shown
    assert shown == text.clip(" ".join(value.split()), limit)
