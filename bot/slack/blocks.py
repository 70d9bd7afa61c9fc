"""Slack adapter: the core's Reply as Block Kit blocks plus fallback text (pure functions)."""

from __future__ import annotations

import re
from typing import Any

from handlers.profile import JobStatus
from handlers.replies import Button, ButtonStyle, Reply, Table, Tone

ACTION_PREFIX = "ftbot_"
MAX_TEXT = 2900  # a section's text may hold 3000 characters
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
_KEEP = re.compile(r"(<[@#!][A-Za-z0-9^|_.:-]+>)")

Block = dict[str, Any]


def escape(text: str) -> str:
    """Escape &, < and > for mrkdwn, keeping user and channel mentions the core wrote."""
    parts = _KEEP.split(text)
    return "".join(
        part
        if _KEEP.fullmatch(part)
        else part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for part in parts
    )


def _chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def table_text(table: Table) -> str:
    """A monospace table; status cells get their emoji in front (outside the code block)."""
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    status_col = table.headers.index("status") if "status" in table.headers else None

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    lines = [line(table.headers)]
    for row in table.rows:
        lines.append(line(row))
    body = "\n".join(lines)
    if status_col is None:
        return f"```{body}```"
    legend = " ".join(
        f"{STATUS_EMOJI.get(row[status_col], ':grey_question:')}" for row in table.rows
    )
    return f"```{body}```\n{legend}"


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
    """The plain text Slack shows in notifications and where blocks cannot render."""
    return reply.title[:3000]


def reply_blocks(reply: Reply) -> list[Block]:
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{TONE_EMOJI[reply.tone]}*{escape(reply.title)}*"[:MAX_TEXT],
            },
        }
    ]
    inline = [f for f in reply.fields if f.inline]
    for start in range(0, len(inline), MAX_FIELDS):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{escape(f.name)}*\n{escape(f.value)}"[:2000]}
                    for f in inline[start : start + MAX_FIELDS]
                ],
            }
        )
    for item in (f for f in reply.fields if not f.inline):
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{escape(item.name)}*\n{escape(item.value)}"[:MAX_TEXT],
                },
            }
        )
    if reply.table is not None:
        blocks.extend(
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in _chunks(table_text(reply.table))
        )
    if reply.lines:
        text = "\n".join(escape(line) for line in reply.lines)
        blocks.extend(
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in _chunks(text)
        )
    if reply.footer:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape(reply.footer)[:MAX_TEXT]}],
            }
        )
    if reply.buttons:
        blocks.append(
            {"type": "actions", "elements": [button_element(b) for b in reply.buttons[:25]]}
        )
    return blocks[:50]
