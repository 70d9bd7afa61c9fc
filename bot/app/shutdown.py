"""Application: stopping on SIGTERM within a deadline, each stop step under its own limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 9.0
"""From the first SIGTERM to exit, whatever the platforms are doing (orchestrators kill at 10)."""
STEP_SECONDS = 3.0
"""The most one stop step (an adapter, the web server) may take before the next one runs."""
FORCED_EXIT_CODE = 1

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopper:
    """SIGTERM or SIGINT asks for a clean stop; a second signal, or the deadline passing,
    exits at once with one line on stderr.

    The handlers are plain `signal` handlers, not the loop's: they run even while a stop step
    holds the loop, and the deadline is the kernel's alarm, so nothing of ours can outlive it.
    """

    def __init__(self, *, deadline_seconds: float = DEADLINE_SECONDS) -> None:
        self._deadline = deadline_seconds
        self._asked = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signalled = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The handlers for the block. Once a stop was asked, the deadline and the second-signal
        rule stay in force after the block too, through the interpreter's exit: a thread
        something left running (a database driver's worker whose connection was never
        closed) would otherwise hold the exit forever."""
        self._loop = asyncio.get_running_loop()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        previous_alarm = signal.signal(signal.SIGALRM, self._on_deadline)
        try:
            yield
        finally:
            if not self._signalled:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_alarm)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    async def wait(self) -> None:
        await self._asked.wait()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._signalled:
            _force(f"a second {name} during shutdown")
        self._signalled = True
        signal.setitimer(signal.ITIMER_REAL, self._deadline)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._asked.set)

    def _on_deadline(self, _signum: int, _frame: FrameType | None) -> None:
        _force(f"shutdown took longer than {self._deadline:.0f} s")


def _force(why: str) -> None:
    # Inside a signal handler: no logging (its locks may be held), one raw write, then exit.
    os.write(2, f"finetune-bot: {why}; exiting now.\n".encode())
    os._exit(FORCED_EXIT_CODE)


def bounded(
    name: str, step: Callable[[], Awaitable[object]], *, seconds: float = STEP_SECONDS
) -> Callable[[], Awaitable[None]]:
    """`step` as a stop callback that gives up after `seconds` (one line) so the steps after it
    still run; a failure is one line too, never a traceback at exit."""

    async def run() -> None:
        try:
            await asyncio.wait_for(step(), seconds)
        except TimeoutError:
            log.warning("stopping %s took longer than %.0f s; moving on", name, seconds)
        except Exception as error:
            log.warning("stopping %s failed (%s); moving on", name, type(error).__name__)

    return run
