"""Static checks of the Dockerfile and .dockerignore (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
LOCK = REPO / "requirements.lock"


@dataclass(frozen=True, slots=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuations joined and comments dropped, by stage."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "dangling line continuation"
    instructions: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword, args.strip()))
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


def only(instructions: list[Instruction], keyword: str, stage: int | None = None) -> list[str]:
    return [
        i.args
        for i in instructions
        if i.keyword == keyword and (stage is None or i.stage == stage)
    ]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list)
    assert all(isinstance(part, str) for part in value)
    return value


def test_multi_stage_on_python_311_slim(instructions: list[Instruction]) -> None:
    froms = only(instructions, "FROM")
    assert len(froms) >= 2
    assert all(re.fullmatch(r"python:3\.11-slim(\s+AS\s+\w+)?", f, re.I) for f in froms)
    assert re.search(r"\bAS\s+builder\b", froms[0], re.I)
    final = instructions[-1].stage
    copies = " ".join(only(instructions, "COPY", final))
    assert "--from=builder" in copies


def test_builder_installs_the_locked_dependencies_and_the_project_with_the_postgres_extra(
    instructions: list[Instruction],
) -> None:
    runs = " ".join(only(instructions, "RUN", 0))
    assert re.search(r"pip wheel .*--require-hashes -r requirements\.lock\b", runs)
    assert re.search(r"pip wheel .*--no-deps \.(\s|$)", runs)  # the project, nothing resolved anew
    assert "[postgres]" in runs
    assert "--no-index" in runs  # the runtime install can't pick a same-named PyPI package
    copied = " ".join(only(instructions, "COPY", 0))
    assert "requirements.lock" in copied


def locked() -> dict[str, tuple[Version, int]]:
    """requirements.lock's pins: each name's version and how many hashes it carries."""
    pins: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", " ")) or not line.strip():
            hashes = line.count("--hash=sha256:")
            if hashes:
                version, count = pins[name]
                pins[name] = (version, count + hashes)
            continue
        pin = line.split(";")[0].removesuffix("\\").strip()
        raw_name, _, pinned = pin.partition("==")
        assert pinned, f"not an exact pin: {line}"
        name = canonicalize_name(raw_name)
        assert name not in pins, f"pinned twice: {name}"
        pins[name] = (Version(pinned), 0)
    return pins


def test_the_lock_pins_every_dependency_within_pyproject_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = locked()
    assert pins
    assert all(count > 0 for _, count in pins.values()), "a pin without a hash"
    assert canonicalize_name(project["name"]) not in pins  # the project is built, not locked
    for spec in [*project["dependencies"], *project["optional-dependencies"]["postgres"]]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it (CONTRIBUTING)"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock has {name}=={version}, pyproject wants {requirement.specifier}"
        )


def test_copied_sources_exist(instructions: list[Instruction]) -> None:
    for args in only(instructions, "COPY", 0):
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            assert (REPO / source).exists(), source
    wheel_packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"][
        "build"
    ]["targets"]["wheel"]["packages"]
    copied = " ".join(only(instructions, "COPY", 0))
    for package in wheel_packages:
        assert re.search(rf"\b{package}\b", copied), package


def test_runs_as_non_root_uid_10001(instructions: list[Instruction]) -> None:
    final = instructions[-1].stage
    users = only(instructions, "USER", final)
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user in {"10001", "finetune"}
    assert user not in {"0", "root"}
    runs = " ".join(only(instructions, "RUN", final))
    assert re.search(r"useradd\b.*--uid 10001\b.*\bfinetune\b", runs)


def test_data_volume_and_workdir(instructions: list[Instruction]) -> None:
    final = instructions[-1].stage
    assert only(instructions, "WORKDIR", final)[-1] == "/data"
    volumes = only(instructions, "VOLUME", final)
    assert any("/data" in v for v in volumes)
    ordered = [i for i in instructions if i.stage == final]
    volume_at = next(n for n, i in enumerate(ordered) if i.keyword == "VOLUME")
    chown_at = next(n for n, i in enumerate(ordered) if i.keyword == "RUN" and "chown" in i.args)
    # changes to a path after VOLUME declares it are discarded at build time
    assert chown_at < volume_at
    envs = " ".join(only(instructions, "ENV", final))
    assert "sqlite+aiosqlite:////data/" in envs


def test_port_env_and_expose(instructions: list[Instruction]) -> None:
    final = instructions[-1].stage
    envs = " ".join(only(instructions, "ENV", final))
    assert re.search(r"\bFINETUNE_BOT_HTTP_PORT=8080\b", envs)
    assert "8080" in only(instructions, "EXPOSE", final)[-1].split()


def test_healthcheck_probes_healthz_with_python(instructions: list[Instruction]) -> None:
    checks = only(instructions, "HEALTHCHECK")
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD ")
    assert "--interval" in options
    assert "--timeout" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    assert "127.0.0.1" in code
    assert "/healthz" in code
    assert "8080" in code
    compile(code, "HEALTHCHECK", "exec")
    assert "curl" not in checks[0]
    assert "wget" not in checks[0]


def test_entrypoint_is_the_console_script(instructions: list[Instruction]) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert exec_form(only(instructions, "ENTRYPOINT")[-1]) == ["finetune-bot"]
    assert "finetune-bot" in scripts
    assert exec_form(only(instructions, "CMD")[-1]) == ["run"]


def test_dockerignore_keeps_junk_and_secrets_out() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".env"):
        assert required in patterns, required
    assert {"*.db", "**/*.db"} & patterns
    assert {"__pycache__", "**/__pycache__"} & patterns
    # the sources the image is built from must not be ignored
    for needed in (
        "bot",
        "handlers",
        "storage",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "requirements.lock",
    ):
        assert needed not in patterns
