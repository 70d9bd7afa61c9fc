"""Command line: operator commands for team keys and audit (rotate-keys, audit export)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO

from bot.app.config import Settings
from bot.providers.registry import family
from handlers.errors import ConfigError
from handlers.spreadsheet import csv_cell
from storage import crypto
from storage.engine import create_engine, migrate
from storage.store import SqlStore

AUDIT_COLUMNS = ("at", "team", "user", "command", "arguments", "result")


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored team key with the newest FINETUNE_BOT_ENCRYPTION_KEYS key",
    )
    commands.add_parser("keygen", help="print a new key for FINETUNE_BOT_ENCRYPTION_KEYS")
    audit = commands.add_parser("audit", help="the audit log of mutating actions")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write one team's audit log as CSV")
    export.add_argument("--team", required=True, help="the team id, e.g. slack:T0123")
    export.add_argument(
        "--out", type=Path, default=None, help="the CSV file to write (default: standard output)"
    )


def keygen() -> int:
    print(crypto.generate_key())
    return 0


async def rotate_keys(settings: Settings) -> int:
    """Decrypt with any configured key, encrypt with the first; safe to run again."""
    secret = settings.encryption_keys
    if crypto.use_keys(crypto.parse_keys(secret.get_secret_value() if secret else None)) is None:
        raise ConfigError(
            "FINETUNE_BOT_ENCRYPTION_KEYS is not set: export the new key first, then the old "
            "ones, comma-separated (new,old), and run rotate-keys again."
        )
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine, deployment_family=family(settings.provider).name)
        rotated = await SqlStore(engine).rotate_secrets()
    finally:
        await engine.dispose()
    print(f"re-encrypted {rotated} team key(s) with the newest key; older keys may now be removed")
    return 0


async def export_audit(settings: Settings, team: str, out: Path | None) -> int:
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine, deployment_family=family(settings.provider).name)
        store = SqlStore(engine)
        if out is None:
            rows = await _write(store, team, sys.stdout)
        else:
            with out.open("w", newline="", encoding="utf-8") as handle:
                rows = await _write(store, team, handle)
    finally:
        await engine.dispose()
    print(f"{rows} audit entries of {team}", file=sys.stderr)
    return 0


async def _write(store: SqlStore, team: str, handle: TextIO) -> int:
    writer = csv.writer(handle)
    writer.writerow(AUDIT_COLUMNS)
    rows = 0
    async for entry in store.iter_audit(team):
        writer.writerow(
            (
                entry.at.isoformat(),
                entry.team_id,
                csv_cell(entry.user_id),
                csv_cell(entry.command),
                # What a member typed: opened in a spreadsheet, it must stay text.
                csv_cell(entry.arguments),
                csv_cell(entry.result),
            )
        )
        rows += 1
    return rows
