"""Core layer: default epochs, billed tokens and cost estimates from a dated price table.

The tables themselves are each provider family's (bot/providers/<family>/prices.json), read
by bot/providers/prices.py; the core only knows their shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from handlers.text import count, money

TARGET_EPOCHS: Final = 3
MIN_TARGET_EXAMPLES: Final = 100
MAX_TARGET_EXAMPLES: Final = 25_000
MIN_DEFAULT_EPOCHS: Final = 1
MAX_DEFAULT_EPOCHS: Final = 25


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPrice:
    name: str
    training_per_million: float | None
    """USD per 1M trained tokens; None when the model is not billed per token."""
    token_limit: int
    note: str = ""
    inference: tuple[float, float] | None = None
    """USD per 1M (input, output) tokens of the base model; None when unknown."""
    fine_tuned_inference: tuple[float, float] | None = None
    """The same for a model fine-tuned from it (billed higher)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTable:
    """Per-model training prices and per-example token limits, with their date and source."""

    as_of: str
    source: str
    currency: str
    default_token_limit: int
    models: Mapping[str, ModelPrice] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    fine_tuned_names: re.Pattern[str] | None = None
    """How the priced provider names a fine-tuned model; group `base` is the model it came
    from (the table's own `fine_tuned_names`, since prices belong to one provider)."""

    others: tuple[PriceTable, ...] = ()
    """The other families' tables, asked (in order) for a model this one does not price: a
    team's start, try or compare at another family is priced by that family's own table."""

    def _tuned_base(self, name: str) -> str | None:
        found = self.fine_tuned_names.match(name) if self.fine_tuned_names else None
        return found.group("base") if found is not None else None

    def _own(self, model: str) -> ModelPrice | None:
        name = model.strip().lower()
        name = self._tuned_base(name) or name
        name = self.aliases.get(name, name)
        return self.models.get(name)

    def table_for(self, model: str) -> PriceTable:
        """The table that prices `model`: this one, else the first other that does (this one
        when none does)."""
        if self._own(model) is not None:
            return self
        return next((t for t in self.others if t._own(model) is not None), self)

    def lookup(self, model: str) -> ModelPrice | None:
        """A base model by name or alias; a fine-tuned model by the base its name gives."""
        return self.table_for(model)._own(model)

    def chat_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Estimated USD of chat calls on `model`; None when the table has no inference price."""
        table = self.table_for(model)
        if table is not self:
            return table.chat_cost(model, prompt_tokens, completion_tokens)
        found = self.lookup(model)
        rates = None
        if found is not None:
            tuned = self._tuned_base(model.strip().lower()) is not None
            rates = found.fine_tuned_inference if tuned else found.inference
        if rates is None:
            return None
        return (prompt_tokens * rates[0] + completion_tokens * rates[1]) / 1_000_000

    def token_limit(self, model: str) -> int:
        found = self.lookup(model)
        return found.token_limit if found else self.default_token_limit


STALE_AFTER_DAYS: Final = 90
PRICES_SETTING: Final = "FINETUNE_BOT_PRICES_FILE"


def table_age_days(table: PriceTable, today: date) -> int | None:
    """Days since the table's `as_of` date; None when it has no readable date."""
    try:
        dated = datetime.strptime(table.as_of, "%Y-%m-%d").date()
    except ValueError:
        return None
    return (today - dated).days


def stale_warning(table: PriceTable, today: date) -> str | None:
    """What to say when the price table is older than 90 days (prices change): its date and
    how an operator overrides it; None for a current table or one with no prices at all."""
    age = table_age_days(table, today)
    if age is None or age <= STALE_AFTER_DAYS or not table.models:
        return None
    return (
        f"The price table is from {table.as_of}, {age} days ago (over {STALE_AFTER_DAYS}): "
        f"prices may have changed. An operator can point {PRICES_SETTING} at a current copy "
        "of the family's prices.json."
    )


