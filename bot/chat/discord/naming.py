"""Discord adapter: how a command is written on Discord, in hints, usage lines and help.

The `/finetune` group holds at most 25 subcommands, so the team's policy nests under
`/finetune team`; options are typed slots (`file:`, `model:`), a file is an attachment. The
group (commands.py) and every rendered reply (render.py) take both from here, from the same
specs the parser uses, so help cannot drift from what Discord accepts.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from handlers.commands.options import CommandSpec, OptionKind, OptionSpec
from handlers.replies import CommandRef, CommandShape
from handlers.requests import resolve_command

GROUP_NAME = "finetune"
TEAM_GROUP = "team"
TEAM_COMMANDS = frozenset({"setup", "access", "budget", "approve", "reject", "audit"})
"""`/finetune team ...`: a group holds at most 25 subcommands, so the team's policy nests."""
ATTACHMENT = "(attach a file)"


def typed(name: str) -> str:
    """`/finetune team access` for the team's commands, `/finetune start` for the rest."""
    spec = resolve_command(name)
    canonical = spec.name if spec is not None else name
    group = f"/{GROUP_NAME} {TEAM_GROUP}" if canonical in TEAM_COMMANDS else f"/{GROUP_NAME}"
    return f"{group} {canonical}"


def slots(spec: CommandSpec) -> Sequence[tuple[OptionSpec, bool]]:
    """The command's options as Discord takes them, with whether each is required there,
    required ones first (Discord's order)."""
    result = []
    for option in spec.options:
        required = option.required
        if spec.form is not None:
            # Missing options open the form instead of Discord refusing the command.
            required = False
        if option.kind is OptionKind.DATA_FILE:
            # On Discord a file is an attachment, never a path on the bot's disk.
            required = option.name == "file"
        result.append((option, required))
    return sorted(result, key=lambda r: not r[1])


def usage(spec: CommandSpec) -> str:
    """`/finetune start file:(attach a file) [model:MODEL] ...`, as the slots are offered."""
    parts = [typed(spec.name)]
    for option, required in slots(spec):
        shown = ATTACHMENT if option.kind is OptionKind.DATA_FILE else _shown(option)
        text = f"{option.name}:{shown}"
        parts.append(text if required or option.required_when else f"[{text}]")
    return " ".join(parts)


def _shown(option: OptionSpec) -> str:
    text = option.usage().strip("[]")
    return text.split("=", 1)[1] if "=" in text else text


def example(spec: CommandSpec, text: str) -> str:
    """An example written in the text grammar, as typed in Discord's slots."""
    try:
        words = shlex.split(text)[2:]  # "/finetune NAME" first
    except ValueError:
        return text
    positionals = list(spec.positionals)
    out = [typed(spec.name)]
    rest: list[str] | None = None  # the words of a free-text slot (a prompt), as parse reads
    rest_at = 0
    for word in words:
        key, sep, value = word.partition("=")
        option = spec.option(key) if sep else None
        if option is not None:
            out.append(f"{option.name}:{value}")
        elif rest is not None:
            rest.append(word)
        elif positionals:
            slot = positionals.pop(0)
            if slot.rest:
                rest, rest_at = [word], len(out)
                out.append(f"{slot.name}:")
            else:
                out.append(f"{slot.name}:{word}")
        else:
            out.append(word)
    if rest is not None:
        out[rest_at] += " ".join(rest)
    return " ".join(out)


def written(ref: CommandRef) -> str:
    """A command the core named, as it is written on Discord."""
    spec = resolve_command(ref.name)
    if spec is None:
        return ref.text
    match ref.shape:
        case CommandShape.USAGE:
            return usage(spec)
        case CommandShape.EXAMPLE:
            return example(spec, ref.text)
        case _:
            return typed(spec.name)
