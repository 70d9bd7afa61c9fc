"""Tests for handlers/pricing.py: default epochs, billed tokens, cost, a table's lookups."""

from __future__ import annotations

import pytest

from handlers.pricing import UNPRICED, default_epochs, estimate, parse_price_table


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [
        (1, 25),  # 100 // 1 = 100, capped at 25
        (5, 20),  # the notebook's toy example
        (10, 10),
        (33, 3),  # 99 < 100: 100 // 33 = 3
        (34, 3),
        (1000, 3),
        (8333, 3),  # 24,999 trained examples
        (8334, 2),  # 25,002 > 25,000: 25,000 // 8,334 = 2
        (25_000, 1),
        (1_000_000, 1),
    ],
)
def test_default_epochs_keep_trained_examples_in_bounds(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


TABLE = parse_price_table(
    {
        "as_of": "2030-01-02",
        "source": "a test's own table",
        "fine_tuned_names": "^tuned/(?P<base>[^/]+)/",
        "default_token_limit": 4096,
        "models": {
            "small-1": {"training_per_million": 5.0, "token_limit": 2048, "aliases": ["small"]},
            "hourly-1": {"training_per_million": None, "token_limit": 1024, "note": "per hour"},
        },
    }
)
"""A family of the test's own: the core reads any family's table by its shape alone."""


def test_a_table_finds_models_by_name_alias_and_tuned_name() -> None:
    small = TABLE.lookup("SMALL")
    assert small is not None
    assert small.name == "small-1"
    assert TABLE.token_limit("tuned/small-1/acme-7") == 2048
    assert TABLE.token_limit("some-future-model") == 4096
    assert UNPRICED.lookup("small-1") is None


def test_estimate_bills_epochs_times_capped_tokens() -> None:
    table = TABLE
    cost = estimate(table, model="small", examples=50, billed_tokens_per_epoch=200_000)
    assert cost.epochs == 3
    assert cost.epochs_default
    assert cost.billed_tokens == 600_000
    assert cost.cost == pytest.approx(600_000 * 5.0 / 1e6)
    text = "\n".join(cost.lines())
    assert "600,000 = 3 epochs (the default) × 200,000" in text
    assert f"prices as of {table.as_of}" in text
    fixed = estimate(table, model="small", examples=50, billed_tokens_per_epoch=10, epochs=7)
    assert (fixed.epochs, fixed.billed_tokens, fixed.epochs_default) == (7, 70, False)
    unknown = estimate(table, model="mystery", examples=50, billed_tokens_per_epoch=10)
    assert unknown.cost is None
    assert "No price known for mystery" in "\n".join(unknown.lines())
    assert "estimate" in unknown.lines(exact_tokens=False)[0]
    rft = estimate(table, model="hourly-1", examples=50, billed_tokens_per_epoch=10)
    assert rft.cost is None
    assert "per hour" in "\n".join(rft.lines())
