"""tests/handlers runs without a database, a provider SDK or a chat SDK: importing every one of
its modules (as pytest does to collect them) loads none of them, in a fresh interpreter.

Of bot/ it still loads the sandbox provider and the core's wiring (tests/world.py builds the core
with build_core and drives the sandbox); BOT_STILL_LOADED lists exactly those modules, so a new
bot/ import in the core tests fails here, and the list only shrinks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_TESTS = ROOT / "tests" / "handlers"

FORBIDDEN = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "aiosqlite",
        "asyncpg",
        "openai",
        "slack_sdk",
        "slack_bolt",
        "discord",
    }
)

BOT_STILL_LOADED = frozenset(
    {
        "bot",
        "bot.app",
        "bot.app.wiring",
        "bot.infra",
        "bot.infra.dispatcher",
        "bot.providers",
        "bot.providers.prices",
        "bot.providers.registry",
        "bot.providers.sandbox",
        "bot.providers.sandbox.chat",
        "bot.providers.sandbox.engine",
        "bot.providers.sandbox.files",
        "bot.providers.sandbox.limits",
        "bot.providers.sandbox.profile",
        "bot.providers.sandbox.provider",
        "bot.providers.sandbox.records",
        "bot.providers.sandbox.shape",
        "bot.providers.sandbox.state",
        "bot.providers.sandbox.timeline",
        "bot.providers.sandbox.timing",
        # The registry names the sandbox's Together-shaped companion (its profile only).
        "bot.providers.sandbox_together",
        "bot.providers.sandbox_together.profile",
        # Bedrock's profile names its per-line converter (profile.converts, run by the
        # validator) and the model table it reads: stdlib and the core only, no SDK.
        "bot.providers.bedrock.convert",
        "bot.providers.bedrock.models",
    }
)


def _family_profiles() -> frozenset[str]:
    """The registry imports every family's profile (light by rule: no SDK), so the core tests
    see each family's package and profile module, and the pure converter check a profile
    names (`converts`); a new family adds its own here by itself."""
    from bot.providers.registry import FAMILIES

    return frozenset(
        name
        for family in FAMILIES.values()
        for name in (
            f"bot.providers.{family.name}",
            f"bot.providers.{family.name}.profile",
            *((family.profile.converts.__module__,) if family.profile.converts else ()),
        )
    )


PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def loaded_by(modules: Iterable[str]) -> set[str]:
    """Every module a fresh interpreter holds after importing `modules` from the repo root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return set(json.loads(done.stdout))


def _core_test_modules() -> list[str]:
    return [_module(p) for p in sorted(CORE_TESTS.glob("*.py"))]


def _roots(names: set[str], wanted: Iterable[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in set(wanted)}


def test_the_probe_sees_a_database_import() -> None:
    # tests/dbutil opens SQL stores: the probe must report SQLAlchemy for it.
    assert "sqlalchemy" in _roots(loaded_by(["tests.dbutil"]), FORBIDDEN)


def test_core_tests_load_no_database_and_no_sdk_and_no_new_bot_module() -> None:
    modules = _core_test_modules()
    assert "tests.handlers.conftest" in modules
    loaded = loaded_by(modules)
    assert _roots(loaded, FORBIDDEN) == set()
    allowed = BOT_STILL_LOADED | _family_profiles()
    assert _roots(loaded, ["bot"]) <= allowed, _roots(loaded, ["bot"]) - allowed
