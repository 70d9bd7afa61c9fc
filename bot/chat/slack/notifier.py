"""Slack adapter: posts the watcher's notices (new messages, card edits, thread replies, PNGs)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.blocks import fallback_text, reply_blocks
from handlers.model import ChannelAddress
from handlers.replies import Reply

log = logging.getLogger(__name__)

ClientFor = Callable[[str], Awaitable[AsyncWebClient]]
"""The Web API client holding a workspace's bot token (one per workspace under OAuth)."""

NOTICE_EVENT = "ftbot_notice"


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
                metadata={"event_type": NOTICE_EVENT, "event_payload": {"dedupe_key": dedupe_key}},
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
