"""Core layer: option and command spec types, and `coerce`: one option value checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from handlers.commands.requests import Request
from handlers.errors import UsageError
from handlers.replies import CommandRef, CommandShape
from handlers.secrets import REDACTED, looks_like_secret
from handlers.sources import PrivateFile, TypedPath
from handlers.text import clip, number, one_line

MAX_TEXT = 256
_SUFFIX_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,255}$")
# Model names may have '/'-separated parts (an organisation or account, then the model), as
# open-weight hubs and several providers name them; each part starts with a letter or a digit,
# so no part is empty, '.' or '..'.
_MODEL_PART = r"[A-Za-z0-9][A-Za-z0-9:._-]*"
_MODEL_RE = re.compile(rf"^{_MODEL_PART}(?:/{_MODEL_PART})*$")
_USER_RE = re.compile(r"^<@!?([A-Za-z0-9]{2,32})(?:\|[^>]{0,80})?>$|^@?([A-Za-z0-9]{2,32})$")


class OptionKind(StrEnum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    CHOICE = "choice"
    JOB_ID = "job_id"
    FILE = "file"
    MODEL = "model"
    ALIAS = "alias"
    SUFFIX = "suffix"
    USER = "user"
    APPROVAL = "approval"
    DATA_FILE = "data_file"
    """A file to read: shared in chat (by name), a Discord attachment, a path at the console."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    name: str
    kind: OptionKind
    help: str
    required: bool = False
    positional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    placeholder: str = ""
    rest: bool = False
    """A last positional that takes every remaining bare word (a prompt)."""
    unless: tuple[str, ...] = ()
    """Other options whose presence makes a required one optional (start's file and model
    come from the job that `like=JOB` names, or from the held start `confirm=` names)."""

    required_when: tuple[str, str] | tuple[()] = ()
    """(option, value): required when that option has that value (dataset's model, which
    `from-logs` needs and uploading a draft does not)."""

    def missing(self, given: Collection[str]) -> bool:
        """Whether this option is required and absent from the given option names."""
        return (
            self.required and self.name not in given and not any(u in given for u in self.unless)
        )

    def missing_from(self, values: Mapping[str, object]) -> bool:
        """`missing`, and absent although the value of another option requires it."""
        if self.missing(values):
            return True
        if not self.required_when or self.name in values:
            return False
        other, value = self.required_when
        return values.get(other) == value

    @property
    def shown_required(self) -> bool:
        """Written without brackets in a usage line: required, or required by the value the
        usage line shows (`dataset from-logs model=MODEL`)."""
        return self.required or bool(self.required_when)

    def usage(self) -> str:
        if self.kind is OptionKind.CHOICE:
            shown = "|".join(self.choices)
        elif self.kind in (OptionKind.INT, OptionKind.FLOAT) and self.minimum is not None:
            shown = self.placeholder or (
                f"{number(self.minimum)}-{number(self.maximum)}"
                if self.maximum is not None
                else "N"
            )
        else:
            shown = self.placeholder or self.name.upper()
        text = shown if self.positional else f"{self.name}={shown}"
        return text if self.shown_required else f"[{text}]"


class Form(StrEnum):
    """A form a chat platform shows instead of running a command; each adapter draws its own."""

    START = "start"
    """Training file, model and the free-text options, then a cost estimate to confirm."""
    SETUP = "setup"
    """The team's provider and key: private, so the key never goes in a command's text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    name: str
    summary: str
    options: tuple[OptionSpec, ...]
    examples: tuple[str, ...]
    build: Callable[[Mapping[str, object]], Request]
    request_type: type
    aliases: tuple[str, ...] = ()
    mutating: bool = False
    long: bool = False
    """Long work (file reads, many provider calls): runs under the team's long-task limit."""
    form: Form | None = None
    """The form a bare command opens (and one lacking a required option, where the platform
    lets options be left out); None: the command always runs."""

    def form_for(self, given: Collection[str]) -> Form | None:
        """The form to open for these option names, pre-filled with them; None: run it."""
        if self.form is None:
            return None
        missing = any(o.missing(given) for o in self.options)
        return self.form if not given or missing else None

    @property
    def usage(self) -> str:
        """The usage line in the text grammar (Slack, the console)."""
        parts = [f"/finetune {self.name}", *(o.usage() for o in self.options)]
        return " ".join(parts)

    @property
    def usage_ref(self) -> CommandRef:
        """The usage line as each platform writes it (Discord: its typed slots)."""
        return CommandRef(name=self.name, text=self.usage, shape=CommandShape.USAGE)

    @property
    def ref(self) -> CommandRef:
        """The command's name as each platform types it (`/finetune team access` on Discord)."""
        return CommandRef(name=self.name, text=f"/finetune {self.name}")

    @property
    def positionals(self) -> tuple[OptionSpec, ...]:
        return tuple(o for o in self.options if o.positional)

    def option(self, name: str) -> OptionSpec | None:
        key = name.lower().replace("-", "_")
        for option in self.options:
            if key == option.name or key in option.aliases:
                return option
        return None


