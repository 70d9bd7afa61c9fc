"""The README documents what the bot does, and only that."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from handlers.requests import SPECS

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SPECS:
        assert f"`{name}`" in readme or f"`{name}` " in readme, name


CHECK_COMMAND = "python3.11 -m venv .venv && .venv/bin/pip install -e '.[dev]' && scripts/check"
CHECK_STEPS = (
    "ruff check .",
    "ruff format --check .",
    "mypy --strict",
    "lint-imports",
    "pytest -W error",
)


def test_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", readme, re.S)
    assert block
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("finetune-bot demo")
    assert lines[1] == CHECK_COMMAND


def test_ci_runs_the_readme_check_command_and_the_script_runs_every_check() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line.strip().startswith("python3.11 ")]
    assert commands == [CHECK_COMMAND]
    assert "awk" not in ci
    script = ROOT / "scripts" / "check"
    assert script.stat().st_mode & 0o111, "scripts/check is not executable"
    steps = [
        re.sub(r'^step "\$venv/bin/', "", line).replace('"', "").removesuffix(" $@")
        for line in script.read_text(encoding="utf-8").splitlines()
        if line.startswith("step ")
    ]
    assert tuple(steps) == CHECK_STEPS


def test_every_mypy_caller_checks_the_tests_too() -> None:
    """scripts/check and pre-commit name no paths: both check pyproject's [tool.mypy] files."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"bot", "handlers", "storage", "tests"} <= set(config["tool"]["mypy"]["files"])
    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert re.findall(r"entry: \S*mypy.*", hooks) == ["entry: .venv/bin/mypy --strict"]


def test_every_setting_is_documented() -> None:
    from bot.app.config import Settings, env_name

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert env_name(field) in readme, env_name(field)


def test_the_metrics_table_is_the_catalogue() -> None:
    from bot.infra.metrics import CATALOGUE, PREFIX

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"### Metrics\n(.*?)(?:\n#|\Z)", readme, re.S)
    assert section, "no Metrics section in the README"
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|([^|]*)\|", section.group(1), re.M)
    documented = {
        name: (kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows
    }
    assert documented == {f"{PREFIX}_{spec.name}": (spec.kind, spec.labels) for spec in CATALOGUE}
