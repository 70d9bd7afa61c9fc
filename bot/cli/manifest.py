"""Command line: `finetune-bot manifest slack|discord`: what a platform needs to create the app."""

from __future__ import annotations

import argparse
import sys

from bot.app.config import load_settings
from handlers.errors import ConfigError

EXIT_USAGE = 2


def print_manifest(args: argparse.Namespace) -> int:
    try:
        text = _slack(args.http) if args.platform == "slack" else _discord(args.client_id)
    except ConfigError as error:
        print(f"finetune-bot: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(text)
    return 0


def _slack(http_url: str | None) -> str:
    from bot.chat.slack.manifest import manifest_yaml

    if http_url is not None and not http_url.lower().startswith("https://"):
        # Slack accepts only https:// request URLs: the manifest would be refused on paste.
        raise ConfigError(
            "--http needs the bot's public https:// URL (Slack sends requests only over "
            "HTTPS), e.g. --http https://bot.example.com"
        )
    return manifest_yaml(http_url=http_url)


def _discord(client_id: str | None) -> str:
    from bot.chat.discord.invite import NEEDED, application_id, invite_url

    if client_id is None:
        token = load_settings().discord_token
        client_id = application_id(token.get_secret_value()) if token is not None else None
        if client_id is None:
            raise ConfigError(
                "Which application? Give --client-id ID (the Application ID under General "
                "Information at https://discord.com/developers/applications) or set "
                "DISCORD_TOKEN to the bot's token."
            )
    elif not client_id.isdigit():
        raise ConfigError("--client-id is the application's numeric id, e.g. 1234567890123456")
    lines = [
        "Open this URL to invite the bot to a server you manage:",
        invite_url(client_id),
        "",
        "It asks for the bot and applications.commands scopes and these permissions:",
        *(f"  {name.replace('_', ' ')}: {why}" for name, why in NEEDED),
    ]
    return "\n".join(lines) + "\n"
