"""Core layer: long work (compare, validate, upload, dataset, try) runs under per-team slots."""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

from handlers.errors import FineTuneError
from handlers.requests import SPECS, CompareRequest, Request, command_of
from handlers.text import count

DEFAULT_TEAM_LONG_TASKS = 2
DEFAULT_LONG_TASKS = 16


class BusyError(FineTuneError):
    """A long task was refused at once: its team, or the whole bot, has no free slot."""


def is_long(request: Request) -> bool:
    """Whether a request is long work; `compare cancel RUN` stops a run, so it never waits."""
    if isinstance(request, CompareRequest) and request.model_a == "cancel":
        return False
    return SPECS[command_of(request).name].long


_held: ContextVar[str | None] = ContextVar("finetune_long_slot", default=None)


class LongWork:
    """Counts long tasks per team and in all; a claim over a limit is refused, never queued.

    Refusing at once keeps the answer honest (the user hears why nothing happens) and keeps
    waiting work from piling up anywhere: every admitted task holds one slot until it ends.
    All counting happens on the one event loop between awaits, so plain integers are enough.
    """

    __slots__ = ("_running", "per_team", "total")

    def __init__(
        self, *, per_team: int = DEFAULT_TEAM_LONG_TASKS, total: int = DEFAULT_LONG_TASKS
    ) -> None:
        if per_team < 1 or total < 1:
            raise ValueError("long-task limits must be at least 1")
        self.per_team = per_team
        self.total = total
        self._running: dict[str, int] = {}

    def running(self, team: str | None = None) -> int:
        if team is None:
            return sum(self._running.values())
        return self._running.get(team, 0)

    def claim(self, team: str) -> Slot:
        """One slot for `team`, or BusyError naming the limit that is reached."""
        mine = self._running.get(team, 0)
        if mine >= self.per_team:
            raise BusyError(
                f"{count(mine, 'long task')} of this team {'is' if mine == 1 else 'are'} running "
                "(compare, validate, upload, "
                f"dataset or try; the limit is {self.per_team}); wait for one to finish, "
                "then ask again."
            )
        if self.running() >= self.total:
            raise BusyError(
                f"The bot is running its limit of {self.total} long tasks for all teams; "
                "wait a minute, then ask again."
            )
        self._running[team] = mine + 1
        return Slot(self, team)

    def holds(self, team: str) -> bool:
        """Whether the running task already holds a slot of `team` (an adapter claimed it)."""
        return _held.get() == team

    def _release(self, team: str) -> None:
        left = self._running.get(team, 0) - 1
        if left > 0:
            self._running[team] = left
        else:
            self._running.pop(team, None)


class Slot:
    """One claimed slot; `with slot:` marks the running task as its holder, and the end of
    the block (or `release()` for a slot never entered) gives it back, once."""

    __slots__ = ("_owner", "_released", "_token", "team")

    def __init__(self, owner: LongWork, team: str) -> None:
        self._owner = owner
        self.team = team
        self._released = False
        self._token: Token[str | None] | None = None

    def __enter__(self) -> Slot:
        self._token = _held.set(self.team)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _held.reset(self._token)
            self._token = None
        self.release()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release(self.team)
