"""Core layer: the platform-neutral answer every command returns and every notice carries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
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
class UserRef:
    """A member the core names (a requester, an approver, a granter); each adapter writes its
    platform's mention for it. Only the core makes these, from ids it holds, never from text."""

    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelRef:
    """A channel the core names (a subscription); each adapter writes its channel link."""

    channel_id: str


class TimeStyle(StrEnum):
    MOMENT = "moment"
    """A date and time (`Dec 3, 2026 at 14:05` in the reader's zone)."""
    RELATIVE = "relative"
    """How far from now (`in 5 minutes`, `3 hours ago`), where the platform keeps it current."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRef:
    """A moment the core shows; each platform renders it in each reader's local time (Slack
    `<!date^…>`, Discord `<t:…>`); plain text, code blocks and logs read `fallback`, else the
    moment in UTC."""

    at: datetime
    style: TimeStyle = TimeStyle.MOMENT
    fallback: str = ""

    @property
    def epoch(self) -> int:
        at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=UTC)
        return int(at.timestamp())

    @property
    def text(self) -> str:
        """What a reader without the platform's rendering sees."""
        if self.fallback:
            return self.fallback
        at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=UTC)
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


Part = str | UserRef | ChannelRef | TimeRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    """Text with structured references. Every str part is plain text, never markup: a file
    name, a prompt or a model's answer reading `<!channel>` or `@everyone` stays words."""

    parts: tuple[Part, ...]

    def __str__(self) -> str:
        return plain(self)

    def __contains__(self, needle: str) -> bool:
        """A substring of the plain text: `"succeeded" in reply.title` reads as for a str."""
        return needle in plain(self)


Content = str | Text
"""What a title, line, field value, table cell or footer holds: plain text, or Text when the
core names someone."""


def rich(*parts: Part | Text) -> Text:
    """`rich(UserRef(user_id=u), " is now an admin.")`; Text parts are spliced in and
    neighbouring strings joined, so equal text compares equal."""
    out: list[Part] = []
    for part in (q for p in parts for q in (p.parts if isinstance(p, Text) else (p,))):
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        elif part != "":
            out.append(part)
    return Text(parts=tuple(out))


def parts_of(value: Content) -> tuple[Part, ...]:
    return (value,) if isinstance(value, str) else value.parts


def plain(value: Content) -> str:
    """The text without markup: a member as `@id`, a channel as `#id` (console, audit, logs)."""
    if isinstance(value, str):
        return value
    return "".join(_plain_part(p) for p in value.parts)


def _plain_part(part: Part) -> str:
    match part:
        case UserRef(user_id=user_id):
            return f"@{user_id}"
        case ChannelRef(channel_id=channel_id):
            return f"#{channel_id}"
        case TimeRef():
            return part.text
        case _:
            return part


def refs_of(values: Iterable[Content]) -> tuple[UserRef | ChannelRef, ...]:
    """Every reference to a member or channel in the values, in order (times are none)."""
    return tuple(p for v in values for p in parts_of(v) if isinstance(p, UserRef | ChannelRef))


def moment(at: datetime | None) -> Content:
    """A moment for readers in their own time zones; "—" when unknown."""
    return "—" if at is None else rich(TimeRef(at=at))


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    name: str
    value: Content
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
    rows: tuple[tuple[Content, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """`mentions` are the user ids the core chose to notify (a job's requester); adapters
    allow pings for those and no one else."""

    title: Content
    lines: tuple[Content, ...] = ()
    fields: tuple[Field, ...] = ()
    table: Table | None = None
    tone: Tone = Tone.INFO
    visibility: Visibility = Visibility.PUBLIC
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    mentions: tuple[str, ...] = ()
    footer: Content = ""

    @property
    def ephemeral(self) -> bool:
        return self.visibility is Visibility.EPHEMERAL


def error_reply(message: str, *, usage: str = "") -> Reply:
    """One plain private message naming the problem, with the right usage when there is one."""
    lines = (f"Usage: {usage}",) if usage else ()
    return Reply(title=message, lines=lines, tone=Tone.ERROR, visibility=Visibility.EPHEMERAL)
