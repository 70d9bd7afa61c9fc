"""Providers: each family's price table (its folder's prices.json), or an operator's copy.

Prices are a family's convention like its statuses: the OpenAI family's table names OpenAI's
models and how its fine-tuned names give their base (`fine_tuned_names`), the sandbox keeps
its own, and a new family brings one beside its profile. The core reads only their shape
(handlers/pricing.py).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

from bot.providers.registry import FAMILIES, Family
from handlers.errors import ConfigError
from handlers.pricing import PriceTable, parse_price_table

log = logging.getLogger(__name__)


def family_prices(family: Family, override: Path | None = None) -> PriceTable:
    """The family's bundled table, or the operator's copy at `override` (the deployment's
    FINETUNE_BOT_PRICES_FILE); a broken file is a ConfigError naming it."""
    where = str(override) if override is not None else f"{family.package}/{family.prices}"
    try:
        if override is None:
            text = resources.files(family.package).joinpath(family.prices).read_text("utf-8")
        else:
            text = override.read_text("utf-8")
        return parse_price_table(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError, re.error) as error:
        raise ConfigError(
            f"The price table {where} cannot be read ({error}); fix it or unset "
            "FINETUNE_BOT_PRICES_FILE."
        ) from error


def deployment_prices(family: Family, override: Path | None = None) -> PriceTable:
    """The deployment family's table (the operator's copy at `override`, if any), falling back
    to every other family's bundled table for the models it does not price: a start, `try` or
    `compare` at another family (a team's own account, a replay) is priced by that family's
    own table, never left unpriced or priced by another provider's rates."""
    own = family_prices(family, override)
    others: list[PriceTable] = []
    for other in FAMILIES.values():
        if other.name == family.name:
            continue
        try:
            others.append(family_prices(other))
        except ConfigError as error:
            # Only a fallback: its models stay unpriced (every bundled table is tested).
            log.warning("a family's price table cannot be read", extra={"error": str(error)})
    return replace(own, others=tuple(others))
