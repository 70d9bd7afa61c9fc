"""Each provider family has its own price table in its folder; an operator's copy replaces the
deployment family's; a broken one is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.providers.prices import deployment_prices, family_prices
from bot.providers.registry import FAMILIES, family
from handlers.errors import ConfigError
from handlers.pricing import estimate
from handlers.profile import Capability


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_has_a_dated_table_of_its_own(name: str) -> None:
    found = family(name)
    table = family_prices(found)
    assert table.as_of
    assert table.source
    # A family that prices a job itself (Together's estimate-price) may bundle no rates.
    assert table.models or found.profile.can(Capability.PROVIDER_ESTIMATE)
    assert (Path(__file__).parents[2] / found.package.replace(".", "/") / "prices.json").is_file()


def test_the_openai_table_prices_its_models_and_its_tuned_names() -> None:
    table = family_prices(family("openai"))
    assert "openai.com" in table.source
    mini = table.lookup("gpt-4o-mini")
    assert mini is not None
    assert mini.name == "gpt-4o-mini-2024-07-18"
    assert mini.training_per_million == 3.0
    assert table.token_limit("ft:gpt-3.5-turbo-0125:acme::x1") == 16_385
    assert table.token_limit("some-future-model") == table.default_token_limit
    assert table.lookup("o4-mini") is not None
    tuned = table.chat_cost("ft:gpt-4o-mini-2024-07-18:acme::x", 1_000_000, 0)
    assert tuned == pytest.approx(0.3)


def test_the_sandbox_keeps_its_own_table() -> None:
    table = family_prices(family("sandbox"))
    assert "sandbox" in table.source
    assert table.lookup("gpt-4.1-mini") is not None


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
    table = family_prices(family("openai"), path)
    assert table.as_of == "2031-02-03"
    assert table.token_limit("x") == 1000
    assert table.default_token_limit == 65_536
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="FINETUNE_BOT_PRICES_FILE"):
        family_prices(family("openai"), path)
    with pytest.raises(ConfigError, match=r"missing\.json"):
        family_prices(family("openai"), tmp_path / "missing.json")


def test_the_deployments_table_prices_another_familys_models_by_that_familys_table() -> None:
    openai = family_prices(family("openai"))
    bedrock = family_prices(family("bedrock"))
    nova = next(iter(bedrock.models))
    assert openai.lookup(nova) is None
    table = deployment_prices(family("openai"))
    # The deployment's own models by its own table; Bedrock's by Bedrock's, with its date.
    assert table.lookup("gpt-4o-mini") == openai.lookup("gpt-4o-mini")
    assert table.lookup(nova) == bedrock.lookup(nova)
    assert table.table_for(nova).as_of == bedrock.as_of
    assert table.table_for("gpt-4o-mini") is table
    priced = estimate(table, model=nova, examples=100, billed_tokens_per_epoch=1_000, epochs=1)
    assert priced.as_of == bedrock.as_of
    rate = bedrock.models[nova].training_per_million
    assert rate is not None
    assert priced.cost == pytest.approx(1_000 * rate / 1_000_000)
    assert table.lookup("no-such-model") is None
