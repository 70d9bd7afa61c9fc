"""Slack adapter: the core's Reply as Block Kit blocks plus fallback text (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from handlers.profile import JobStatus
from handlers.replies import (
    Button,
    ButtonStyle,
    ChannelRef,
    Content,
    Reply,
    Table,
    Tone,
    UserRef,
    parts_of,
    plain,
    rich,
)

ACTION_PREFIX = "ftbot_"
MAX_TEXT = 2900  # a section's text may hold 3000 characters
MAX_FIELD = 2000  # a section field's text may hold 2000
MAX_FIELDS = 10  # a section may hold 10 fields
TONE_EMOJI = {
    Tone.INFO: "",
    Tone.SUCCESS: ":white_check_mark: ",
    Tone.WARNING: ":warning: ",
    Tone.ERROR: ":x: ",
}
STATUS_EMOJI: dict[str, str] = {
    JobStatus.VALIDATING: ":mag:",
    JobStatus.QUEUED: ":hourglass_flowing_sand:",
    JobStatus.RUNNING: ":arrows_counterclockwise:",
    JobStatus.PAUSED: ":double_vertical_bar:",
    JobStatus.SUCCEEDED: ":white_check_mark:",
    JobStatus.FAILED: ":x:",
    JobStatus.CANCELLED: ":no_entry_sign:",
}
BOLD = "*"
CODE = "```"
# mrkdwn has no escape character: inside a span the renderer opens, the span's delimiter in
# text becomes a look-alike that cannot close it (∗ U+2217, ˋ U+02CB).
_LOOK_ALIKE = {BOLD: {"*": "\u2217", "\n": " "}, CODE: {"`": "\u02cb"}}
_SLACK_ID = re.compile(r"[A-Za-z0-9]{1,40}")
_OPEN_TOKEN = re.compile(r"[&<][^;>]*$")

Block = dict[str, Any]


def escape(text: str) -> str:
    """Escape &, < and > for mrkdwn, all of them: text never becomes a mention, a channel
    link, a broadcast (`<!channel>`, `<!here>`, `<!subteam^…>`) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(value: Content, *, span: str = "") -> str:
    """Content as mrkdwn: text escaped (and kept from closing `span`), references as the
    mentions Slack renders. Only the core's UserRef and ChannelRef become `<@…>`, `<#…>`."""
    out: list[str] = []
    for part in parts_of(value):
        match part:
            case UserRef(user_id=user_id) if _SLACK_ID.fullmatch(user_id):
                out.append(f"<@{user_id}>")
            case ChannelRef(channel_id=channel_id) if _SLACK_ID.fullmatch(channel_id):
                out.append(f"<#{channel_id}>")
            case UserRef() | ChannelRef():
                out.append(_text(plain(rich(part)), span))
            case _:
                out.append(_text(part, span))
    return "".join(out)


def _text(text: str, span: str) -> str:
    for char, look_alike in _LOOK_ALIKE.get(span, {}).items():
        text = text.replace(char, look_alike)
    return escape(text)


def bold(value: Content, limit: int = MAX_TEXT) -> str:
    """`*value*` that user text cannot break: no `*` or line break of it closes the span."""
    inner = cut(mrkdwn(value, span=BOLD).strip(), limit - 2)
    return f"*{inner}*" if inner else ""


def cut(markup: str, limit: int) -> str:
    """At most `limit` characters of mrkdwn, never ending inside an entity or a mention."""
    if len(markup) <= limit:
        return markup
    head = markup[: max(limit - 1, 0)]
    return _OPEN_TOKEN.sub("", head) + "…"


