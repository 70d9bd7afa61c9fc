"""Core layer: things held in this process for the member who was shown them (a costly
start waiting for its Start button, a private answer waiting for its Share button), each
handed out once, to its own team and member, within its time."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_HELD = 1000
"""Things one holder keeps at once, across every team; the oldest go first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Held(Generic[T]):
    team_id: str
    member_id: str
    value: T
    expires_at: datetime


class Holder(Generic[T]):
    """Values under ids `PREFIX` + 12 hex digits (they fit any platform's button value).
    `take` removes what it hands out, so a second press or a replayed one gets nothing; an
    id of another team or member, or past its time, reads as not held (KeyError), so no one
    learns another team's ids or uses them up."""

    def __init__(self, prefix: str, hold_for: timedelta) -> None:
        self.prefix = prefix
        self.hold_for = hold_for
        self._held: OrderedDict[str, _Held[T]] = OrderedDict()

    def hold(self, team_id: str, member_id: str, value: T, now: datetime) -> str:
        for token in [t for t, h in self._held.items() if now >= h.expires_at]:
            del self._held[token]
        token = self.prefix + uuid.uuid4().hex[:12]
        self._held[token] = _Held(
            team_id=team_id, member_id=member_id, value=value, expires_at=now + self.hold_for
        )
        while len(self._held) > MAX_HELD:
            self._held.popitem(last=False)
        return token

    def take(self, team_id: str, member_id: str, token: str, now: datetime) -> T:
        held = self._held.get(token)
        if (
            held is None
            or held.team_id != team_id
            or held.member_id != member_id
            or now >= held.expires_at
        ):
            raise KeyError(token)
        del self._held[token]
        return held.value

    @property
    def minutes(self) -> int:
        return int(self.hold_for.total_seconds() // 60)
