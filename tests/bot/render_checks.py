"""Test helpers: the whole of a Slack and a Discord rendering of a Reply checked at once: no
live mention but the structured ones, bold and code spans balanced, markdown escaped."""

from __future__ import annotations

import re

from bot.discord.render import render
from bot.slack.blocks import MAX_FIELDS, fallback_text, reply_blocks, table_chunks
from handlers.replies import Reply, UserRef, refs_of
from tests.bot.markup import (
    assert_discord_inert,
    assert_discord_markdown_escaped,
    assert_slack_inert,
    assert_slack_mrkdwn_blocks_verbatim,
    json_strings,
    mrkdwn_texts,
)

SLACK_USER, SLACK_CHANNEL = "U1", "C1"
DISCORD_USER, DISCORD_CHANNEL = "123456789012345678", "223456789012345678"
"""The ids of the structured references the tests put beside hostile text."""

_TITLE = re.compile(r"(:[a-z_]+: )?(\*[^*\n]+\*)?|\u200b")
_FIELD = re.compile(r"(\*[^*\n]+\*)?\n[\s\S]*")
_CODE = re.compile(r"```[^`]*```(\n[^`]*)?")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def check_slack(reply: Reply) -> None:
    """Slack's blocks and fallback text: inert, verbatim, bold and code spans balanced."""
    blocks = reply_blocks(reply)
    assert_slack_inert(
        [*mrkdwn_texts(blocks), fallback_text(reply)],
        users={SLACK_USER, DISCORD_USER},
        channels={SLACK_CHANNEL, DISCORD_CHANNEL},
    )
    assert_slack_mrkdwn_blocks_verbatim(blocks)
    title = blocks[0]["text"]["text"]
    assert _TITLE.fullmatch(title), f"the title's bold is broken: {title!r}"
    if isinstance(reply.title, str) and reply.title.strip() and len(reply.title) < 100:
        # Escaped, not dropped: the words come back (with look-alikes for * and newlines).
        shown = _unescape(title.split("*", 1)[1][:-1])
        assert shown == reply.title.replace("*", "\u2217").replace("\n", " ").strip()
    sections = iter(blocks[1:])
    inline = [f for f in reply.fields if f.inline]
    for _ in range(0, len(inline), MAX_FIELDS):
        for item in next(sections)["fields"]:
            assert _FIELD.fullmatch(item["text"]), f"a field name's bold is broken: {item}"
    for _ in (f for f in reply.fields if not f.inline):
        text = next(sections)["text"]["text"]
        assert _FIELD.fullmatch(text), f"a field name's bold is broken: {text!r}"
    if reply.table is not None:
        for chunk in table_chunks(reply.table):
            assert next(sections)["text"]["text"] == chunk
            assert _CODE.fullmatch(chunk), f"the table's code block is broken: {chunk!r}"


def check_discord(reply: Reply) -> None:
    """Discord's message: pings only `reply.mentions`, text inert and markdown escaped."""
    message = render(reply)
    pinged = [m for m in reply.mentions if m.isdigit()]
    allowed = message.allowed_mentions.to_dict()
    assert allowed["parse"] == [], "no @everyone, @here or role is ever allowed"
    assert allowed.get("users", []) == [int(m) for m in pinged]
    assert not allowed.get("roles")
    assert message.content == (" ".join(f"<@{m}>" for m in pinged) or None)
    embed = message.embed.to_dict()
    texts = [text for key, text in json_strings(embed) if key not in ("type", "url")]
    assert_discord_inert(
        [*texts, message.content or ""], users={DISCORD_USER}, channels={DISCORD_CHANNEL}
    )
    assert_discord_markdown_escaped(message.embed.title or "")
    for item in message.embed.fields:
        assert_discord_markdown_escaped(item.name or "")
        assert_discord_markdown_escaped(item.value or "")
    description = message.embed.description or ""
    if reply.table is not None:
        # The renderer's code block ends the description; no backtick of a cell is in it.
        start = description.rfind("```", 0, len(description) - 3)
        block, description = description[start:], description[:start]
        assert block.endswith("```")
        assert "`" not in block[3:-3]
    pinged_refs = {UserRef(user_id=m) for m in reply.mentions}
    if any(r not in pinged_refs for r in refs_of([reply.title])):
        assert description.startswith("**")
        description = description[2:].replace("**", "", 1)
    description = re.sub(r"(?m)^-# ", "", description)
    assert_discord_markdown_escaped(description)
