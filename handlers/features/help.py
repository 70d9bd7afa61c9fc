"""Core layer: the help feature: the command list, or one command's usage, from the catalogue."""

from __future__ import annotations

from handlers.errors import UsageError
from handlers.features.routing import Routes
from handlers.model import Actor
from handlers.replies import Reply, Visibility
from handlers.requests import SPECS, HelpRequest, resolve_command


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
                f"No command '{topic[:40]}'. Commands: {', '.join(SPECS)}.",
                usage="/finetune help",
            )
        lines = [spec.summary, "", f"Usage: {spec.usage}"]
        if spec.options:
            lines.append("Options:")
            lines.extend(f"  {o.name}: {o.help}" for o in spec.options)
        if spec.aliases:
            lines.append(f"Also: {', '.join(spec.aliases)}")
        lines.append("Examples:")
        lines.extend(f"  {e}" for e in spec.examples)
        return Reply(
            title=f"/finetune {spec.name}", lines=tuple(lines), visibility=Visibility.EPHEMERAL
        )
    lines = [f"/finetune {s.name} — {s.summary}" for s in SPECS.values()]
    lines.append("")
    lines.append("Details of one command: /finetune help COMMAND")
    return Reply(
        title="finetune-bot commands", lines=tuple(lines), visibility=Visibility.EPHEMERAL
    )
