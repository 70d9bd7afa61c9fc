"""Core layer: turns a Reply into a JSON-safe dict and back, so it can wait in the outbox."""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    ChannelRef,
    Content,
    Field,
    Part,
    Reply,
    Table,
    Text,
    TimeRef,
    TimeStyle,
    Tone,
    UserRef,
    Visibility,
    rich,
)

CODEC_VERSION = 2
"""Bumped when the shape changes; rows written by an older shape must still decode.
2: text with structured mentions is `{"parts": [...]}`; version 1 wrote `<@id>` into text."""

_V1_MENTION = re.compile(r"<@([A-Za-z0-9]{1,40})>")


def _content_to_json(value: Content) -> Any:
    if isinstance(value, str):
        return value
    return {"parts": [_part_to_json(p) for p in value.parts]}


def _part_to_json(part: Part) -> Any:
    match part:
        case UserRef(user_id=user_id):
            return {"user": user_id}
        case ChannelRef(channel_id=channel_id):
            return {"channel": channel_id}
        case TimeRef(at=at, style=style, fallback=fallback):
            return {"time": at.isoformat(), "style": style.value, "fallback": fallback}
        case _:
            return part


def _content_from_json(data: Any, v1_mentions: Collection[str]) -> Content:
    if isinstance(data, Mapping):
        return Text(parts=tuple(_part_from_json(p) for p in data.get("parts", ())))
    text = str(data)
    if not v1_mentions or _V1_MENTION.search(text) is None:
        return text
    # A version-1 row wrote the notified members as `<@id>`; only those become mentions,
    # any other markup in it is text.
    pieces = _V1_MENTION.split(text)
    return rich(
        *(
            UserRef(user_id=piece)
            if i % 2 and piece in v1_mentions
            else (f"<@{piece}>" if i % 2 else piece)
            for i, piece in enumerate(pieces)
        )
    )


def _part_from_json(data: Any) -> Part:
    if isinstance(data, Mapping):
        if "user" in data:
            return UserRef(user_id=str(data["user"]))
        if "time" in data:
            return TimeRef(
                at=datetime.fromisoformat(str(data["time"])),
                style=TimeStyle(str(data.get("style", TimeStyle.MOMENT.value))),
                fallback=str(data.get("fallback", "")),
            )
        return ChannelRef(channel_id=str(data["channel"]))
    return str(data)


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A dict of str, int, bool, None, lists and dicts only; attachment bytes as base64."""
    return {
        "v": CODEC_VERSION,
        "title": _content_to_json(reply.title),
        "lines": [_content_to_json(line) for line in reply.lines],
        "fields": [
            {"name": f.name, "value": _content_to_json(f.value), "inline": f.inline}
            for f in reply.fields
        ],
        "table": (
            None
            if reply.table is None
            else {
                "headers": list(reply.table.headers),
                "rows": [[_content_to_json(cell) for cell in row] for row in reply.table.rows],
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
        "footer": _content_to_json(reply.footer),
    }


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    """The inverse of reply_to_dict; missing keys take the Reply defaults."""
    table = data.get("table")
    mentions = tuple(str(m) for m in data.get("mentions", ()))
    v1 = mentions if int(data.get("v", 1)) < 2 else ()

    def content(value: Any) -> Content:
        return _content_from_json(value, v1)

    return Reply(
        title=content(data["title"]),
        lines=tuple(content(line) for line in data.get("lines", ())),
        fields=tuple(
            Field(
                name=str(f["name"]),
                value=content(f["value"]),
                inline=bool(f.get("inline", True)),
            )
            for f in data.get("fields", ())
        ),
        table=(
            None
            if table is None
            else Table(
                headers=tuple(str(h) for h in table["headers"]),
                rows=tuple(tuple(content(cell) for cell in row) for row in table["rows"]),
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
        mentions=mentions,
        footer=content(data.get("footer", "")),
    )
