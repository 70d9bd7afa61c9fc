"""Slack adapter: posts the watcher's notices (new messages, card edits, thread replies, PNGs)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.blocks import fallback_text, reply_blocks
from handlers.model import ChannelAddress
from handlers.replies import Reply

log = logging.getLogger(__name__)

ClientFor = Callable[[str], Awaitable[AsyncWebClient]]
"""The Web API client holding a workspace's bot token (one per workspace under OAuth)."""

NOTICE_EVENT = "ftbot_notice"
HISTORY_PAGE = 200
HISTORY_PAGES = 5
"""A lookup reads at most this many pages of the channel's (or thread's) newest messages."""


def notice_metadata(dedupe_key: str, card_key: str | None) -> dict[str, Any]:
    """What a notice carries, so that it can be found in the channel's history later."""
    payload = {"dedupe_key": dedupe_key}
    if card_key is not None:
        payload["card_key"] = card_key
    return {"event_type": NOTICE_EVENT, "event_payload": payload}


def _carries(message: Mapping[str, Any], dedupe_key: str, card_key: str | None) -> bool:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != NOTICE_EVENT:
        return False
    payload = metadata.get("event_payload") or {}
    if payload.get("dedupe_key") == dedupe_key:
        return True
    return card_key is not None and payload.get("card_key") == card_key


class SlackNotifier:
    """Implements the core's Notifier port on the Slack Web API."""

    def __init__(self, client_for: ClientFor) -> None:
        self._client_for = client_for

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
        client = await self._client_for(target.workspace_id)
        text = fallback_text(reply)
        blocks = reply_blocks(reply)
        if edit_message_id:
            # chat.update is idempotent: a retried edit after a crash changes nothing twice.
            await client.chat_update(
                channel=target.channel_id, ts=edit_message_id, text=text, blocks=blocks
            )
            ts = edit_message_id
        else:
            response = await client.chat_postMessage(
                channel=target.channel_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_message_id,
                unfurl_links=False,
                unfurl_media=False,
                # The dedupe key travels with the message, so a duplicate can be found later.
                metadata=notice_metadata(dedupe_key, card_key),
            )
            ts = str(response["ts"])
        for attachment in reply.attachments:
            try:
                await client.files_upload_v2(
                    channel=target.channel_id,
                    thread_ts=thread_message_id or ts,
                    content=attachment.content,
                    filename=attachment.filename,
                    title=attachment.title or attachment.filename,
                )
            except SlackApiError as error:
                # The message is out; failing the row now would post it a second time.
                log.warning(
                    "chart upload failed",
                    extra={"dedupe_key": dedupe_key, "error": error.response.get("error")},
                )
        return ts

    async def find_posted(
        self,
        target: ChannelAddress,
        *,
        dedupe_key: str,
        card_key: str | None,
        thread_message_id: str | None,
        since: datetime | None,
    ) -> str | None:
        """Reads the channel's newest messages (the thread's, for a reply) with their metadata
        (conversations.history / conversations.replies, include_all_metadata)."""
        client = await self._client_for(target.workspace_id)
        args: dict[str, Any] = {
            "channel": target.channel_id,
            "limit": HISTORY_PAGE,
            "include_all_metadata": True,
        }
        if since is not None:
            args["oldest"] = f"{since.timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if cursor:
                args["cursor"] = cursor
            if thread_message_id is None:
                page = await client.conversations_history(**args)
            else:
                page = await client.conversations_replies(ts=thread_message_id, **args)
            for message in page.get("messages") or []:
                if _carries(message, dedupe_key, card_key):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        return None
