"""Composition root: each chat adapter connects in the background, retried with capped backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from handlers.errors import ConfigError
from handlers.model import Platform

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
REJECTED_RETRY_SECONDS = 300.0
"""A rejected credential stays rejected until the operator changes it: try again rarely."""


class PlatformUnavailable(Exception):
    """A platform refused the bot or could not be reached. `message` is the one line to log
    (it names the variable or the cause and the fix); `rejected` marks a refused credential."""

    def __init__(self, message: str, *, rejected: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.rejected = rejected


class Supervised(Protocol):
    """What a supervisor needs of a chat adapter (bot.chat.base.ChatAdapter has it all and
    more; the narrower protocol keeps the supervisor testable with any start/stop pair)."""

    @property
    def platform(self) -> Platform: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> tuple[bool, str]: ...


class Supervisor:
    """Starts one adapter in a background task so the core, the web server and the watcher
    never wait on a platform; a failed start is one log line and another try later."""

    def __init__(
        self,
        adapter: Supervised,
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
        rejected_retry: float = REJECTED_RETRY_SECONDS,
    ) -> None:
        self.adapter = adapter
        self._first = first_retry
        self._max = max_retry
        self._rejected = rejected_retry
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._tried = asyncio.Event()
        self.problem: str | None = None

    @property
    def name(self) -> str:
        return self.adapter.platform.value

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"start-{self.name}")

    async def first_attempt(self, *, within: float) -> None:
        """Wait, at most `within` seconds, for the first try to succeed or fail."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), within)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self.adapter.start()
            except (PlatformUnavailable, ConfigError) as error:
                rejected = isinstance(error, ConfigError) or error.rejected
                problem = error.message
            except Exception as error:  # an unforeseen failure is retried like a network one
                rejected, problem = False, f"start failed ({type(error).__name__})"
            else:
                self._started, self.problem = True, None
                self._tried.set()
                if failures:
                    log.info("%s: connected after %d failed attempt(s)", self.name, failures)
                return
            failures += 1
            wait = (
                self._rejected if rejected else min(self._max, self._first * 2 ** (failures - 1))
            )
            self.problem = problem
            log.error("%s: %s (retrying in %.0f s)", self.name, problem, wait)
            with contextlib.suppress(Exception):
                await self.adapter.stop()
            self._tried.set()
            await asyncio.sleep(wait)

    async def ready(self) -> tuple[bool, str]:
        if not self._started:
            return False, self.problem or "connecting"
        return await self.adapter.ready()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None
        await self.adapter.stop()
