"""Console adapter: a readable plain-text rendering of the core's Reply."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from handlers.actions import button_command
from handlers.replies import (
    Button,
    ChannelRef,
    CommandRef,
    Content,
    Reply,
    Table,
    TimeRef,
    TimeStyle,
    Tone,
    UserRef,
    parts_of,
)

_MARK = {Tone.INFO: "•", Tone.SUCCESS: "✔", Tone.WARNING: "!", Tone.ERROR: "✖"}


def text(value: Content) -> str:
    """Content as a terminal shows it: no chat markup at all. A member is `@name` (a terminal
    pings no one), the channel is this console, a moment is in this machine's time zone."""
    out: list[str] = []
    for part in parts_of(value):
        match part:
            case UserRef(user_id=user_id):
                out.append(f"@{user_id}")
            case ChannelRef(channel_id=channel_id):
                out.append("this console" if channel_id == CONSOLE_CHANNEL else f"#{channel_id}")
            case TimeRef(style=TimeStyle.RELATIVE) if part.fallback:
                out.append(part.fallback)
            case TimeRef(at=at):
                out.append(at.astimezone().strftime("%Y-%m-%d %H:%M %Z"))
            case CommandRef(text=typed):
                out.append(typed)  # the console takes the text grammar, as Slack does
            case _:
                out.append(part)
    return "".join(out)


CONSOLE_CHANNEL = "console"
"""The one channel a console has: its notices and subscriptions name it."""
LOCAL_ONLY = frozenset({"share"})
"""Buttons that mean nothing where the one reader is the whole channel."""


def button_text(button: Button) -> str:
    """`[Cancel: /finetune cancel ftjob-abc]`: what to type to press it here."""
    command = button_command(button.action, button.value)
    return f"[{button.label}: {command}]" if command else f"[{button.label}]"


def render_table(table: Table, *, indent: str = "  ") -> list[str]:
    rows = [tuple(text(cell) for cell in row) for row in table.rows]
    widths = [len(h) for h in table.headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: tuple[str, ...]) -> str:
        return indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    out = [line(table.headers), indent + "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return out


def render_text(reply: Reply, *, width: int = 100) -> str:
    """Title, fields, table, lines, buttons and attachments as indented plain text; a
    mention is `@id` (a terminal pings no one) and each button says the command that
    presses it."""
    out = [f"{_MARK[reply.tone]} {text(reply.title)}"]
    if reply.fields:
        name_width = max(len(f.name) for f in reply.fields)
        for item in reply.fields:
            out.append(f"  {item.name.ljust(name_width)} : {text(item.value)}")
    if reply.table:
        out.extend(render_table(reply.table))
    for line in map(text, reply.lines):
        wrapped = textwrap.wrap(line, width - 2) if line else [""]
        out.extend("  " + part for part in wrapped)
    # A terminal has one reader: a private answer's Share in channel would share with no one.
    out.extend(f"  {button_text(b)}" for b in reply.buttons if b.action not in LOCAL_ONLY)
    if reply.footer:
        out.append(f"  — {text(reply.footer)}")
    return "\n".join(out)


def progress_printer(write: Callable[[str], None]) -> Callable[[str, int, int], None]:
    """The core's progress callback as lines: a comparison's calls (uploads stay quiet)."""

    def show(stage: str, done: int, total: int) -> None:
        if stage == "comparing":
            write(f"  … comparing: {done}/{total} calls ({done / max(total, 1):.0%})\n")

    return show


def render_with_attachments(reply: Reply, attachments_dir: Path) -> str:
    """The text rendering, with each attachment written to a file and its path shown."""
    shown = render_text(reply)
    for attachment in reply.attachments:
        attachments_dir.mkdir(parents=True, exist_ok=True)
        path = attachments_dir / attachment.filename
        path.write_bytes(attachment.content)
        shown += f"\n  📎 {attachment.title or attachment.filename}: {path}"
    return shown
