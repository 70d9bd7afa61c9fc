"""Core layer: the help feature: the command list, or one command's usage, from the catalogue.

Everything help shows comes from the specs the parser (and Discord's slots) use, as
CommandRefs: each platform writes the command, its usage and its examples as it takes them.
"""

from __future__ import annotations

from handlers.commands.options import CommandSpec
from handlers.errors import UsageError
from handlers.features.routing import Routes
from handlers.model import Actor
from handlers.replies import CommandRef, CommandShape, Content, Reply, Visibility, rich
from handlers.requests import SPECS, HelpRequest, resolve_command
from handlers.suggest import did_you_mean


def routes() -> Routes:
    return {HelpRequest: _help}


async def _help(request: HelpRequest, actor: Actor) -> Reply:
    return help_reply(request.topic)


def help_reply(topic: str | None) -> Reply:
    """The overall command list, or one command's usage, options and examples."""
    if topic:
        spec = resolve_command(topic)
        if spec is None:
            raise UsageError(
                f"No command '{topic[:40]}'.{did_you_mean(topic, _names())} "
                f"Commands: {', '.join(SPECS)}.",
                usage="/finetune help",
            )
        return _one(spec)
    lines: list[Content] = [rich(s.ref, f" — {s.summary}") for s in SPECS.values()]
    lines.append("")
    details = CommandRef(name="help", text="/finetune help COMMAND", shape=CommandShape.EXAMPLE)
    lines.append(rich("Details of one command: ", details))
    return Reply(
        title="finetune-bot commands", lines=tuple(lines), visibility=Visibility.EPHEMERAL
    )


def _one(spec: CommandSpec) -> Reply:
    lines: list[Content] = [spec.summary, "", rich("Usage: ", spec.usage_ref)]
    if spec.options:
        lines.append("Options:")
        lines.extend(f"  {o.name}: {o.help}" for o in spec.options)
    if spec.aliases:
        lines.append(f"Also: {', '.join(spec.aliases)}")
    lines.append("Examples:")
    lines.extend(
        rich("  ", CommandRef(name=spec.name, text=e, shape=CommandShape.EXAMPLE))
        for e in spec.examples
    )
    return Reply(title=rich(spec.ref), lines=tuple(lines), visibility=Visibility.EPHEMERAL)


def _names() -> list[str]:
    return [*SPECS, *(a for s in SPECS.values() for a in s.aliases)]
