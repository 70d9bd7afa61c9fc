"""Tests for handlers/pricing.py: default epochs, billed tokens, cost, the price table file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.errors import ConfigError
from handlers.pricing import default_epochs, estimate, load_price_table


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


def test_packaged_table_has_date_source_prices_and_limits() -> None:
    table = load_price_table()
    assert table.as_of
    assert "openai.com" in table.source
    mini = table.lookup("gpt-4o-mini")
    assert mini is not None
    assert mini.name == "gpt-4o-mini-2024-07-18"
    assert mini.training_per_million == 3.0
    assert table.token_limit("ft:gpt-3.5-turbo-0125:acme::x1") == 16_385
    assert table.token_limit("some-future-model") == table.default_token_limit
    assert table.lookup("o4-mini") is not None


def test_estimate_bills_epochs_times_capped_tokens() -> None:
    table = load_price_table()
    cost = estimate(table, model="gpt-4.1-mini", examples=50, billed_tokens_per_epoch=200_000)
    assert cost.epochs == 3
    assert cost.epochs_default
    assert cost.billed_tokens == 600_000
    assert cost.cost == pytest.approx(600_000 * 5.0 / 1e6)
    text = "\n".join(cost.lines())
    assert "600,000 = 3 epoch(s) (the default) × 200,000" in text
    assert f"prices as of {table.as_of}" in text
    fixed = estimate(
        table, model="gpt-4.1-mini", examples=50, billed_tokens_per_epoch=10, epochs=7
    )
    assert (fixed.epochs, fixed.billed_tokens, fixed.epochs_default) == (7, 70, False)
    unknown = estimate(table, model="mystery", examples=50, billed_tokens_per_epoch=10)
    assert unknown.cost is None
    assert "No price known for mystery" in "\n".join(unknown.lines())
    assert "estimate" in unknown.lines(exact_tokens=False)[0]
    rft = estimate(table, model="o4-mini", examples=50, billed_tokens_per_epoch=10)
    assert rft.cost is None
    assert "per hour" in "\n".join(rft.lines())


def test_operators_override_the_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "as_of": "2031-02-03",
                "source": "our contract",
                "models": {
                    "gpt-x": {"training_per_million": 2, "token_limit": 1000, "aliases": ["x"]}
                },
            }
        ),
        encoding="utf-8",
    )
    table = load_price_table(path)
    assert table.as_of == "2031-02-03"
    assert table.token_limit("x") == 1000
    assert table.default_token_limit == 65_536
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="FINETUNE_BOT_PRICES_FILE"):
        load_price_table(path)
    with pytest.raises(ConfigError):
        load_price_table(tmp_path / "missing.json")
