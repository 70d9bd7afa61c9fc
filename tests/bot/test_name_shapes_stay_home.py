"""Only the OpenAI family (and the sandbox that simulates it) knows how OpenAI's names look:
no code elsewhere in bot/ tests for `ft:` or `ftjob-`; it asks the profiles."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.infra.tokenizer import base_model
from bot.providers.registry import tuned_base
from tests.bot.test_provider_neutral import SHAPES, _docstrings

BOT = Path(__file__).resolve().parents[2] / "bot"
HOMES = (BOT / "providers" / "openai", BOT / "providers" / "sandbox")


def _shapes_in(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and any(shape in node.value for shape in SHAPES)
    ]


def test_the_scan_sees_a_prefix_test() -> None:
    assert _shapes_in('if model.startswith("ft:"):\n    pass')
    assert not _shapes_in('"""A docstring may say ft:<base>."""')


def test_no_module_outside_the_family_tests_its_name_shapes() -> None:
    files = [p for p in sorted(BOT.rglob("*.py")) if not any(p.is_relative_to(h) for h in HOMES)]
    assert len(files) > 20
    found = [
        f"{path.relative_to(BOT.parent)}:{line}: {text!r}"
        for path in files
        for line, text in _shapes_in(path.read_text("utf-8"))
    ]
    assert found == [], "ask the family's profile instead:\n" + "\n".join(found)


def test_the_tokenizer_reads_a_tuned_name_through_the_profiles() -> None:
    assert tuned_base("ft:gpt-4o-mini-2024-07-18:acme:support:9xYz") == "gpt-4o-mini-2024-07-18"
    assert tuned_base("gpt-4o-mini") is None
    assert base_model(" FT:gpt-3.5-turbo-0125:acme::abc ") == "gpt-3.5-turbo-0125"
    assert base_model("gpt-4o") == "gpt-4o"