def _chunks(lines: Iterable[str], size: int = MAX_TEXT) -> list[str]:
    """Lines joined into texts of at most `size` characters, split between lines."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > size:
            head = cut(line, size)
            rest = line[len(head) - 1 :]
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
            line = rest
        joined = f"{current}\n{line}" if current else line
        if current and len(joined) > size:
            chunks.append(current)
            current = line
        else:
            current = joined
    if current or not chunks:
        chunks.append(current)
    return chunks


def table_chunks(table: Table, size: int = MAX_TEXT) -> list[str]:
    """Monospace code blocks, each closed in its own section; status cells get their emoji
    after the last block (outside the code, where emoji render)."""
    shown = (
        [(h, mrkdwn(h, span=CODE)) for h in table.headers],
        *([(plain(cell), mrkdwn(cell, span=CODE)) for cell in row] for row in table.rows),
    )
    widths = [len(h) for h in table.headers]
    for row in shown[1:]:
        for i, (display, _) in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(display))

    def line(cells: list[tuple[str, str]]) -> str:
        return "  ".join(
            markup + " " * (w - len(display))
            for (display, markup), w in zip(cells, widths, strict=False)
        ).rstrip()

    room = size - 2 * len(CODE)
    chunks = [f"{CODE}{body}{CODE}" for body in _chunks((line(r) for r in shown), room)]
    status_col = table.headers.index("status") if "status" in table.headers else None
    if status_col is not None:
        legend = " ".join(
            STATUS_EMOJI.get(plain(row[status_col]), ":grey_question:") for row in table.rows
        )
        if len(chunks[-1]) + 1 + len(legend) <= size:
            chunks[-1] = f"{chunks[-1]}\n{legend}"
        else:
            chunks.extend(_chunks([legend], size))
    return chunks


def button_element(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{button.action}",
        "text": {"type": "plain_text", "text": button.label[:75]},
        "value": button.value[:2000],
    }
    if button.style is ButtonStyle.PRIMARY:
        element["style"] = "primary"
    elif button.style is ButtonStyle.DANGER:
        element["style"] = "danger"
    if button.confirm:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": f"{button.label}?"[:100]},
            "text": {"type": "plain_text", "text": button.confirm[:300]},
            "confirm": {"type": "plain_text", "text": button.label[:30]},
            "deny": {"type": "plain_text", "text": "Keep it"},
        }
    return element


def fallback_text(reply: Reply) -> str:
    """The text Slack shows in notifications and where blocks cannot render; it is parsed as
    mrkdwn too, so it is escaped like the blocks."""
    return cut(mrkdwn(reply.title), 3000)


def _mrkdwn_object(text: str) -> Block:
    # verbatim: Slack must not turn bare words such as @here or #general into mentions or
    # links; the only mentions are the ones written here from UserRef and ChannelRef.
    return {"type": "mrkdwn", "text": text or "\u200b", "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn_object(text)}


def _field_text(name: str, value: Content, limit: int) -> str:
    head = bold(name, limit)
    return f"{head}\n{cut(mrkdwn(value), limit - len(head) - 1)}"


def reply_blocks(reply: Reply) -> list[Block]:
    emoji = TONE_EMOJI[reply.tone]
    blocks: list[Block] = [_section(emoji + bold(reply.title, MAX_TEXT - len(emoji)))]
    inline = [f for f in reply.fields if f.inline]
    for start in range(0, len(inline), MAX_FIELDS):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn_object(_field_text(f.name, f.value, MAX_FIELD))
                    for f in inline[start : start + MAX_FIELDS]
                ],
            }
        )
    blocks.extend(
        _section(_field_text(item.name, item.value, MAX_TEXT))
        for item in reply.fields
        if not item.inline
    )
    if reply.table is not None:
        blocks.extend(_section(chunk) for chunk in table_chunks(reply.table))
    if reply.lines:
        blocks.extend(_section(chunk) for chunk in _chunks(mrkdwn(line) for line in reply.lines))
    if reply.footer:
        blocks.append(
            {"type": "context", "elements": [_mrkdwn_object(cut(mrkdwn(reply.footer), MAX_TEXT))]}
        )
    if reply.buttons:
        blocks.append(
            {"type": "actions", "elements": [button_element(b) for b in reply.buttons[:25]]}
        )
    return blocks[:50]
