"""The core names no provider: no family, account kind, job-id or model-name shape in its code."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from bot.providers.registry import FAMILIES

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"

SHAPES = ("ft:", "ftjob-")
"""The OpenAI family's tuned-model and job-id prefixes (its profile's job_id and tuned_model)."""

EXAMPLE_KEYWORDS = frozenset({"examples", "help", "help_text"})
"""Help text in the command catalogue may show an example id; no code may test for one."""


def _names() -> set[str]:
    names = {entry.profile.name for entry in FAMILIES.values()}
    names |= {a.name for entry in FAMILIES.values() for a in entry.profile.accounts}
    return names


def _forbidden() -> re.Pattern[str]:
    words = "|".join(sorted(re.escape(n) for n in _names()))
    shapes = "|".join(re.escape(s) for s in SHAPES)
    return re.compile(rf"{shapes}|\b(?:{words})\b", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    """Every string that stands alone as a statement: a docstring or an attribute's doc."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _examples(tree: ast.AST) -> set[int]:
    """Strings passed as help or examples (keyword arguments or a help_text default)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        values: list[ast.AST] = []
        if isinstance(node, ast.keyword) and node.arg in EXAMPLE_KEYWORDS:
            values.append(node.value)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            pairs = zip(args, node.args.defaults, strict=True)
            values += [d for a, d in pairs if a.arg in EXAMPLE_KEYWORDS]
        for value in values:
            found |= {id(n) for n in ast.walk(value) if isinstance(n, ast.Constant)}
    return found


def provider_names_in(source: str, *, allow_examples: bool) -> Iterator[tuple[int, str]]:
    """(line, text) of every string in the code that names a provider."""
    tree = ast.parse(source)
    skipped = _docstrings(tree) | (_examples(tree) if allow_examples else set())
    pattern = _forbidden()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
            and pattern.search(node.value)
        ):
            yield node.lineno, node.value


def test_the_scan_sees_what_it_must() -> None:
    # Each line is what this issue took out of the core; the scan must catch every one.
    caught = [
        'if model.startswith("ft:"):\n    pass',
        'if name.startswith("ftjob-"):\n    pass',
        'match provider:\n    case "azure":\n        pass',
        'LABELS = {"openai": "OpenAI"}',
        'KIND = "sandbox"',
        'x = f"{name} is compatible"',
    ]
    for source in caught:
        assert list(provider_names_in(source, allow_examples=True)), source
    spared = [
        '"""A docstring may say ft: and OpenAI."""',
        'spec = OptionSpec(help="The job id, e.g. ftjob-abc123")',
        'STATUS = "running"',
    ]
    for source in spared:
        assert not list(provider_names_in(source, allow_examples=True)), source


def test_no_module_of_the_core_names_a_provider() -> None:
    files = sorted(HANDLERS.rglob("*.py"))
    assert len(files) > 10
    found = [
        f"{path.relative_to(HANDLERS.parent)}:{line}: {text!r}"
        for path in files
        for line, text in provider_names_in(path.read_text("utf-8"), allow_examples=True)
    ]
    assert found == [], "the core names a provider; move it to the family's profile:\n" + (
        "\n".join(found)
    )
