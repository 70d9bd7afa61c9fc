"""Core layer: the platform-neutral answer every command returns and every notice carries."""

from __future__ import annotations

import re
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


class CommandShape(StrEnum):
    NAME = "name"
    """`/finetune access`: the command as it is typed, its arguments follow as text."""
    USAGE = "usage"
    """The command's whole usage line: its options as the platform takes them."""
    EXAMPLE = "example"
    """One example invocation, written in the text grammar."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRef:
    """A bot command the core names (a hint, a usage line, help). `text` is how the text
    grammar (Slack, the console) writes it; an adapter whose platform names the command or
    takes its options differently (Discord nests the team's commands under `/finetune team`
    and its options are typed slots) writes its own from `name` and the command's spec."""

    name: str
    text: str
    shape: CommandShape = CommandShape.NAME


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


Part = str | UserRef | ChannelRef | CommandRef | TimeRef


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

    def __eq__(self, other: object) -> bool:
        """Equal to a str when it names no member or channel and reads the same: a command
        it names is words (`/finetune list`) that each platform merely writes its own way."""
        if isinstance(other, str):
            return self._words_only() and plain(self) == other
        return isinstance(other, Text) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(plain(self)) if self._words_only() else hash(self.parts)

    def _words_only(self) -> bool:
        return all(isinstance(p, str | CommandRef) for p in self.parts)


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
        case CommandRef(text=text):
            return text
        case TimeRef():
            return part.text
        case _:
            return part


def refs_of(values: Iterable[Content]) -> tuple[UserRef | ChannelRef, ...]:
    """Every member and channel the values name, in order (commands and times are not refs)."""
    return tuple(p for v in values for p in parts_of(v) if isinstance(p, UserRef | ChannelRef))


_COMMAND = re.compile(r"/finetune ([a-z][a-z-]*)")


def commands_in(value: Content) -> Content:
    """The text with each `/finetune NAME` the core wrote as a CommandRef, so each platform
    names the command as it is typed there: every hint, usage line and help line goes
    through here (error_reply, help). Text naming no command is returned as it is."""
    if isinstance(value, str) and _COMMAND.search(value) is None:
        return value
    out: list[Part | Text] = []
    for part in parts_of(value):
        if not isinstance(part, str):
            out.append(part)
            continue
        at = 0
        for found in _COMMAND.finditer(part):
            out += [part[at : found.start()], CommandRef(name=found[1], text=found[0])]
            at = found.end()
        out.append(part[at:])
    return rich(*out)


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


def error_reply(message: Content, *, usage: str | CommandRef = "") -> Reply:
    """One plain private message naming the problem, with the right usage when there is one;
    the commands either names are written as the reader's platform types them."""
    shown = usage if isinstance(usage, CommandRef) else commands_in(usage)
    line = f"Usage: {shown}" if isinstance(shown, str) else rich("Usage: ", shown)
    lines = (line,) if usage else ()
    return Reply(
        title=commands_in(message), lines=lines, tone=Tone.ERROR, visibility=Visibility.EPHEMERAL
    )
