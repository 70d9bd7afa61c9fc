"""Composition root: the `finetune-bot` command line (run, console, demo, migrate)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import Settings, load_settings
from handlers.errors import ConfigError

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune-bot",
        description="A Slack and Discord bot that runs fine-tuning operations for teams.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot: web server, configured chat adapters, watcher")
    console = commands.add_parser("console", help="a terminal chat with the bot")
    console.add_argument(
        "--out",
        type=Path,
        default=Path("console-output"),
        help="where charts are written (default ./console-output)",
    )
    demo = commands.add_parser(
        "demo", help="an unattended job life on SQLite and the sandbox provider (simulated)"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        help="where the demo database and chart go (default ./demo-output)",
    )
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser(
        "resync", help="watch again the bot's jobs at the provider that the database lacks"
    )
    manifest = commands.add_parser("manifest", help="print a chat platform's app manifest")
    manifest.add_argument("platform", choices=["slack"], help="which platform")
    manifest.add_argument(
        "--http",
        metavar="URL",
        default=None,
        help="the bot's public base URL for HTTP mode (default: Socket Mode)",
    )
    from bot.admin_cli import add_arguments

    add_arguments(commands)
    _add_validate(commands)
    return parser


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.validate_cli import add_arguments

    add_arguments(
        commands.add_parser(
            "validate",
            help="check a JSONL training file and estimate its cost; nothing is uploaded",
        )
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    from bot import redact

    redact.install()
    if level != "DEBUG":
        # Alembic announces every plugin and migration step at INFO: noise in an operator's log.
        logging.getLogger("alembic").setLevel(logging.WARNING)


async def _migrate(settings: Settings) -> int:
    from bot.startup import database_problem
    from storage.engine import create_engine, migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
    except Exception as error:
        problem = database_problem(settings.database_url, error)
        if problem is None:
            raise
        raise ConfigError(problem) from None
    finally:
        await engine.dispose()
    print("database is up to date")
    return 0


async def _run(settings: Settings) -> int:
    from bot.runtime import serve

    return await serve(settings)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    if args.command == "manifest":
        from bot.slack.manifest import manifest_yaml

        sys.stdout.write(manifest_yaml(http_url=args.http))
        return 0
    if args.command == "validate":
        from bot.validate_cli import run_validate

        return run_validate(args)
    try:
        settings = load_settings()
        if args.command == "demo":
            from bot.console.demo import run_demo

            _configure_logging("WARNING")
            return asyncio.run(run_demo(out_dir=args.out, write=_write))
        _configure_logging(settings.log_level)
        if args.command == "console":
            from bot.console.app import run_console

            return asyncio.run(run_console(settings, attachments_dir=args.out))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "keygen":
            from bot.admin_cli import keygen

            return keygen()
        if args.command == "rotate-keys":
            from bot.admin_cli import rotate_keys

            return asyncio.run(rotate_keys(settings))
        if args.command == "audit":
            from bot.admin_cli import export_audit

            return asyncio.run(export_audit(settings, args.team, args.out))
        if args.command == "resync":
            from bot.upkeep import run_resync

            return asyncio.run(run_resync(settings))
        return asyncio.run(_run(settings))
    except ConfigError as error:
        print(f"finetune-bot: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
