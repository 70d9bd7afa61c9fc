"""Discord adapter: the invite URL, with the scopes and exactly the permissions the bot uses.

Each permission is here because of a call the adapter makes (bot/chat/discord/notifier.py and
commands.py); commands, buttons, forms and autocomplete arrive as interactions and need none.
Editing the bot's own messages (the job card) needs no permission either.
"""

from __future__ import annotations

import base64
import binascii

import discord

SCOPES = ("bot", "applications.commands")
NEEDED: tuple[tuple[str, str], ...] = (
    ("view_channel", "see the channel a job was started in, to post its notices there"),
    ("send_messages", "post the job card and the completion notice"),
    ("embed_links", "the card and every reply are embeds"),
    ("attach_files", "the loss chart and the comparison's CSV"),
    ("create_public_threads", "open the card's thread for its updates"),
    ("send_messages_in_threads", "post the updates in that thread"),
)
"""(discord.Permissions flag, why the bot needs it)."""


def permissions() -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys((name for name, _ in NEEDED), True))


def invite_url(client_id: str) -> str:
    return discord.utils.oauth_url(client_id, permissions=permissions(), scopes=SCOPES)


def application_id(token: str) -> str | None:
    """The application (bot user) id a bot token starts with, base64-encoded; None when the
    text does not look like a bot token. Only that public id is read, never the rest."""
    head = token.strip().split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded.isdigit() and 15 <= len(decoded) <= 21 else None
