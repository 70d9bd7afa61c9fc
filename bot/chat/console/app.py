"""Console adapter: a terminal chat; `/finetune ...` lines in, replies and channel notices out."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from bot.app.config import Settings
from bot.app.runtime import build_runtime, schedule_ticks
from bot.chat.console.notifier import ConsoleNotifier
from bot.chat.console.render import CONSOLE_CHANNEL, progress_printer, render_with_attachments
from bot.chat.console.terminal import TerminalInput
from handlers.model import Actor, Platform

CONSOLE_WORKSPACE = "local"
SANDBOX_STATE = "sandbox-state.json"
"""Beside the console's SQLite database: the sandbox's simulated files and jobs, so the next
session's provider knows what its database remembers."""
HISTORY = "console-history"
"""Beside the database too: the lines typed, for the next session's arrow keys."""


def console_actor(user: str | None = None) -> Actor:
    return Actor(
        platform=Platform.CONSOLE,
        workspace_id=CONSOLE_WORKSPACE,
        channel_id=CONSOLE_CHANNEL,
        user_id=user or getpass.getuser(),
        is_workspace_admin=True,
    )


def database_dir(database_url: str) -> Path | None:
    """The directory of a SQLite file database; None for PostgreSQL or an in-memory one."""
    if not database_url.startswith("sqlite") or ":///" not in database_url:
        return None
    path = database_url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).parent


def console_settings(settings: Settings) -> Settings:
    """A sandbox console keeps the sandbox's state beside its database, unless
    FINETUNE_BOT_SANDBOX_STATE names a file: a second session then has no files or jobs its
    provider forgot."""
    where = database_dir(settings.database_url)
    if settings.provider != "sandbox" or settings.sandbox_state is not None or where is None:
        return settings
    return settings.model_copy(update={"sandbox_state": where / SANDBOX_STATE})


async def run_console(
    settings: Settings,
    *,
    read_line: Callable[[], str] | None = None,
    write: Callable[[str], None] | None = None,
    attachments_dir: Path = Path("console-output"),
) -> int:
    """Read lines until EOF or `quit`; notices from the watcher print as they arrive. Lines
    are read on a thread of their own (with line editing and history on a terminal), so
    Ctrl-C ends the console at once instead of waiting for Enter."""
    out = write or _print
    settings = console_settings(settings)
    where = database_dir(settings.database_url)
    terminal = TerminalInput(
        read_line=read_line,
        history=where / HISTORY if where is not None and read_line is None else None,
    )
    actor = console_actor()
    async with AsyncExitStack() as stack:
        notifier = ConsoleNotifier(out, attachments_dir=attachments_dir)
        runtime = await build_runtime(
            settings,
            stack,
            notifiers={Platform.CONSOLE: notifier},
            store_completions=True,
        )
        schedule_ticks(runtime)
        label = runtime.provider.label
        out(
            f"finetune-bot console · provider: {label} · type /finetune help; "
            "quit or Ctrl-D ends it, Ctrl-C at once\n"
        )
        stack.callback(terminal.close)
        terminal.start(asyncio.get_running_loop())
        while True:
            line = await terminal.next_line()
            if line is None:
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
