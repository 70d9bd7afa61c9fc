"""Core layer: the button catalogue: what each action a message's button carries does."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from handlers.errors import UsageError
from handlers.profile import Capability
from handlers.requests import Request, build_request, button_values

UNSUPPORTED = "This button is no longer supported."


class Audience(StrEnum):
    """Who sees the answer to a pressed button."""

    PRESSER = "presser"
    """Only whoever pressed it (a refreshed card is theirs, not the channel's)."""
    THREAD = "thread"
    """Beside the message: in its thread where the platform has threads, else the presser only."""
    CHANNEL = "channel"
    """The channel: the answer is news for everyone (a try, a comparison, an upload)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonAction:
    """One action a `Button` may carry; the button's value fills the command's first option."""

    name: str
    command: str
    confirm: bool = False
    """Asked again before it runs: it cannot be undone (the Button carries the question)."""
    audience: Audience = Audience.THREAD
    needs: Capability | None = None
    """What the job's provider must be able to do for the button to be offered at all."""
    value_options: tuple[str, ...] = ()
    """The options the button's value fills, parts split at ":" (`JOB:FAMILY` fills like
    and provider); empty: the value fills the command's first option."""


def _catalogue(*actions: ButtonAction) -> Mapping[str, ButtonAction]:
    return MappingProxyType({a.name: a for a in actions})


ACTIONS: Mapping[str, ButtonAction] = _catalogue(
    ButtonAction(name="cancel", command="cancel", confirm=True, needs=Capability.CANCEL),
    ButtonAction(name="pause", command="pause", needs=Capability.PAUSE),
    ButtonAction(name="resume", command="resume", needs=Capability.RESUME),
    ButtonAction(name="inspect", command="inspect", audience=Audience.PRESSER),
    ButtonAction(name="chart", command="chart"),
    ButtonAction(name="try", command="try", audience=Audience.CHANNEL, needs=Capability.INFERENCE),
    ButtonAction(
        name="compare", command="compare", audience=Audience.CHANNEL, needs=Capability.INFERENCE
    ),
    ButtonAction(name="dataset", command="dataset", audience=Audience.CHANNEL),
    # "Run this recipe on...": the plan for every family the team can use, for the presser.
    ButtonAction(
        name="recipe", command="start", audience=Audience.PRESSER, value_options=("like",)
    ),
    ButtonAction(
        name="replay",
        command="start",
        audience=Audience.CHANNEL,
        value_options=("like", "provider", "defaults"),
    ),
    # A costly typed start's Start button: its value is the held start's id (cs-...). The
    # start's answer is the requester's; the channel gets the job's card.
    ButtonAction(
        name="confirm_start",
        command="start",
        audience=Audience.PRESSER,
        value_options=("confirm",),
    ),
    # A private answer's Share in channel: the same answer, posted for everyone, once.
    ButtonAction(name="share", command="share", audience=Audience.CHANNEL),
    ButtonAction(name="approve", command="approve"),
    ButtonAction(name="reject", command="reject"),
)
"""Every action a core Reply's buttons carry; adapters route and show answers by it alone."""


def offered(action: str, capabilities: Collection[Capability]) -> bool:
    """Whether a button of this action is shown for a provider that can do `capabilities`."""
    entry = ACTIONS.get(action)
    return entry is not None and (entry.needs is None or entry.needs in capabilities)


def button_request(action: str, value: str) -> Request:
    """The request a pressed button makes. Raises UsageError for an action not catalogued
    (a button on an old message) or a value its command refuses."""
    entry = ACTIONS.get(action)
    if entry is None:
        raise UsageError(UNSUPPORTED)
    if entry.value_options:
        parts = value.split(VALUE_SEPARATOR)
        if len(parts) > len(entry.value_options):
            raise UsageError(UNSUPPORTED)
        return build_request(entry.command, dict(zip(entry.value_options, parts, strict=False)))
    return build_request(entry.command, button_values(entry.command, value))


VALUE_SEPARATOR = ":"
"""Between the parts of a value that fills several options (ids and family names have none)."""


def button_value(*parts: str) -> str:
    """The value of a button whose action fills several options, in their order."""
    return VALUE_SEPARATOR.join(parts)


def button_command(action: str, value: str) -> str | None:
    """The command line a button stands for (`/finetune cancel ftjob-abc`), for a terminal
    that cannot press it; None for an action not catalogued."""
    entry = ACTIONS.get(action)
    if entry is None:
        return None
    if entry.value_options:
        parts = value.split(VALUE_SEPARATOR)
        options = " ".join(
            f"{name}={part}"
            for name, part in zip(entry.value_options, parts, strict=False)
            if part
        )
        return f"/finetune {entry.command} {options}"
    return f"/finetune {entry.command} {value}"
