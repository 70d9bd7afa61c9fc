"""Storage layer: request identities seen once (replays) and start intents (crash-safe starts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update

from handlers.model import StartIntent
from storage.base import StoreBase, channel_from_row, insert
from storage.tables import request_ids, start_intents


class StartMethods(StoreBase):
    """First-time request identities and the start intents recovery settles."""

    async def claim_request(self, identity: str, *, expires_at: datetime) -> bool:
        """True for the first delivery of a request identity, on every replica; False after.

        The row outlives the platform's redelivery window, then housekeeping removes it.
        """
        async with self._write() as conn:
            result = await conn.execute(
                insert(conn, request_ids)
                .values(identity=identity, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=[request_ids.c.identity])
                .returning(request_ids.c.identity)
            )
            return result.first() is not None

    async def purge_request_ids(self, *, before: datetime) -> int:
        """Forget identities whose redelivery window ended before `before`."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(request_ids).where(request_ids.c.expires_at < before)
            )
        return int(result.rowcount or 0)

    async def add_intent(self, intent: StartIntent) -> StartIntent:
        """Record a start before the provider is called; the same key again returns the first."""
        channel = intent.channel
        async with self._write() as conn:
            await conn.execute(
                insert(conn, start_intents)
                .values(
                    key=intent.key,
                    team_id=intent.team_id,
                    requester_id=intent.requester_id,
                    channel_platform=str(channel.platform),
                    channel_workspace_id=channel.workspace_id,
                    channel_id=channel.channel_id,
                    channel_thread_id=channel.thread_id,
                    fingerprint=intent.fingerprint,
                    request=dict(intent.request),
                    estimated=intent.estimated,
                    price_per_million=intent.price_per_million,
                    account=intent.account,
                    provider=intent.provider,
                    provider_account=intent.provider_account,
                    approval_id=intent.approval_id,
                    created_at=intent.created_at,
                    job_id=intent.job_id,
                    settled_at=intent.settled_at,
                )
                .on_conflict_do_nothing(index_elements=[start_intents.c.key])
            )
            row = (
                await conn.execute(select(start_intents).where(start_intents.c.key == intent.key))
            ).one()
        return _intent_from_row(row)

    async def get_intent(self, team_id: str, key: str) -> StartIntent | None:
        stmt = select(start_intents).where(
            start_intents.c.team_id == team_id, start_intents.c.key == key
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _intent_from_row(row)

    async def find_intent(
        self, team_id: str, *, requester_id: str, fingerprint: str, since: datetime
    ) -> StartIntent | None:
        """The requester's newest identical start since `since` that did not end in nothing."""
        stmt = (
            select(start_intents)
            .where(
                start_intents.c.team_id == team_id,
                start_intents.c.requester_id == requester_id,
                start_intents.c.fingerprint == fingerprint,
                start_intents.c.created_at >= since,
                # A start settled without a job made nothing: an identical one may go ahead.
                (start_intents.c.settled_at.is_(None)) | (start_intents.c.job_id.is_not(None)),
            )
            .order_by(start_intents.c.created_at.desc())
            .limit(1)
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _intent_from_row(row)

    async def list_open_intents(self, *, limit: int = 500) -> Sequence[StartIntent]:
        """Every team's unsettled starts, oldest first: only for recovery (trusted)."""
        stmt = (
            select(start_intents)
            .where(start_intents.c.settled_at.is_(None))
            .order_by(start_intents.c.created_at)
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_intent_from_row(r) for r in rows]

    async def link_intent(self, team_id: str, key: str, job_id: str) -> None:
        """The provider answered with this job (before it is recorded and billed)."""
        async with self._write() as conn:
            await conn.execute(
                update(start_intents)
                .where(
                    start_intents.c.team_id == team_id,
                    start_intents.c.key == key,
                    start_intents.c.job_id.is_(None),
                )
                .values(job_id=job_id)
            )

    async def settle_intent(
        self, team_id: str, key: str, *, job_id: str | None, at: datetime
    ) -> bool:
        """Close an open intent; True only for the one call that closed it."""
        stmt = (
            update(start_intents)
            .where(
                start_intents.c.team_id == team_id,
                start_intents.c.key == key,
                start_intents.c.settled_at.is_(None),
            )
            .values(job_id=job_id, settled_at=at)
            .returning(start_intents.c.key)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None


def _intent_from_row(row: Row[Any]) -> StartIntent:
    return StartIntent(
        key=row.key,
        team_id=row.team_id,
        requester_id=row.requester_id,
        channel=channel_from_row(row),
        fingerprint=row.fingerprint,
        request=dict(row.request),
        estimated=row.estimated,
        price_per_million=row.price_per_million,
        account=row.account,
        provider=row.provider,
        provider_account=row.provider_account,
        approval_id=row.approval_id,
        created_at=row.created_at,
        job_id=row.job_id,
        settled_at=row.settled_at,
    )
