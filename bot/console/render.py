"""Console adapter: a readable plain-text rendering of the core's Reply."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from handlers.replies import Reply, Table, Tone, plain

_MARK = {Tone.INFO: "•", Tone.SUCCESS: "✔", Tone.WARNING: "!", Tone.ERROR: "✖"}


def render_table(table: Table, *, indent: str = "  ") -> list[str]:
    rows = [tuple(plain(cell) for cell in row) for row in table.rows]
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
    mention is `@id` (a terminal pings no one)."""
    out = [f"{_MARK[reply.tone]} {plain(reply.title)}"]
    if reply.fields:
        name_width = max(len(f.name) for f in reply.fields)
        for item in reply.fields:
            out.append(f"  {item.name.ljust(name_width)} : {plain(item.value)}")
    if reply.table:
        out.extend(render_table(reply.table))
    for line in map(plain, reply.lines):
        wrapped = textwrap.wrap(line, width - 2) if line else [""]
        out.extend("  " + part for part in wrapped)
    if reply.buttons:
        out.append("  [" + "] [".join(b.label for b in reply.buttons) + "]")
    if reply.footer:
        out.append(f"  — {plain(reply.footer)}")
    return "\n".join(out)


def progress_printer(write: Callable[[str], None]) -> Callable[[str, int, int], None]:
    """The core's progress callback as lines: a comparison's calls (uploads stay quiet)."""

    def show(stage: str, done: int, total: int) -> None:
        if stage == "comparing":
            write(f"  … comparing: {done}/{total} calls ({done / max(total, 1):.0%})\n")

    return show


def render_with_attachments(reply: Reply, attachments_dir: Path) -> str:
    """The text rendering, with each attachment written to a file and its path shown."""
    text = render_text(reply)
    for attachment in reply.attachments:
        attachments_dir.mkdir(parents=True, exist_ok=True)
        path = attachments_dir / attachment.filename
        path.write_bytes(attachment.content)
        text += f"\n  📎 {attachment.title or attachment.filename}: {path}"
    return text