def coerce(spec: CommandSpec, option: OptionSpec, raw: object) -> object:
    """One option value, converted and range-checked."""

    def fail(why: str) -> UsageError:
        return UsageError(f"{option.name}={quoted(str(raw))} {why}.", usage=spec.usage_ref)

    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and text == "":
        raise fail("is empty")
    match option.kind:
        case OptionKind.INT:
            if isinstance(text, bool):
                raise fail("is not a whole number")
            if isinstance(text, int):
                number: int | float = text
            else:
                try:
                    number = int(str(text), 10)
                except ValueError:
                    raise fail("is not a whole number") from None
            return _check_range(option, number, fail)
        case OptionKind.FLOAT:
            if isinstance(text, bool):
                raise fail("is not a number")
            try:
                value = float(text) if isinstance(text, int | float) else float(str(text))
            except ValueError:
                raise fail("is not a number") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise fail("is not a number")
            return _check_range(option, value, fail)
        case OptionKind.CHOICE:
            choice = str(text).lower()
            if choice not in option.choices:
                raise fail(f"is not one of {', '.join(option.choices)}")
            return choice
        case OptionKind.SUFFIX:
            suffix = str(text)
            # The provider's own limit is its profile's, checked when the start is made.
            if len(suffix) > MAX_TEXT:
                raise fail(f"is longer than {MAX_TEXT} characters ({len(suffix)})")
            if not _SUFFIX_RE.match(suffix):
                raise fail("may only hold letters, digits, '-', '_' and '.'")
            return suffix
        case OptionKind.USER:
            found = _USER_RE.match(str(text))
            if not found:
                raise fail("is not a member: mention them (@name) or give their user id")
            return found.group(1) or found.group(2)
        case OptionKind.APPROVAL:
            ident = str(text)
            if not _ID_RE.match(ident):
                raise fail("is not a valid request id")
            return ident
        case OptionKind.ALIAS:
            alias = str(text)
            if not _ALIAS_RE.match(alias):
                raise fail("must be 1-64 letters, digits, '.', '-' or '_'")
            return alias
        case OptionKind.MODEL:
            name = str(text)
            if len(name) > MAX_TEXT or not _MODEL_RE.match(name):
                raise fail("is not a model name (letters, digits, '.', '-', '_', ':', '/')")
            return name
        case OptionKind.JOB_ID | OptionKind.FILE:
            ident = str(text)
            if not _ID_RE.match(ident):
                raise fail("is not a valid id")
            return ident
        case OptionKind.DATA_FILE:
            if isinstance(raw, PrivateFile):
                return raw  # made by an adapter from a share or an attachment, never from text
            typed = str(text)
            if len(typed) > MAX_TEXT * 4:
                raise fail("is too long")
            return TypedPath(text=typed)
        case OptionKind.TEXT:
            value_text = str(text)
            if len(value_text) > MAX_TEXT * 4:
                raise fail("is too long")
            return value_text
    raise fail("is not understood")  # pragma: no cover - every kind is matched above


def _check_range(
    option: OptionSpec, value: float, fail: Callable[[str], UsageError]
) -> int | float:
    low, high = option.minimum, option.maximum
    if low is not None and (value <= low if option.exclusive_minimum else value < low):
        bound = f"above {number(low)}" if option.exclusive_minimum else f"at least {number(low)}"
        raise fail(
            f"must be {bound}" + (f" and at most {number(high)}" if high is not None else "")
        )
    if high is not None and value > high:
        raise fail(f"must be at most {number(high)}")
    return value


def quoted(text: str, limit: int = 40) -> str:
    """A value as an error quotes it back: on one line, clipped, and never a key."""
    flat = one_line(text)
    if looks_like_secret(flat):
        return REDACTED
    return clip(flat, limit)
