"""Console adapter: a terminal chat; `/finetune ...` lines in, replies and channel notices out."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from bot.app.config import Settings
from bot.app.runtime import build_runtime, schedule_ticks
from bot.chat.console.notifier import ConsoleNotifier
from bot.chat.console.render import progress_printer, render_with_attachments
from handlers.model import Actor, Platform

CONSOLE_WORKSPACE = "local"
CONSOLE_CHANNEL = "console"


def console_actor(user: str | None = None) -> Actor:
    return Actor(
        platform=Platform.CONSOLE,
        workspace_id=CONSOLE_WORKSPACE,
        channel_id=CONSOLE_CHANNEL,
        user_id=user or getpass.getuser(),
        is_workspace_admin=True,
    )


async def run_console(
    settings: Settings,
    *,
    read_line: Callable[[], str] | None = None,
    write: Callable[[str], None] | None = None,
    attachments_dir: Path = Path("console-output"),
) -> int:
    """Read lines until EOF or `quit`; notices from the watcher print as they arrive."""
    out = write or _print
    reader = read_line or sys.stdin.readline
    actor = console_actor()
    async with AsyncExitStack() as stack:
        notifier = ConsoleNotifier(out, attachments_dir=attachments_dir)
        runtime = await build_runtime(settings, stack, notifiers={Platform.CONSOLE: notifier})
        schedule_ticks(runtime)
        label = runtime.provider.label
        out(f"finetune-bot console · provider: {label} · type /finetune help, or quit\n")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, reader)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line in {"quit", "exit", "/quit", "/exit"}:
                break
            reply = await runtime.service.handle_text(line, actor, progress=progress_printer(out))
            out(render_with_attachments(reply, attachments_dir) + "\n")
    return 0


def _print(text: str) -> None:
    print(text, flush=True)
