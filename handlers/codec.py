"""Core layer: turns a Reply into a JSON-safe dict and back, so it can wait in the outbox."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    Field,
    Reply,
    Table,
    Tone,
    Visibility,
)

CODEC_VERSION = 1
"""Bumped when the shape changes; rows written by an older shape must still decode."""


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A dict of str, int, bool, None, lists and dicts only; attachment bytes as base64."""
    return {
        "v": CODEC_VERSION,
        "title": reply.title,
        "lines": list(reply.lines),
        "fields": [{"name": f.name, "value": f.value, "inline": f.inline} for f in reply.fields],
        "table": (
            None
            if reply.table is None
            else {
                "headers": list(reply.table.headers),
                "rows": [list(row) for row in reply.table.rows],
            }
        ),
        "tone": reply.tone.value,
        "visibility": reply.visibility.value,
        "buttons": [
            {
                "label": b.label,
                "action": b.action,
                "value": b.value,
                "style": b.style.value,
                "confirm": b.confirm,
            }
            for b in reply.buttons
        ],
        "attachments": [
            {
                "filename": a.filename,
                "content": base64.b64encode(a.content).decode("ascii"),
                "mime_type": a.mime_type,
                "title": a.title,
            }
            for a in reply.attachments
        ],
        "mentions": list(reply.mentions),
        "footer": reply.footer,
    }


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    """The inverse of reply_to_dict; missing keys take the Reply defaults."""
    table = data.get("table")
    return Reply(
        title=str(data["title"]),
        lines=tuple(str(line) for line in data.get("lines", ())),
        fields=tuple(
            Field(name=str(f["name"]), value=str(f["value"]), inline=bool(f.get("inline", True)))
            for f in data.get("fields", ())
        ),
        table=(
            None
            if table is None
            else Table(
                headers=tuple(str(h) for h in table["headers"]),
                rows=tuple(tuple(str(cell) for cell in row) for row in table["rows"]),
            )
        ),
        tone=Tone(data.get("tone", Tone.INFO.value)),
        visibility=Visibility(data.get("visibility", Visibility.PUBLIC.value)),
        buttons=tuple(
            Button(
                label=str(b["label"]),
                action=str(b["action"]),
                value=str(b["value"]),
                style=ButtonStyle(b.get("style", ButtonStyle.DEFAULT.value)),
                confirm=None if b.get("confirm") is None else str(b["confirm"]),
            )
            for b in data.get("buttons", ())
        ),
        attachments=tuple(
            Attachment(
                filename=str(a["filename"]),
                content=base64.b64decode(a["content"]),
                mime_type=str(a["mime_type"]),
                title=str(a.get("title", "")),
            )
            for a in data.get("attachments", ())
        ),
        mentions=tuple(str(m) for m in data.get("mentions", ())),
        footer=str(data.get("footer", "")),
    )
