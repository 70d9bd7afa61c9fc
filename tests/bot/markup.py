"""Test helpers: hostile text and the checks that a rendering holds no live mention and no
broken formatting, for Slack's Block Kit and Discord's messages."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from hypothesis import strategies as st

from bot.discord.render import render
from bot.slack.blocks import MAX_FIELDS, fallback_text, reply_blocks, table_chunks
from handlers.replies import Reply, UserRef, refs_of

HOSTILE_TOKENS = (
    "<!channel>",
    "<!here>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S1>",
    "<!subteam^S1|@team>",
    "<@U123>",
    "<@U123|bob>",
    "<@W9>",
    "<#C1>",
    "<#C1|general>",
    "<https://evil.example|click>",
    "@everyone",
    "@here",
    "@channel",
    "@EveryOne",
    "<@&123456789012345678>",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<#123456789012345678>",
    "`",
    "```",
    "*",
    "**",
    "_",
    "~",
    "||",
    "\\",
    "&lt;",
    "&gt;",
    "&amp;",
    "&",
    "<",
    ">",
    "\n",
    "\n> ",
    "\n# ",
    "-# ",
    "[x](https://evil.example)",
    "=HYPERLINK(1)",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t",
    "\r",
)
"""Everything a user, a training file, a model or a provider might put in a string."""

hostile = st.lists(
    st.one_of(st.sampled_from(HOSTILE_TOKENS), st.text(max_size=6)), min_size=1, max_size=6
).map("".join)


def json_strings(value: Any, *, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) inside a JSON-like value."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from json_strings(v, key=str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            yield from json_strings(v, key=key)


def mrkdwn_texts(blocks: Any) -> Iterator[str]:
    """The text of every mrkdwn object in Block Kit blocks (plain_text is never parsed)."""
    if isinstance(blocks, dict):
        if blocks.get("type") == "mrkdwn":
            yield str(blocks["text"])
        for v in blocks.values():
            yield from mrkdwn_texts(v)
    elif isinstance(blocks, list):
        for v in blocks:
            yield from mrkdwn_texts(v)


def assert_slack_inert(
    texts: Collection[str], *, users: Collection[str] = (), channels: Collection[str] = ()
) -> None:
    """No mention, broadcast, link or command in mrkdwn but the core's own `<@U…>`/`<#C…>`:
    once those are taken out, no `<` or `>` is left and every `&` starts an escape."""
    allowed = {f"<@{u}>" for u in users} | {f"<#{c}>" for c in channels}
    for text in texts:
        rest = re.sub(r"<[^<>]*>", lambda m: "" if m.group(0) in allowed else m.group(0), text)
        assert "<" not in rest, f"live markup in {text!r}"
        assert ">" not in rest, f"live markup in {text!r}"
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), f"bare & in {text!r}"


def assert_slack_mrkdwn_blocks_verbatim(blocks: Any) -> None:
    """Bare words such as @here are never turned into mentions by Slack's auto-parsing."""
    for obj in _mrkdwn_objects(blocks):
        assert obj.get("verbatim") is True, obj


def _mrkdwn_objects(blocks: Any) -> Iterator[dict[str, Any]]:
    if isinstance(blocks, dict):
        if blocks.get("type") == "mrkdwn":
            yield blocks
        for v in blocks.values():
            yield from _mrkdwn_objects(v)
    elif isinstance(blocks, list):
        for v in blocks:
            yield from _mrkdwn_objects(v)


_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)([^>]*)>")
_EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)


def assert_discord_inert(
    texts: Collection[str], *, users: Collection[str] = (), channels: Collection[str] = ()
) -> None:
    """No @everyone/@here, no role mention, and user or channel mentions only of the core's
    structured references."""
    for text in texts:
        assert not _EVERYONE.search(text), f"live @everyone/@here in {text!r}"
        for kind, ident in _DISCORD_MENTION.findall(text):
            if kind == "@":
                assert ident in users, f"user mention <@{ident}> in {text!r}"
            elif kind == "#":
                assert ident in channels, f"channel mention <#{ident}> in {text!r}"
            else:
                raise AssertionError(f"mention <{kind}{ident}> in {text!r}")


_SKIPPED = re.compile(r"<[^: >]+:/[^ >]+>|(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]|\\[\s\S]")
"""Escaped characters, and links as discord.py finds them: Discord reads a link before any
markdown in it, so escape_markdown leaves links whole (a backslash would break them)."""


def assert_discord_markdown_escaped(text: str) -> None:
    """Every markdown delimiter in user text carries its backslash."""
    rest = _SKIPPED.sub("", text)
    assert not re.search(r"[*_~|`]", rest), f"unescaped markdown in {text!r}"


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
