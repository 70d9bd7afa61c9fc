"""Core layer: the platform-neutral answer every command returns and every notice carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Visibility(StrEnum):
    PUBLIC = "public"
    EPHEMERAL = "ephemeral"


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """An action on a message; `action` is a core command name, `value` its argument."""

    label: str
    action: str
    value: str
    style: ButtonStyle = ButtonStyle.DEFAULT
    confirm: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    title: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """Rows of short cells; adapters render it as monospace text or a native table."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    table: Table | None = None
    tone: Tone = Tone.INFO
    visibility: Visibility = Visibility.PUBLIC
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    mentions: tuple[str, ...] = ()
    footer: str = ""

    @property
    def ephemeral(self) -> bool:
        return self.visibility is Visibility.EPHEMERAL


def error_reply(message: str, *, usage: str = "") -> Reply:
    """One plain private message naming the problem, with the right usage when there is one."""
    lines = (f"Usage: {usage}",) if usage else ()
    return Reply(title=message, lines=lines, tone=Tone.ERROR, visibility=Visibility.EPHEMERAL)
