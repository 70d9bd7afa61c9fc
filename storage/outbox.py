"""Storage layer: the watcher's leases and fencing, and the outbox's claim, ack and dedupe."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.codec import reply_from_dict, reply_to_dict
from handlers.model import ChannelAddress, JobState, MetricPoint, Platform
from handlers.ports import OutboxItem, OutboxMessage, PollResult, SentPost, WatchClaim
from storage.base import StoreBase, insert, job_from_row, state_values
from storage.tables import (
    cards,
    job_metrics,
    jobs,
    outbox,
    provider_backoffs,
    teams,
    webhook_inbox,
)

MAX_ERROR_CHARS = 2000
CLAIM_LOCK_ID = 727_274_002
"""The PostgreSQL advisory lock that claims of due jobs take in turn (see engine.py's 001)."""


def _lease_free(table: Table | Any, now: datetime) -> ColumnElement[bool]:
    return or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def _pending(table: Table | Any) -> ColumnElement[bool]:
    """Still to post: not sent and not given up on."""
    return and_(table.c.sent_at.is_(None), table.c.dead == false())


def _message_from_row(row: Row[Any]) -> OutboxMessage:
    m = row._mapping
    return OutboxMessage(
        dedupe_key=m["dedupe_key"],
        team_id=m["team_id"],
        target=ChannelAddress(
            platform=Platform(m["target_platform"]),
            workspace_id=m["target_workspace_id"],
            channel_id=m["target_channel_id"],
            thread_id=m["target_thread_id"],
        ),
        kind=m["kind"],
        reply=reply_from_dict(m["body_json"]),
        job_id=m["job_id"],
        card_key=m["card_key"],
    )


def _by_id(values: Sequence[tuple[int, Any]], column: Any) -> ColumnElement[Any]:
    """CASE outbox.id WHEN ... THEN ...: a different value per row in one UPDATE."""
    return case(
        *[(outbox.c.id == row_id, literal(value, column.type)) for row_id, value in values],
        else_=column,
    )


def cards_to_record(marked: Sequence[SentPost]) -> dict[str, SentPost]:
    """The cards whose message changed among these posts, each with its latest post."""
    latest: dict[str, SentPost] = {}
    changed: set[str] = set()
    for post in sorted(marked, key=lambda p: p.sent_at):
        key = post.item.message.card_key
        if key is None:
            continue
        latest[key] = post
        if post.message_id != post.item.existing_message_id:
            changed.add(key)
    return {key: post for key, post in latest.items() if key in changed}


MARKS_PER_STATEMENT = 400
"""Rows per marking UPDATE: six bound parameters each, well under SQLite's limit."""

ROWS_PER_STATEMENT = 500
"""Jobs per fence check: keeps the SELECT well under SQLite's limit of 32,766 bound parameters."""


async def insert_messages(
    conn: AsyncConnection, messages: Sequence[OutboxMessage], now: datetime
) -> int:
    """One multi-row INSERT ... ON CONFLICT (dedupe_key) DO NOTHING; RETURNING counts new rows."""
    if not messages:
        return 0
    rows = [
        {
            "team_id": message.team_id,
            "dedupe_key": message.dedupe_key,
            "kind": message.kind,
            "job_id": message.job_id,
            "card_key": message.card_key,
            "target_platform": str(message.target.platform),
            "target_workspace_id": message.target.workspace_id,
            "target_channel_id": message.target.channel_id,
            "target_thread_id": message.target.thread_id,
            "body_json": reply_to_dict(message.reply),
            "created_at": now,
            "available_at": now,
            "attempts": 0,
            "dead": False,
            "superseded": False,
        }
        for message in messages
    ]
    # An executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends it as multi-row
    # INSERTs from one cached compilation (a .values([...]) list compiles anew each time).
    stmt = (
        insert(conn, outbox)
        .on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
        .returning(outbox.c.id)
    )
    return len((await conn.execute(stmt, rows)).all())


async def insert_points(
    conn: AsyncConnection, series: Sequence[tuple[str, str, Sequence[MetricPoint]]]
) -> None:
    """One multi-row insert for every (team, job, points) given, not one per step or job."""
    rows = [
        {
            "team_id": team_id,
            "job_id": job_id,
            "step": point.step,
            "total_steps": point.total_steps,
            "train_loss": point.train_loss,
            "train_accuracy": point.train_accuracy,
            "valid_loss": point.valid_loss,
            "valid_accuracy": point.valid_accuracy,
        }
        for team_id, job_id, points in series
        for point in points
    ]
    if rows:
        await conn.execute(
            insert(conn, job_metrics).on_conflict_do_nothing(
                index_elements=[job_metrics.c.job_id, job_metrics.c.step]
            ),
            rows,
        )


def due_and_not_backed_off(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The jobs a sweep at `now` would poll, leases aside: due, and neither their team nor
    their team's account at that family backed off."""
    team_backed_off = select(teams.c.id).where(teams.c.backoff_until > now)
    family_backed_off = (
        select(provider_backoffs.c.team_id)
        .where(
            provider_backoffs.c.team_id == jobs.c.team_id,
            provider_backoffs.c.provider == jobs.c.provider,
            provider_backoffs.c.until > now,
        )
        .exists()
    )
    return (
        jobs.c.next_poll_at.is_not(None),
        jobs.c.next_poll_at <= now,
        jobs.c.team_id.not_in(team_backed_off),
        ~family_backed_off,
    )


class WatchMethods(StoreBase):
    """handlers.ports.WatchStore over SQL; the claims are single statements (see backend.md)."""

    async def claim_due_jobs(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[WatchClaim]:
        group = (jobs.c.team_id, jobs.c.provider)
        due = (
            select(
                jobs.c.id,
                jobs.c.team_id,
                jobs.c.provider,
                func.min(jobs.c.next_poll_at).over(partition_by=group).label("first_due"),
                func.count().over(partition_by=group).label("size"),
                func.row_number()
                .over(partition_by=group, order_by=(jobs.c.next_poll_at, jobs.c.id))
                .label("rank"),
            )
            .where(
                *due_and_not_backed_off(now),
                _lease_free(jobs, now),
            )
            .subquery()
        )
        # Rows in this job's group and the groups before it (a group's rows are peers).
        through = func.count().over(order_by=(due.c.first_due, due.c.team_id, due.c.provider))
        groups = select(due.c.id, due.c.size, due.c.rank, through.label("through")).subquery()
        taken = select(groups.c.id).where(
            or_(
                groups.c.through <= limit,
                # A group larger than a whole claim is the one split: its first `limit` jobs.
                and_(groups.c.through == groups.c.size, groups.c.rank <= limit),
            )
        )
        claim = (
            update(jobs)
            # The due tests again on the row itself: a row changed since the snapshot is
            # claimed only if it is still due and free.
            .where(jobs.c.id.in_(taken), jobs.c.next_poll_at <= now, _lease_free(jobs, now))
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                fence=jobs.c.fence + 1,
            )
            .returning(*jobs.c)
        )
        async with self._write() as conn:
            if conn.dialect.name == "postgresql":
                # Claims take turns, as on SQLite's one writer: the claim's snapshot, taken
                # after the lock, sees every earlier claim's leases, so no two claimers split
                # a group between them.
                await conn.execute(
                    select(func.pg_advisory_xact_lock(literal(CLAIM_LOCK_ID, BigInteger)))
                )
            rows = list((await conn.execute(claim)).all())
        rows.sort(key=lambda r: (r.next_poll_at, r.id))
        return [
            WatchClaim(
                job=job_from_row(row),
                cursor=row.cursor,
                fence=row.fence,
                polls_without_news=row.polls_without_news,
                last_notified_metric_at=row.last_notified_metric_at,
                due_at=row.next_poll_at,
            )
            for row in rows
        ]

    def _fenced(self, claim: WatchClaim, owner: str) -> ColumnElement[bool]:
        return and_(
            jobs.c.job_id == claim.job.id,
            jobs.c.lease_owner == owner,
            jobs.c.fence == claim.fence,
        )

    async def commit_poll(
        self,
        claim: WatchClaim,
        *,
        owner: str,
        state: JobState,
        cursor: str | None,
        messages: Sequence[OutboxMessage],
        metric_points: Sequence[MetricPoint],
        next_poll_at: datetime | None,
        polls_without_news: int,
        last_notified_metric_at: datetime | None,
    ) -> bool:
        """Fenced write-back. It does not add models: the caller calls add_model (idempotent)."""
        poll = PollResult(
            claim=claim,
            state=state,
            cursor=cursor,
            messages=messages,
            metric_points=metric_points,
            next_poll_at=next_poll_at,
            polls_without_news=polls_without_news,
            last_notified_metric_at=last_notified_metric_at,
        )
        return claim.job.id in await self.commit_polls([poll], owner=owner)

    async def commit_polls(
        self,
        polls: Sequence[PollResult],
        *,
        owner: str,
        resume: tuple[str, str] | None = None,
    ) -> frozenset[str]:
        """One transaction: the fences checked in one SELECT (rows locked on PostgreSQL), the
        held jobs advanced in one executemany UPDATE, their outbox rows and metric points in
        one multi-row INSERT each. Only the held jobs' rows are written."""
        now = self._clock()
        async with self._write() as conn:
            held: set[str] = set()
            for start in range(0, len(polls), ROWS_PER_STATEMENT):
                chunk = polls[start : start + ROWS_PER_STATEMENT]
                fenced = (
                    select(jobs.c.job_id)
                    .where(
                        tuple_(jobs.c.job_id, jobs.c.fence).in_(
                            [(p.claim.job.id, p.claim.fence) for p in chunk]
                        ),
                        jobs.c.lease_owner == owner,
                    )
                    .with_for_update(of=jobs)
                )
                held.update(str(job_id) for job_id in (await conn.scalars(fenced)).all())
            # The fence goes first: a watcher that lost its lease inserts nothing.
            kept = [p for p in polls if p.claim.job.id in held]
            if kept:
                await conn.execute(
                    update(jobs).where(jobs.c.job_id == bindparam("b_job_id")),
                    [
                        {
                            "b_job_id": p.claim.job.id,
                            **state_values(p.state),
                            "cursor": p.cursor,
                            "next_poll_at": p.next_poll_at,
                            "polls_without_news": p.polls_without_news,
                            "last_notified_metric_at": p.last_notified_metric_at,
                            "lease_owner": None,
                            "lease_until": None,
                            "updated_at": now,
                        }
                        for p in kept
                    ],
                )
                await insert_messages(conn, [m for p in kept for m in p.messages], now)
                await insert_points(
                    conn,
                    [(p.claim.job.team_id, p.claim.job.id, p.metric_points) for p in kept],
                )
            if resume is not None:
                await conn.execute(
                    delete(provider_backoffs).where(
                        provider_backoffs.c.team_id == resume[0],
                        provider_backoffs.c.provider == resume[1],
                    )
                )
        return frozenset(held)

    async def release_claim(
        self, claim: WatchClaim, *, owner: str, next_poll_at: datetime
    ) -> bool:
        stmt = (
            update(jobs)
            .where(self._fenced(claim, owner))
            .values(next_poll_at=next_poll_at, lease_owner=None, lease_until=None)
            .returning(jobs.c.id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        async with self._write() as conn:
            return await insert_messages(conn, messages, now)

    async def claim_outbox(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[OutboxItem]:
        newer = outbox.alias("newer")
        stale = (
            select(outbox.c.id)
            .where(
                outbox.c.card_key.is_not(None),
                _pending(outbox),
                outbox.c.superseded == false(),
                _lease_free(outbox, now),
                exists().where(
                    newer.c.card_key == outbox.c.card_key,
                    newer.c.id > outbox.c.id,
                    _pending(newer),
                ),
            )
            .with_for_update(skip_locked=True, of=outbox)
        )
        supersede = update(outbox).where(outbox.c.id.in_(stale)).values(superseded=True)
        # A card row waits while another row of the same card is being posted: posting both
        # at once would create two messages for one card.
        sibling = outbox.alias("sibling")
        card_busy = exists().where(
            sibling.c.card_key == outbox.c.card_key,
            sibling.c.id != outbox.c.id,
            _pending(sibling),
            sibling.c.lease_until >= now,
        )
        due = (
            select(outbox.c.id)
            .where(
                _pending(outbox),
                outbox.c.superseded == false(),
                outbox.c.available_at <= now,
                _lease_free(outbox, now),
                or_(outbox.c.card_key.is_(None), ~card_busy),
            )
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=outbox)
        )
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due))
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=outbox.c.attempts + 1,
            )
            .returning(*outbox.c)
        )
        async with self._write() as conn:
            await conn.execute(supersede)
            rows = list((await conn.execute(claim)).all())
            keys = {row.card_key for row in rows if row.card_key is not None}
            known: dict[str, str] = {}
            if keys:
                found = await conn.execute(
                    select(cards.c.card_key, cards.c.message_id).where(cards.c.card_key.in_(keys))
                )
                known = {r.card_key: r.message_id for r in found}
            # A card never recorded as posted whose older row was claimed before may be out
            # already: that claim's process can have stopped between the post and its mark.
            unposted = keys - known.keys()
            tried: set[str] = set()
            if unposted:
                earlier = await conn.scalars(
                    select(outbox.c.card_key)
                    .where(
                        outbox.c.card_key.in_(unposted),
                        outbox.c.sent_at.is_(None),
                        outbox.c.attempts > 0,
                        outbox.c.id.not_in([row.id for row in rows]),
                    )
                    .distinct()
                )
                tried = {str(key) for key in earlier}
        rows.sort(key=lambda r: r.id)
        return [
            OutboxItem(
                id=row.id,
                message=_message_from_row(row),
                attempts=row.attempts,
                lease_owner=row.lease_owner,
                existing_message_id=known.get(row.card_key) if row.card_key else None,
                created_at=row.created_at,
                maybe_posted=row.attempts > 1 or row.card_key in tried,
            )
            for row in rows
        ]

    async def mark_sent(self, item: OutboxItem, *, message_id: str, now: datetime) -> bool:
        """Record the post; False (and nothing written) when the lease passed to another owner."""
        posts = [SentPost(item=item, message_id=message_id, sent_at=now)]
        return item.id in await self.mark_sent_many(posts)

    async def mark_sent_many(self, posts: Sequence[SentPost]) -> frozenset[int]:
        """One transaction: one UPDATE marks the rows still leased to their owner (per-row
        message ids and times by CASE), one upsert records the cards whose message is new, one
        UPDATE gives those jobs their card's message id. An edit of a card in place keeps its
        message id, so it writes no card row."""
        latest = {post.item.id: post for post in posts}  # one post per row, the last wins
        if not latest:
            return frozenset()
        marked: list[SentPost] = []
        async with self._write() as conn:
            # Each batch size is its own statement text: caching them would only fill the
            # compiled cache (this connection's options end with the call).
            await conn.execution_options(compiled_cache=None)
            ordered = list(latest.values())
            for start in range(0, len(ordered), MARKS_PER_STATEMENT):
                chunk = ordered[start : start + MARKS_PER_STATEMENT]
                ack = (
                    update(outbox)
                    .where(
                        tuple_(outbox.c.id, outbox.c.lease_owner).in_(
                            [(p.item.id, p.item.lease_owner) for p in chunk]
                        ),
                        outbox.c.sent_at.is_(None),
                    )
                    .values(
                        sent_at=_by_id([(p.item.id, p.sent_at) for p in chunk], outbox.c.sent_at),
                        message_id=_by_id(
                            [(p.item.id, p.message_id) for p in chunk], outbox.c.message_id
                        ),
                        lease_until=None,
                        last_error=None,
                    )
                    .returning(outbox.c.id)
                )
                done = {row.id for row in await conn.execute(ack)}
                marked.extend(p for p in chunk if p.item.id in done)
            new_cards = cards_to_record(marked)
            if new_cards:
                upsert = insert(conn, cards).values(
                    [
                        {"card_key": key, "message_id": p.message_id, "updated_at": p.sent_at}
                        for key, p in new_cards.items()
                    ]
                )
                await conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[cards.c.card_key],
                        set_={
                            "message_id": upsert.excluded.message_id,
                            "updated_at": upsert.excluded.updated_at,
                        },
                    )
                )
            job_cards = {
                p.item.message.job_id: p.message_id
                for p in new_cards.values()
                if p.item.message.job_id is not None and p.item.message.kind == "card"
            }
            if job_cards:
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.job_id.in_(list(job_cards)))
                    .values(
                        card_message_id=case(
                            *[
                                (
                                    jobs.c.job_id == job_id,
                                    literal(mid, jobs.c.card_message_id.type),
                                )
                                for job_id, mid in job_cards.items()
                            ],
                            else_=jobs.c.card_message_id,
                        )
                    )
                )
        return frozenset(p.item.id for p in marked)

    async def mark_failed(
        self, item: OutboxItem, *, error: str, retry_at: datetime | None
    ) -> None:
        values: dict[str, Any] = {
            "last_error": error[:MAX_ERROR_CHARS],
            "lease_owner": None,
            "lease_until": None,
        }
        if retry_at is None:
            values["dead"] = True
        else:
            values["available_at"] = retry_at
        stmt = (
            update(outbox)
            .where(
                outbox.c.id == item.id,
                outbox.c.lease_owner == item.lease_owner,
                outbox.c.sent_at.is_(None),
            )
            .values(**values)
        )
        async with self._write() as conn:
            await conn.execute(stmt)

    async def card_message_id(self, card_key: str) -> str | None:
        async with self._read() as conn:
            found = await conn.scalar(
                select(cards.c.message_id).where(cards.c.card_key == card_key)
            )
        return None if found is None else str(found)

    async def card_message_ids(self, card_keys: Collection[str]) -> Mapping[str, str]:
        keys = sorted(set(card_keys))
        if not keys:
            return {}
        async with self._read() as conn:
            rows = await conn.execute(
                select(cards.c.card_key, cards.c.message_id).where(cards.c.card_key.in_(keys))
            )
            return {str(r.card_key): str(r.message_id) for r in rows}

    async def list_metric_points(self, team_id: str, job_id: str) -> Sequence[MetricPoint]:
        stmt = (
            select(job_metrics)
            .where(job_metrics.c.team_id == team_id, job_metrics.c.job_id == job_id)
            .order_by(job_metrics.c.step)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            MetricPoint(
                step=r.step,
                total_steps=r.total_steps,
                train_loss=r.train_loss,
                train_accuracy=r.train_accuracy,
                valid_loss=r.valid_loss,
                valid_accuracy=r.valid_accuracy,
            )
            for r in rows
        ]

    async def team_backoff_until(
        self, team_id: str, *, provider: str | None = None
    ) -> datetime | None:
        """One family's pause (`provider`), else the latest pause of the team: its own or any
        of its families'."""
        if provider is not None:
            stmt = select(provider_backoffs.c.until).where(
                provider_backoffs.c.team_id == team_id, provider_backoffs.c.provider == provider
            )
            async with self._read() as conn:
                one: datetime | None = await conn.scalar(stmt)
            return one
        async with self._read() as conn:
            team: datetime | None = await conn.scalar(
                select(teams.c.backoff_until).where(teams.c.id == team_id)
            )
            families: datetime | None = await conn.scalar(
                select(func.max(provider_backoffs.c.until)).where(
                    provider_backoffs.c.team_id == team_id
                )
            )
        found = [t for t in (team, families) if t is not None]
        return max(found) if found else None

    async def set_team_backoff(
        self, team_id: str, *, until: datetime | None, provider: str | None = None
    ) -> None:
        """Pause the team's jobs of one family (`provider`), else all of them; None resumes."""
        async with self._write() as conn:
            if provider is None:
                await conn.execute(
                    update(teams).where(teams.c.id == team_id).values(backoff_until=until)
                )
                return
            await conn.execute(
                delete(provider_backoffs).where(
                    provider_backoffs.c.team_id == team_id,
                    provider_backoffs.c.provider == provider,
                )
            )
            if until is not None:
                await conn.execute(
                    insert(conn, provider_backoffs).values(
                        team_id=team_id, provider=provider, until=until
                    )
                )

    async def mark_job_due(self, job_id: str, *, now: datetime) -> bool:
        """Poll a live job now (never later than planned); True when the job is known at all.

        A finished job (next_poll_at NULL) stays finished.
        """
        async with self._write() as conn:
            await conn.execute(
                update(jobs)
                .where(
                    jobs.c.job_id == job_id,
                    jobs.c.next_poll_at.is_not(None),
                    jobs.c.next_poll_at > now,
                )
                .values(next_poll_at=now)
            )
            found = await conn.scalar(select(jobs.c.id).where(jobs.c.job_id == job_id))
        return found is not None

    async def outbox_stats(self, *, now: datetime) -> tuple[int, float]:
        waiting = and_(_pending(outbox), outbox.c.superseded == false())
        stmt = select(func.count(), func.min(outbox.c.created_at)).where(waiting)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).one()
        count, oldest = int(row[0]), row[1]
        age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        return count, age

    # housekeeping and observability

    async def purge_outbox(self, *, before: datetime) -> int:
        """Delete finished rows (sent, dead or superseded) older than `before`; pending stay.

        A sent row's age is its sending time; a dead or superseded row's is its creation.
        """
        finished = or_(
            outbox.c.sent_at < before,
            and_(
                outbox.c.sent_at.is_(None),
                or_(outbox.c.dead == true(), outbox.c.superseded == true()),
                outbox.c.created_at < before,
            ),
        )
        async with self._write() as conn:
            result = await conn.execute(delete(outbox).where(finished))
        return int(result.rowcount or 0)

    async def purge_webhook_inbox(self, *, before: datetime) -> int:
        """Forget webhook delivery ids received before `before` (OpenAI retries for 72 h)."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(webhook_inbox).where(webhook_inbox.c.received_at < before)
            )
        return int(result.rowcount or 0)

    async def leases_by_owner(self, *, now: datetime) -> dict[str, int]:
        """Jobs leased right now (being polled), by the watcher holding them."""
        stmt = (
            select(jobs.c.lease_owner, func.count())
            .where(jobs.c.lease_owner.is_not(None), jobs.c.lease_until > now)
            .group_by(jobs.c.lease_owner)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return {str(owner): int(count) for owner, count in rows}

    async def watched_jobs_by_status(self) -> dict[str, int]:
        """Jobs still polled (next_poll_at set), counted by their last known status, in the
        provider's own words (the metric's labels predate the core's statuses)."""
        status = func.coalesce(jobs.c.provider_status, jobs.c.status)
        stmt = (
            select(status, func.count()).where(jobs.c.next_poll_at.is_not(None)).group_by(status)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return {str(status): int(count) for status, count in rows}
