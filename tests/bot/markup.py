"""Test helpers: hostile text and the checks that a rendering holds no live mention and no
broken formatting, for Slack's Block Kit and Discord's messages."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from hypothesis import strategies as st

from bot.chat.slack.blocks import SLACK_DATE_FORMAT

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


SLACK_DATE = re.compile(r"<!date\^\d+\^(?P<format>[^|<>]+)\|[^|<>]*>")


def assert_slack_inert(
    texts: Collection[str], *, users: Collection[str] = (), channels: Collection[str] = ()
) -> None:
    """No mention, broadcast, link or command in mrkdwn but the core's own `<@U…>`/`<#C…>`:
    once those are taken out, no `<` or `>` is left and every `&` starts an escape."""
    allowed = {f"<@{u}>" for u in users} | {f"<#{c}>" for c in channels}

    def core_made(token: str) -> bool:
        # The core's own times: a Slack date token of one of its formats, its fallback text
        # escaped (no `<`, `>` or `|` of the text gets in).
        found = SLACK_DATE.fullmatch(token)
        return token in allowed or (
            found is not None and found.group("format") in SLACK_DATE_FORMAT.values()
        )

    for text in texts:
        rest = re.sub(r"<[^<>]*>", lambda m: "" if core_made(m.group(0)) else m.group(0), text)
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


_SKIPPED = re.compile(
    r"\\[\s\S]"
    r"|<[^: >*~|`\\]+:/[^ >*~|`\\]+>|(?:https?|steam)://[^\s<*~|`\\]+[^<.,:;\"'\]\s*~|`\\]"
)
"""Escaped characters, and links as the renderer leaves them whole: Discord reads a link
before any markdown in it (a backslash would break the link)."""


def assert_discord_markdown_escaped(text: str) -> None:
    """Every markdown delimiter in user text carries its backslash."""
    rest = _SKIPPED.sub("", text)
    assert not re.search(r"[*_~|`]", rest), f"unescaped markdown in {text!r}"
