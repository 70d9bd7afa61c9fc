"""Storage layer: SqlStore, the Store and WatchStore ports over one async SQLAlchemy engine."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.errors import ConflictError
from handlers.model import (
    AuditEntry,
    ChannelAddress,
    Job,
    JobState,
    Platform,
    Subscription,
    SubscriptionFilter,
    Team,
    TeamFile,
    TeamModel,
)
from storage.access import AccessMethods
from storage.base import insert, job_from_row, state_values, team_from_row
from storage.outbox import WatchMethods
from storage.starts import StartMethods
from storage.tables import (
    audit,
    file_copies,
    files,
    jobs,
    models,
    subscriptions,
    teams,
    webhook_inbox,
)


def _file_from_row(row: Row[Any]) -> TeamFile:
    return TeamFile(
        team_id=row.team_id,
        alias=row.alias,
        provider_file_id=row.provider_file_id,
        filename=row.filename,
        sha256=row.sha256,
        format=row.format,
        examples=row.examples,
        bytes=row.bytes,
        created_at=row.created_at,
        tokens=row.tokens,
        uploaded_by=row.uploaded_by,
        provider=row.provider,
        account=row.account,
    )


def _model_from_row(row: Row[Any]) -> TeamModel:
    return TeamModel(
        team_id=row.team_id,
        name=row.name,
        base_model=row.base_model,
        job_id=row.job_id,
        created_at=row.created_at,
        provider=row.provider,
        account=row.account,
    )


class SqlStore(AccessMethods, WatchMethods, StartMethods):
    """handlers.ports.Store and handlers.ports.WatchStore; returns core dataclasses only.

    Teams own files, jobs, models and subscriptions through foreign keys: call ensure_team
    before writing any of them. `clock` supplies the time where a port passes no `now`
    (created_at of a new team, updated_at, outbox rows written by commit_poll): give it the
    same clock the watcher uses.
    """

    # teams

    async def ensure_team(self, team: Team) -> Team:
        """Create the team if new; a non-empty name refreshes the stored one. Returns it."""
        async with self._write() as conn:
            await conn.execute(
                insert(conn, teams)
                .values(
                    id=team.id,
                    platform=str(team.platform),
                    workspace_id=team.workspace_id,
                    name=team.name,
                    metric_interval_seconds=team.metric_interval_seconds,
                    created_at=self._clock(),
                )
                .on_conflict_do_nothing(index_elements=[teams.c.id])
            )
            if team.name:
                await conn.execute(
                    update(teams)
                    .where(teams.c.id == team.id, teams.c.name != team.name)
                    .values(name=team.name)
                )
            row = (await conn.execute(select(teams).where(teams.c.id == team.id))).one()
        return team_from_row(row)

    async def get_team(self, team_id: str) -> Team | None:
        async with self._read() as conn:
            row = (await conn.execute(select(teams).where(teams.c.id == team_id))).first()
        return None if row is None else team_from_row(row)

    async def list_teams(self) -> Sequence[Team]:
        async with self._read() as conn:
            rows = (await conn.execute(select(teams).order_by(teams.c.id))).all()
        return [team_from_row(r) for r in rows]

    async def set_metric_interval(self, team_id: str, seconds: int) -> bool:
        """Returns False when there is no such team."""
        stmt = (
            update(teams)
            .where(teams.c.id == team_id)
            .values(metric_interval_seconds=seconds)
            .returning(teams.c.id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    # files

    async def add_file(self, file: TeamFile) -> None:
        """Raises ConflictError when the team already has a file under that alias."""
        async with self._write() as conn:
            added = await conn.execute(
                insert(conn, files)
                .values(
                    team_id=file.team_id,
                    alias=file.alias,
                    provider_file_id=file.provider_file_id,
                    filename=file.filename,
                    sha256=file.sha256,
                    format=file.format,
                    examples=file.examples,
                    bytes=file.bytes,
                    tokens=file.tokens,
                    uploaded_by=file.uploaded_by,
                    provider=file.provider,
                    account=file.account,
                    created_at=file.created_at,
                )
                .on_conflict_do_nothing(index_elements=[files.c.team_id, files.c.alias])
                .returning(files.c.id)
            )
            if added.first() is None:
                raise ConflictError(f"The alias {file.alias!r} is already taken in this team.")

    async def get_file(self, team_id: str, alias_or_id: str) -> TeamFile | None:
        """By alias first, else by the provider's file id; only within the team."""
        stmt = select(files).where(
            files.c.team_id == team_id,
            (files.c.alias == alias_or_id) | (files.c.provider_file_id == alias_or_id),
        )
        async with self._read() as conn:
            rows = list((await conn.execute(stmt)).all())
        rows.sort(key=lambda r: (r.alias != alias_or_id, -r.id))
        return _file_from_row(rows[0]) if rows else None

    async def find_file_by_sha256(
        self, team_id: str, sha256: str, *, provider: str | None = None
    ) -> TeamFile | None:
        """The newest copy of these bytes; at one family only when `provider` names it (a
        file id means nothing at another family)."""
        where = [files.c.team_id == team_id, files.c.sha256 == sha256]
        if provider is not None:
            where.append(files.c.provider == provider)
        stmt = select(files).where(*where).order_by(files.c.id.desc()).limit(1)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _file_from_row(row)

    async def list_files(self, team_id: str) -> Sequence[TeamFile]:
        """Newest first."""
        stmt = (
            select(files)
            .where(files.c.team_id == team_id)
            .order_by(files.c.created_at.desc(), files.c.id.desc())
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_file_from_row(r) for r in rows]

    async def delete_file(self, team_id: str, alias: str) -> bool:
        stmt = (
            delete(files)
            .where(files.c.team_id == team_id, files.c.alias == alias)
            .returning(files.c.provider_file_id)
        )
        async with self._write() as conn:
            row = (await conn.execute(stmt)).first()
            if row is None:
                return False
            still_used = await conn.execute(
                select(files.c.id).where(
                    files.c.team_id == team_id, files.c.provider_file_id == row.provider_file_id
                )
            )
            if still_used.first() is None:
                await conn.execute(
                    delete(file_copies).where(
                        file_copies.c.team_id == team_id,
                        file_copies.c.provider_file_id == row.provider_file_id,
                    )
                )
            return True

    async def save_file_copy(self, team_id: str, provider_file_id: str, content: bytes) -> None:
        packed = gzip.compress(content, compresslevel=6)
        async with self._write() as conn:
            await conn.execute(
                insert(conn, file_copies)
                .values(
                    team_id=team_id,
                    provider_file_id=provider_file_id,
                    content=packed,
                    bytes=len(content),
                    created_at=self._clock(),
                )
                .on_conflict_do_nothing(
                    index_elements=[file_copies.c.team_id, file_copies.c.provider_file_id]
                )
            )

    async def file_copy(self, team_id: str, provider_file_id: str) -> bytes | None:
        stmt = select(file_copies.c.content).where(
            file_copies.c.team_id == team_id, file_copies.c.provider_file_id == provider_file_id
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else gzip.decompress(row.content)

    # jobs

    async def add_job(self, job: Job, *, next_poll_at: datetime | None) -> None:
        """Insert the job and its watch state; adding the same provider job id again is a no-op
        (the provider's create is idempotent, so a retried start may add it twice)."""
        channel = job.channel
        async with self._write() as conn:
            await conn.execute(
                insert(conn, jobs)
                .values(
                    team_id=job.team_id,
                    job_id=job.id,
                    **state_values(job.state),
                    channel_platform=None if channel is None else str(channel.platform),
                    channel_workspace_id=None if channel is None else channel.workspace_id,
                    channel_id=None if channel is None else channel.channel_id,
                    channel_thread_id=None if channel is None else channel.thread_id,
                    requester_id=job.requester_id,
                    card_message_id=job.card_message_id,
                    updated_at=job.updated_at or self._clock(),
                    provider=job.provider,
                    account=job.account,
                    recipe=None if job.recipe is None else dict(job.recipe),
                    origin_job_id=job.origin,
                    next_poll_at=next_poll_at,
                    polls_without_news=0,
                    fence=0,
                )
                .on_conflict_do_nothing(index_elements=[jobs.c.job_id])
            )

    async def get_job(self, team_id: str, job_id: str) -> Job | None:
        stmt = select(jobs).where(jobs.c.team_id == team_id, jobs.c.job_id == job_id)
        return await self._one_job(stmt)

    async def find_job_anywhere(self, job_id: str) -> Job | None:
        return await self._one_job(select(jobs).where(jobs.c.job_id == job_id))

    async def _one_job(self, stmt: Any) -> Job | None:
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else job_from_row(row)

    async def list_jobs(
        self, team_id: str, *, status: str | None = None, limit: int = 20
    ) -> Sequence[Job]:
        """Newest first (by the provider's created_at)."""
        stmt = select(jobs).where(jobs.c.team_id == team_id)
        if status is not None:
            stmt = stmt.where(jobs.c.status == status)
        stmt = stmt.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [job_from_row(r) for r in rows]

    async def update_job_state(self, team_id: str, state: JobState, *, poll_now: bool) -> None:
        now = self._clock()
        values: dict[str, Any] = {**state_values(state), "updated_at": now}
        if poll_now:
            values["next_poll_at"] = now
        async with self._write() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.team_id == team_id, jobs.c.job_id == state.id)
                .values(**values)
            )

    # models

    async def add_model(self, model: TeamModel) -> None:
        """Idempotent: the watcher and the service may both record the same model."""
        async with self._write() as conn:
            await conn.execute(
                insert(conn, models)
                .values(
                    team_id=model.team_id,
                    name=model.name,
                    base_model=model.base_model,
                    job_id=model.job_id,
                    created_at=model.created_at,
                    provider=model.provider,
                    account=model.account,
                )
                .on_conflict_do_nothing(index_elements=[models.c.team_id, models.c.name])
            )

    async def list_models(self, team_id: str) -> Sequence[TeamModel]:
        """Newest first."""
        stmt = (
            select(models)
            .where(models.c.team_id == team_id)
            .order_by(models.c.created_at.desc(), models.c.id.desc())
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_model_from_row(r) for r in rows]

    async def get_model(self, team_id: str, name: str) -> TeamModel | None:
        stmt = select(models).where(models.c.team_id == team_id, models.c.name == name)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _model_from_row(row)

    # subscriptions

    async def add_subscription(self, subscription: Subscription) -> None:
        """One subscription per team and channel: adding again replaces the filter."""
        channel = subscription.channel
        async with self._write() as conn:
            stmt = insert(conn, subscriptions).values(
                team_id=subscription.team_id,
                platform=str(channel.platform),
                workspace_id=channel.workspace_id,
                channel_id=channel.channel_id,
                thread_id=channel.thread_id,
                filter=str(subscription.filter),
                created_by=subscription.created_by,
                created_at=self._clock(),
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        subscriptions.c.team_id,
                        subscriptions.c.platform,
                        subscriptions.c.workspace_id,
                        subscriptions.c.channel_id,
                    ],
                    set_={
                        "filter": stmt.excluded.filter,
                        "thread_id": stmt.excluded.thread_id,
                    },
                )
            )

    async def remove_subscription(self, team_id: str, channel: ChannelAddress) -> bool:
        stmt = (
            delete(subscriptions)
            .where(
                subscriptions.c.team_id == team_id,
                subscriptions.c.platform == str(channel.platform),
                subscriptions.c.workspace_id == channel.workspace_id,
                subscriptions.c.channel_id == channel.channel_id,
            )
            .returning(subscriptions.c.id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def list_subscriptions(self, team_id: str) -> Sequence[Subscription]:
        stmt = (
            select(subscriptions)
            .where(subscriptions.c.team_id == team_id)
            .order_by(subscriptions.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Subscription(
                team_id=r.team_id,
                channel=ChannelAddress(
                    platform=Platform(r.platform),
                    workspace_id=r.workspace_id,
                    channel_id=r.channel_id,
                    thread_id=r.thread_id,
                ),
                filter=SubscriptionFilter(r.filter),
                created_by=r.created_by,
            )
            for r in rows
        ]

    # audit

    async def record_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(
                audit.insert().values(
                    team_id=entry.team_id,
                    user_id=entry.user_id,
                    command=entry.command,
                    arguments=entry.arguments,
                    result=entry.result,
                    at=entry.at,
                )
            )

    async def list_audit(self, team_id: str, *, limit: int = 20) -> Sequence[AuditEntry]:
        """Newest first."""
        stmt = (
            select(audit)
            .where(audit.c.team_id == team_id)
            .order_by(audit.c.at.desc(), audit.c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            AuditEntry(
                team_id=r.team_id,
                user_id=r.user_id,
                command=r.command,
                arguments=r.arguments,
                result=r.result,
                at=r.at,
            )
            for r in rows
        ]

    # webhooks

    async def webhook_seen(self, webhook_id: str, now: datetime) -> bool:
        """Remember a webhook delivery id: True the first time, False for a redelivery."""
        async with self._write() as conn:
            return await _insert_new(conn, webhook_id, now)


async def _insert_new(conn: AsyncConnection, webhook_id: str, now: datetime) -> bool:
    stmt = (
        insert(conn, webhook_inbox)
        .values(webhook_id=webhook_id, received_at=now)
        .on_conflict_do_nothing(index_elements=[webhook_inbox.c.webhook_id])
        .returning(webhook_inbox.c.webhook_id)
    )
    return (await conn.execute(stmt)).first() is not None
