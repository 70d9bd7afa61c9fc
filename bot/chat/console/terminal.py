"""Console adapter: lines from the terminal on a thread of their own, with line editing and a
history file when stdin is a terminal, so the event loop (and Ctrl-C) never waits for Enter."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPT = "finetune> "
HISTORY_LENGTH = 1000


class TerminalInput:
    """Reads lines into a queue from a daemon thread; `next_line` is None at the end (EOF).

    On a terminal, `input()` runs with readline (arrow keys, editing, Ctrl-R) and the
    history file is read at the start and written at `close`; the terminal's modes are put
    back at `close` too, so leaving mid-line (Ctrl-C) leaves a working shell behind."""

    def __init__(
        self, *, read_line: Callable[[], str] | None = None, history: Path | None = None
    ) -> None:
        self._read_line = read_line
        self._history = history
        self._queue: asyncio.Queue[str | None] | None = None
        self._interactive = False
        self._saved_modes: list[Any] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queue = queue
        self._interactive = self._read_line is None and sys.stdin.isatty()
        read = self._read_line or (self._edited_line if self._interactive else sys.stdin.readline)
        if self._interactive:
            self._open_terminal()

        def pump() -> None:
            while True:
                try:
                    line: str | None = read()
                except EOFError:
                    line = None
                line = line or None  # "" is the end of a piped stdin
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                except RuntimeError:
                    return  # the console ended while this line was being typed
                if line is None:
                    return

        threading.Thread(target=pump, name="console-input", daemon=True).start()

    async def next_line(self) -> str | None:
        if self._queue is None:
            raise RuntimeError("start the terminal input first")
        return await self._queue.get()

    def close(self) -> None:
        if not self._interactive:
            return
        import readline

        if self._history is not None:
            with contextlib.suppress(OSError):
                self._history.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(self._history)
        if self._saved_modes is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved_modes)
        sys.stdout.write("\n")
        sys.stdout.flush()

    def _open_terminal(self) -> None:
        import readline
        import termios

        with contextlib.suppress(termios.error, OSError):
            self._saved_modes = termios.tcgetattr(sys.stdin.fileno())
        readline.set_history_length(HISTORY_LENGTH)
        if self._history is not None:
            with contextlib.suppress(OSError):
                readline.read_history_file(self._history)

    @staticmethod
    def _edited_line() -> str:
        return input(PROMPT) + "\n"
