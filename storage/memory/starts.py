"""Storage layer: request identities seen once and start intents, held in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from handlers.model import StartIntent
from storage.memory.base import MemoryBase, json_copy, utc, utc_or_none


class MemoryStarts(MemoryBase):
    """handlers.ports.StartStore in memory: what storage/starts.py does over SQL."""

    async def claim_request(self, identity: str, *, expires_at: datetime) -> bool:
        await self._turn()
        if identity in self._db.request_ids:
            return False
        self._db.request_ids[identity] = utc(expires_at)
        return True

    async def purge_request_ids(self, *, before: datetime) -> int:
        await self._turn()
        cutoff = utc(before)
        gone = [k for k, expires in self._db.request_ids.items() if expires < cutoff]
        for key in gone:
            del self._db.request_ids[key]
        return len(gone)

    async def add_intent(self, intent: StartIntent) -> StartIntent:
        await self._turn()
        self._require_team(intent.team_id)
        if intent.key not in self._db.start_intents:
            self._db.start_intents[intent.key] = replace(
                intent,
                request=json_copy(dict(intent.request)),
                created_at=utc(intent.created_at),
                settled_at=utc_or_none(intent.settled_at),
            )
        return self._db.start_intents[intent.key]

    async def get_intent(self, team_id: str, key: str) -> StartIntent | None:
        await self._turn()
        found = self._db.start_intents.get(key)
        return found if found is not None and found.team_id == team_id else None

    async def find_intent(
        self, team_id: str, *, requester_id: str, fingerprint: str, since: datetime
    ) -> StartIntent | None:
        await self._turn()
        after = utc(since)
        matches = [
            i
            for i in self._db.start_intents.values()
            if i.team_id == team_id
            and i.requester_id == requester_id
            and i.fingerprint == fingerprint
            and i.created_at >= after
            # A start settled without a job made nothing: an identical one may go ahead.
            and (i.settled_at is None or i.job_id is not None)
        ]
        return max(matches, key=lambda i: i.created_at, default=None)

    async def list_open_intents(self, *, limit: int = 500) -> Sequence[StartIntent]:
        await self._turn()
        open_ = [i for i in self._db.start_intents.values() if i.settled_at is None]
        return sorted(open_, key=lambda i: i.created_at)[:limit]

    async def link_intent(self, team_id: str, key: str, job_id: str) -> None:
        await self._turn()
        found = self._db.start_intents.get(key)
        if found is not None and found.team_id == team_id and found.job_id is None:
            self._db.start_intents[key] = replace(found, job_id=job_id)

    async def settle_intent(
        self, team_id: str, key: str, *, job_id: str | None, at: datetime
    ) -> bool:
        await self._turn()
        found = self._db.start_intents.get(key)
        if found is None or found.team_id != team_id or found.settled_at is not None:
            return False
        self._db.start_intents[key] = replace(found, job_id=job_id, settled_at=utc(at))
        return True
