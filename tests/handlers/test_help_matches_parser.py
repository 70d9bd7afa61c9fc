"""Help cannot drift from parsing: every example help shows parses, and every range a usage
line shows is the one the parser applies (compare's n included)."""

from __future__ import annotations

import re

import pytest

from handlers.commands.options import OptionKind
from handlers.errors import UsageError
from handlers.features.help import help_reply
from handlers.parse import parse
from handlers.replies import plain
from handlers.requests import SPECS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_example_in_help_parses(name: str) -> None:
    for example in SPECS[name].examples:
        parse(example)  # raises UsageError if help shows what the parser refuses


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_range_help_shows_is_the_parsers(name: str) -> None:
    spec = SPECS[name]
    usage = next(
        plain(line) for line in help_reply(name).lines if plain(line).startswith("Usage: ")
    )
    for option in spec.options:
        if option.kind is not OptionKind.INT or option.positional:
            continue
        shown = re.search(rf"\b{option.name}=(\d+)-(\d+)\b", usage)
        if shown is None:
            continue
        high = int(shown[2])
        base = next(e for e in spec.examples if f"/finetune {name}" in e)
        base = re.sub(rf"\s{option.name}=\S+", "", base)
        with pytest.raises(UsageError, match=f"at most {high:,}|at most {high}"):
            parse(f"{base} {option.name}={high + 1}")


def test_dataset_shows_model_as_required_and_from_logs_requires_it() -> None:
    usage = plain(help_reply("dataset").lines[2])
    assert "from-logs model=MODEL [meta=" in usage
    with pytest.raises(UsageError, match="Missing model for dataset"):
        parse("dataset from-logs")
    parse("dataset ds-1a2b3c4d")  # uploading a draft needs no model


def test_compare_shows_the_cap_it_applies() -> None:
    assert "[n=1-500]" in plain(help_reply("compare").lines[2])
    with pytest.raises(UsageError, match="n=501 must be at most 500"):
        parse("compare ft:gpt-4.1-mini:acme::x n=501")
