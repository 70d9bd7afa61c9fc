"""Discord adapter: posts and edits the watcher's notices with the bot token over REST."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import discord

from bot.chat.discord import limits
from bot.chat.discord.render import clip, render
from handlers.model import ChannelAddress
from handlers.replies import Reply

log = logging.getLogger(__name__)

NONCE_LENGTH = limits.NONCE
THREAD_EXISTS = 160004
"""Discord's "A thread has already been created for this message"."""


def nonce_for(dedupe_key: str) -> str:
    """Discord keeps nonces of at most 25 characters; a retried post reuses the same one."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:NONCE_LENGTH]


class DiscordNotifier:
    """The Notifier port for Discord.

    Interaction tokens die after 15 minutes and jobs run for hours, so every notice goes
    through the bot token: channel messages, in-place edits of the job card, and a thread on
    the card for metric updates.
    """

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._threads: set[int] = set()

    async def post(
        self,
        target: ChannelAddress,
        reply: Reply,
        *,
        dedupe_key: str,
        edit_message_id: str | None = None,
        thread_message_id: str | None = None,
        card_key: str | None = None,
    ) -> str:
        guild_id = int(target.workspace_id)
        channel = self._client.get_partial_messageable(
            int(target.channel_id), guild_id=guild_id, type=discord.ChannelType.text
        )
        message = render(reply)
        if edit_message_id is not None:
            edited = channel.get_partial_message(int(edit_message_id))
            await edited.edit(
                content=message.content,
                embeds=message.embeds,
                attachments=message.files,
                view=message.view,
                allowed_mentions=message.allowed_mentions,
            )
            return edit_message_id
        if thread_message_id is not None:
            channel = await self._thread(channel, int(thread_message_id), dedupe_key)
        kwargs: dict[str, Any] = {"files": message.files} if message.files else {}
        if message.view is not None:
            kwargs["view"] = message.view
        sent = await channel.send(
            content=message.content,
            embeds=message.embeds,
            allowed_mentions=message.allowed_mentions,
            # With enforce_nonce (discord.py always sets it with a nonce) Discord returns the
            # first message for a repeated nonce instead of posting a duplicate.
            nonce=nonce_for(dedupe_key),
            **kwargs,
        )
        return str(sent.id)

    async def _thread(
        self, channel: discord.PartialMessageable, message_id: int, dedupe_key: str
    ) -> discord.PartialMessageable:
        """The card's thread; a thread started from a message has the message's id."""
        if message_id not in self._threads:
            name = clip(f"{dedupe_key.split(':', 1)[0]} updates", limits.THREAD_NAME)
            try:
                await channel.get_partial_message(message_id).create_thread(
                    name=name, auto_archive_duration=10080
                )
            except discord.HTTPException as error:
                # After a restart the thread may exist already: same id, just post in it.
                if error.code != THREAD_EXISTS:
                    raise
            self._threads.add(message_id)
        return self._client.get_partial_messageable(
            message_id, guild_id=channel.guild_id, type=discord.ChannelType.public_thread
        )
