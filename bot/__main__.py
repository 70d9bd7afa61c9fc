"""Command line: argparse for `finetune-bot`; each sub-command runs from bot/cli, app or chat."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.app.config import Settings, load_settings, settings_epilog
from handlers.errors import ConfigError

log = logging.getLogger("bot")


_CHAT = (
    "slack_bot_token",
    "slack_app_token",
    "slack_signing_secret",
    "slack_mode",
    "discord_token",
    "discord_guild_ids",
)
_CORE = ("database_url", "provider", "encryption_keys", "log_level")


def _sub(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    *fields: str,
) -> argparse.ArgumentParser:
    """A sub-command whose `--help` says what it does and which settings it reads."""
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=settings_epilog(*fields) if fields else None,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune-bot",
        description="A Slack and Discord bot that runs fine-tuning operations for teams.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _sub(
        commands,
        "run",
        "run the bot: web server, configured chat adapters, watcher",
        "Serve the configured chat platforms (Slack when SLACK_BOT_TOKEN or SLACK_CLIENT_ID is "
        "set, Discord when DISCORD_TOKEN is), the web server (/healthz, /readyz, /metrics, "
        "Slack HTTP mode) and the job watcher, until SIGTERM or Ctrl-C.",
        *_CORE,
        *_CHAT,
        "http_host",
        "http_port",
        "sandbox_speed",
    )
    console = _sub(
        commands,
        "console",
        "a terminal chat with the bot",
        "A terminal chat with the bot: type /finetune commands as in Slack; job cards and "
        "notices print as they change. You are the console team's admin.",
        *_CORE,
        "sandbox_speed",
    )
    console.add_argument(
        "--out",
        type=Path,
        default=Path("console-output"),
        help="where charts are written (default ./console-output)",
    )
    demo = _sub(
        commands,
        "demo",
        "an unattended job life on SQLite and the sandbox provider (simulated)",
        "An unattended walk through a job's life (upload, validate, start, watch, try, "
        "compare) on a new SQLite database and the simulated sandbox provider; no key, no "
        "network and no settings needed.",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        help="where the demo database and chart go (default ./demo-output)",
    )
    _sub(
        commands,
        "migrate",
        "apply database migrations and exit",
        "Bring the database's schema up to date and exit (run also does it at start).",
        "database_url",
        "log_level",
    )
    _sub(
        commands,
        "resync",
        "watch again the bot's jobs at the provider that the database lacks",
        "Ask each team's provider for the jobs this bot started that the database does not "
        "hold (after a restore from a backup) and watch them again.",
        *_CORE,
    )
    manifest = commands.add_parser(
        "manifest",
        help="print a chat platform's app manifest or invite URL",
        description="slack: the app manifest to paste at api.slack.com (Socket Mode, or HTTP "
        "mode with --http). discord: the invite URL with the scopes and the permissions the "
        "bot needs.",
        epilog=settings_epilog("discord_token") + " (discord: the application id is read from it "
        "unless --client-id is given; the token itself is never printed).",
    )
    manifest.add_argument("platform", choices=["slack", "discord"], help="which platform")
    manifest.add_argument(
        "--http",
        metavar="URL",
        default=None,
        help="slack: the bot's public https:// base URL for HTTP mode (default: Socket Mode)",
    )
    manifest.add_argument(
        "--client-id",
        metavar="ID",
        default=None,
        help="discord: the application id (Developer Portal, General Information)",
    )
    from bot.cli.admin import add_arguments

    add_arguments(commands)
    _add_validate(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finetune-bot")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without installing
        return "unknown"


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.cli.validate import add_arguments

    add_arguments(
        _sub(
            commands,
            "validate",
            "check a JSONL training file and estimate its cost; nothing is uploaded",
            "Check a JSONL training file (and a validation file) as /finetune validate does: "
            "what to fix, by line, first; then its statistics and cost estimate. Nothing is "
            "uploaded and no key is needed.",
            "provider",
            "prices_file",
        )
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    from bot.infra import redact

    redact.install()
    if level != "DEBUG":
        # Alembic announces every plugin and migration step at INFO: noise in an operator's log.
        logging.getLogger("alembic").setLevel(logging.WARNING)


async def _run(settings: Settings) -> int:
    from bot.app.runtime import serve

    return await serve(settings)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    if args.command == "manifest":
        from bot.cli.manifest import print_manifest

        return print_manifest(args)
    if args.command == "validate":
        from bot.cli.validate import run_validate

        return run_validate(args)
    try:
        settings = load_settings()
        if args.command == "demo":
            from bot.chat.console.demo import run_demo

            _configure_logging("WARNING")
            return asyncio.run(run_demo(out_dir=args.out, write=_write))
        _configure_logging(settings.log_level)
        if args.command == "console":
            from bot.chat.console.app import run_console

            return asyncio.run(run_console(settings, attachments_dir=args.out))
        if args.command == "migrate":
            from bot.cli.migrate import run_migrate

            return asyncio.run(run_migrate(settings))
        if args.command == "keygen":
            from bot.cli.admin import keygen

            return keygen()
        if args.command == "rotate-keys":
            from bot.cli.admin import rotate_keys

            return asyncio.run(rotate_keys(settings))
        if args.command == "audit":
            from bot.cli.admin import export_audit

            return asyncio.run(export_audit(settings, args.team, args.out))
        if args.command == "resync":
            from bot.cli.resync import run_resync

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
