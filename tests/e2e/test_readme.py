"""The README documents what the bot does, and only that."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.requests import SPECS

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SPECS:
        assert f"`{name}`" in readme or f"`{name}` " in readme, name


def test_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", readme, re.S)
    assert block
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("finetune-bot demo")
    for tool in (
        "ruff check",
        "ruff format --check",
        "mypy --strict bot handlers storage",
        "lint-imports",
        "pytest -W error",
    ):
        assert tool in lines[1]


def test_every_setting_is_documented() -> None:
    from bot.config import Settings, env_name

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert env_name(field) in readme, env_name(field)


def test_the_metrics_table_is_the_catalogue() -> None:
    from bot.metrics import CATALOGUE, PREFIX

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"### Metrics\n(.*?)(?:\n#|\Z)", readme, re.S)
    assert section, "no Metrics section in the README"
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|([^|]*)\|", section.group(1), re.M)
    documented = {
        name: (kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows
    }
    assert documented == {f"{PREFIX}_{spec.name}": (spec.kind, spec.labels) for spec in CATALOGUE}