def default_epochs(examples: int) -> int:
    """The epochs the service picks when none are given (OpenAI's data-preparation notebook):
    three, raised or lowered so examples × epochs stays within [100, 25,000], within [1, 25]."""
    if examples <= 0:
        return TARGET_EPOCHS
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    model: str
    epochs: int
    epochs_default: bool
    billed_tokens_per_epoch: int
    billed_tokens: int
    cost: float | None
    price: ModelPrice | None
    as_of: str
    source: str
    currency: str

    def lines(self, *, exact_tokens: bool = True) -> tuple[str, ...]:
        """What a report says about the cost, naming the price table's date."""
        how = "" if exact_tokens else " (estimate: the tokenizer's encodings did not load)"
        epochs = count(self.epochs, "epoch") + (" (the default)" if self.epochs_default else "")
        out = [
            f"Billed tokens: {self.billed_tokens:,} = {epochs} × "
            f"{self.billed_tokens_per_epoch:,}{how}"
        ]
        if self.cost is not None and self.price is not None:
            out.append(
                f"Estimated training cost on {self.model}: {money(self.cost)} "
                f"(at ${self.price.training_per_million:g} per 1M tokens, prices as of "
                f"{self.as_of})"
            )
        elif self.price is not None:
            out.append(f"No per-token price for {self.model}: {self.price.note or 'see source'}")
        else:
            out.append(
                f"No price known for {self.model} in the price table of {self.as_of}; "
                "an operator can add it (FINETUNE_BOT_PRICES_FILE)."
            )
        return tuple(out)


def estimate(
    table: PriceTable,
    *,
    model: str,
    examples: int,
    billed_tokens_per_epoch: int,
    epochs: int | None = None,
) -> Estimate:
    """Billed tokens = epochs × Σ min(limit, tokens); cost = billed tokens × price per token."""
    chosen = epochs if epochs is not None else default_epochs(examples)
    billed = chosen * billed_tokens_per_epoch
    table = table.table_for(model)  # another family's model is priced by its own table
    price = table.lookup(model)
    cost = (
        billed * price.training_per_million / 1_000_000
        if price is not None and price.training_per_million is not None
        else None
    )
    return Estimate(
        model=model,
        epochs=chosen,
        epochs_default=epochs is None,
        billed_tokens_per_epoch=billed_tokens_per_epoch,
        billed_tokens=billed,
        cost=cost,
        price=price,
        as_of=table.as_of,
        source=table.source,
        currency=table.currency,
    )


UNPRICED = PriceTable(as_of="—", source="none", currency="USD", default_token_limit=65_536)
"""No prices at all: what a service given no table estimates with (token counts, no cost)."""


def parse_price_table(document: Any) -> PriceTable:
    """A price table from its JSON document; a missing key or a bad value raises (KeyError,
    TypeError, ValueError, re.error) for the reader to report."""
    models: dict[str, ModelPrice] = {}
    aliases: dict[str, str] = {}
    for name, entry in dict(document["models"]).items():
        key = str(name).lower()
        price = entry.get("training_per_million")
        models[key] = ModelPrice(
            name=key,
            training_per_million=None if price is None else float(price),
            token_limit=int(entry["token_limit"]),
            note=str(entry.get("note", "")),
            inference=_rates(entry.get("inference")),
            fine_tuned_inference=_rates(entry.get("fine_tuned_inference")),
        )
        for alias in entry.get("aliases", ()):
            aliases[str(alias).lower()] = key
    return PriceTable(
        as_of=str(document["as_of"]),
        source=str(document["source"]),
        currency=str(document.get("currency", "USD")),
        default_token_limit=int(document.get("default_token_limit", 65_536)),
        models=models,
        aliases=aliases,
        fine_tuned_names=re.compile(tuned)
        if (tuned := document.get("fine_tuned_names"))
        else None,
    )


def _rates(value: Any) -> tuple[float, float] | None:
    """`[input, output]` USD per 1M tokens, or None."""
    if value is None:
        return None
    low, high = value
    return (float(low), float(high))
