"""Storage layer: the watcher's leases and fencing, the outbox's claim, ack and dedupe (memory)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from handlers.codec import reply_from_dict, reply_to_dict
from handlers.model import JobState, MetricPoint
from handlers.ports import OutboxItem, OutboxMessage, PollResult, SentPost, WatchClaim
from storage.memory.base import (
    CardRow,
    JobRow,
    MemoryBase,
    MetricSeries,
    OutboxRow,
    read_job,
    stored_state,
    utc,
    utc_or_none,
)

MAX_ERROR_CHARS = 2000
"""As storage/outbox.py: a post's error is kept to this many characters."""


def _message(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        dedupe_key=row.dedupe_key,
        team_id=row.team_id,
        target=row.target,
        kind=row.kind,
        reply=reply_from_dict(json.loads(row.body_json)),
        job_id=row.job_id,
        card_key=row.card_key,
    )


def _claim(row: JobRow) -> WatchClaim:
    return WatchClaim(
        job=read_job(row.job),
        cursor=row.cursor,
        fence=row.fence,
        polls_without_news=row.polls_without_news,
        last_notified_metric_at=row.last_notified_metric_at,
        due_at=row.next_poll_at,
    )


def _whole_groups(due: list[JobRow], limit: int, now: datetime) -> list[JobRow]:
    """As storage/outbox.py: whole (team, family) groups, earliest first due first, while they
    fit in `limit`; a first group larger than `limit` gives its first `limit` jobs."""
    groups: dict[tuple[str, str], list[JobRow]] = {}
    for row in due:  # in due order, so the groups are too
        groups.setdefault((row.job.team_id, row.job.provider), []).append(row)
    taken: list[JobRow] = []
    order = sorted(groups, key=lambda key: (groups[key][0].next_poll_at or now, key))
    for rows in (groups[key] for key in order):
        if not taken and len(rows) > limit:
            return rows[:limit]
        if len(taken) + len(rows) > limit:
            break
        taken += rows
    return sorted(taken, key=lambda row: (row.next_poll_at or now, row.id))


class MemoryWatch(MemoryBase):
    """handlers.ports.WatchStore in memory: the same leases, fences and outbox rules as SQL."""

    # leases and fencing

    async def claim_due_jobs(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[WatchClaim]:
        await self._turn()
        now = utc(now)
        backed_off = {
            team_id
            for team_id, team in self._db.teams.items()
            if team.backoff_until is not None and team.backoff_until > now
        }
        family_backed_off = {
            key for key, until in self._db.provider_backoffs.items() if until > now
        }
        due = sorted(
            (
                row
                for row in self._db.jobs.values()
                if row.next_poll_at is not None
                and row.next_poll_at <= now
                and row.lease_free(now)
                and row.job.team_id not in backed_off
                and (row.job.team_id, row.job.provider) not in family_backed_off
            ),
            key=lambda row: (row.next_poll_at or now, row.id),
        )
        due = _whole_groups(due, max(limit, 0), now)
        for row in due:
            row.lease_owner = owner
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.fence += 1
        return [_claim(row) for row in due]

    def _fenced(self, claim: WatchClaim, owner: str) -> JobRow | None:
        row = self._db.jobs.get(claim.job.id)
        if row is None or row.lease_owner != owner or row.fence != claim.fence:
            return None
        return row

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
        """Every poll written at once (one turn); a job whose lease was lost writes nothing."""
        await self._turn()
        now = utc(self._clock())
        held = {p.claim.job.id: row for p in polls if (row := self._fenced(p.claim, owner))}
        for poll in polls:
            row = held.get(poll.claim.job.id)
            if row is None:
                continue
            row.job = replace(
                row.job, state=stored_state(poll.state, job_id=row.job.id), updated_at=now
            )
            row.cursor = poll.cursor
            row.next_poll_at = utc_or_none(poll.next_poll_at)
            row.polls_without_news = poll.polls_without_news
            row.last_notified_metric_at = utc_or_none(poll.last_notified_metric_at)
            row.lease_owner = None
            row.lease_until = None
            self._insert_messages(poll.messages, now)
            if poll.metric_points:
                series = self._db.job_metrics.setdefault(
                    row.job.id, MetricSeries(team_id=row.job.team_id)
                )
                for point in poll.metric_points:
                    series.points.setdefault(point.step, point)
        if resume is not None:
            self._db.provider_backoffs.pop(resume, None)
        return frozenset(held)

    async def release_claim(
        self, claim: WatchClaim, *, owner: str, next_poll_at: datetime
    ) -> bool:
        await self._turn()
        row = self._fenced(claim, owner)
        if row is None:
            return False
        row.next_poll_at = utc(next_poll_at)
        row.lease_owner = None
        row.lease_until = None
        return True

    async def mark_job_due(self, job_id: str, *, now: datetime) -> bool:
        """Poll a live job now (never later than planned); True when the job is known at all.

        A finished job (next_poll_at None) stays finished.
        """
        await self._turn()
        row = self._db.jobs.get(job_id)
        if row is None:
            return False
        now = utc(now)
        if row.next_poll_at is not None and row.next_poll_at > now:
            row.next_poll_at = now
        return True

    async def team_backoff_until(
        self, team_id: str, *, provider: str | None = None
    ) -> datetime | None:
        await self._turn()
        backoffs = self._db.provider_backoffs
        if provider is not None:
            return backoffs.get((team_id, provider))
        team = self._db.teams.get(team_id)
        found = [u for (t, _), u in backoffs.items() if t == team_id]
        if team is not None and team.backoff_until is not None:
            found.append(team.backoff_until)
        return max(found) if found else None

    async def set_team_backoff(
        self, team_id: str, *, until: datetime | None, provider: str | None = None
    ) -> None:
        await self._turn()
        team = self._db.teams.get(team_id)
        if team is None:
            return  # as SQL's UPDATE of no row; the family table's foreign key refuses it
        if provider is None:
            team.backoff_until = utc_or_none(until)
        elif until is None:
            self._db.provider_backoffs.pop((team_id, provider), None)
        else:
            self._db.provider_backoffs[(team_id, provider)] = utc(until)

    async def list_metric_points(self, team_id: str, job_id: str) -> Sequence[MetricPoint]:
        await self._turn()
        series = self._db.job_metrics.get(job_id)
        if series is None or series.team_id != team_id:
            return []
        return [series.points[step] for step in sorted(series.points)]

    # the outbox

    def _insert_messages(self, messages: Sequence[OutboxMessage], now: datetime) -> int:
        """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING: returns the rows that were new."""
        inserted = 0
        for message in messages:
            if message.dedupe_key in self._db.outbox_keys:
                continue
            row = OutboxRow(
                id=self._db.new_id(),
                team_id=message.team_id,
                dedupe_key=message.dedupe_key,
                kind=message.kind,
                job_id=message.job_id,
                card_key=message.card_key,
                target=message.target,
                body_json=json.dumps(reply_to_dict(message.reply)),
                created_at=now,
                available_at=now,
            )
            self._db.outbox[row.id] = row
            self._db.outbox_keys[row.dedupe_key] = row.id
            inserted += 1
        return inserted

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        await self._turn()
        return self._insert_messages(messages, utc(now))

    async def claim_outbox(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[OutboxItem]:
        """Lease unsent rows; a newer card row supersedes older unsent ones, and a card row
        waits while another row of its card is being posted (two posts would be two messages).
        """
        await self._turn()
        now = utc(now)
        rows = sorted(self._db.outbox.values(), key=lambda r: r.id)
        newest_pending: dict[str, int] = {}
        in_flight: Counter[str] = Counter()
        for row in rows:
            if row.card_key is not None and row.pending:
                newest_pending[row.card_key] = row.id
                if row.lease_until is not None and row.lease_until >= now:
                    in_flight[row.card_key] += 1
        for row in rows:
            if (
                row.card_key is not None
                and row.pending
                and not row.superseded
                and row.lease_free(now)
                and newest_pending[row.card_key] > row.id
            ):
                row.superseded = True
        due = [
            row
            for row in rows
            if row.pending
            and not row.superseded
            and row.available_at <= now
            and row.lease_free(now)
            # a free row is never in flight itself, so any in-flight row is a sibling
            and (row.card_key is None or in_flight[row.card_key] == 0)
        ][: max(limit, 0)]
        for row in due:
            row.lease_owner = owner
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.attempts += 1
        cards = self._db.cards
        claimed = {row.id for row in due}
        # A card never recorded as posted whose older row was claimed before may be out already.
        tried = {
            row.card_key
            for row in rows
            if row.card_key is not None
            and row.card_key not in cards
            and row.sent_at is None
            and row.attempts > 0
            and row.id not in claimed
        }
        return [
            OutboxItem(
                id=row.id,
                message=_message(row),
                attempts=row.attempts,
                lease_owner=owner,
                existing_message_id=(
                    cards[row.card_key].message_id
                    if row.card_key is not None and row.card_key in cards
                    else None
                ),
                created_at=row.created_at,
                maybe_posted=row.attempts > 1 or row.card_key in tried,
            )
            for row in due
        ]

    def _leased(self, item: OutboxItem) -> OutboxRow | None:
        row = self._db.outbox.get(item.id)
        if row is None or row.lease_owner != item.lease_owner or row.sent_at is not None:
            return None
        return row

    async def mark_sent(self, item: OutboxItem, *, message_id: str, now: datetime) -> bool:
        """Record the post; False (and nothing written) when the lease passed to another owner."""
        posts = [SentPost(item=item, message_id=message_id, sent_at=now)]
        return item.id in await self.mark_sent_many(posts)

    async def mark_sent_many(self, posts: Sequence[SentPost]) -> frozenset[int]:
        """Every post recorded at once (one turn), each as mark_sent would."""
        await self._turn()
        marked: set[int] = set()
        for post in posts:
            row = self._leased(post.item)
            if row is None:
                continue
            now = utc(post.sent_at)
            row.sent_at = now
            row.message_id = post.message_id
            row.lease_until = None
            row.last_error = None
            marked.add(row.id)
            if row.card_key is not None:
                self._db.cards[row.card_key] = CardRow(message_id=post.message_id, updated_at=now)
                job = None if row.job_id is None else self._db.jobs.get(row.job_id)
                if job is not None and row.kind == "card":
                    job.job = replace(job.job, card_message_id=post.message_id)
        return frozenset(marked)

    async def mark_failed(
        self, item: OutboxItem, *, error: str, retry_at: datetime | None
    ) -> None:
        await self._turn()
        row = self._leased(item)
        if row is None:
            return
        row.last_error = error[:MAX_ERROR_CHARS]
        row.lease_owner = None
        row.lease_until = None
        if retry_at is None:
            row.dead = True
        else:
            row.available_at = utc(retry_at)

    async def card_message_id(self, card_key: str) -> str | None:
        await self._turn()
        card = self._db.cards.get(card_key)
        return None if card is None else card.message_id

    async def card_message_ids(self, card_keys: Collection[str]) -> Mapping[str, str]:
        await self._turn()
        cards = self._db.cards
        return {key: cards[key].message_id for key in set(card_keys) if key in cards}

    async def outbox_stats(self, *, now: datetime) -> tuple[int, float]:
        """Unsent rows and the age in seconds of the oldest one."""
        await self._turn()
        waiting = [
            r.created_at for r in self._db.outbox.values() if r.pending and not r.superseded
        ]
        if not waiting:
            return 0, 0.0
        return len(waiting), max(0.0, (utc(now) - min(waiting)).total_seconds())

    # housekeeping and observability

    async def purge_outbox(self, *, before: datetime) -> int:
        """Delete finished rows (sent, dead or superseded) older than `before`; pending stay.

        A sent row's age is its sending time; a dead or superseded row's is its creation.
        """
        await self._turn()
        before = utc(before)
        finished = [
            row
            for row in self._db.outbox.values()
            if (row.sent_at is not None and row.sent_at < before)
            or (row.sent_at is None and (row.dead or row.superseded) and row.created_at < before)
        ]
        for row in finished:
            del self._db.outbox[row.id]
            del self._db.outbox_keys[row.dedupe_key]
        return len(finished)

    async def purge_webhook_inbox(self, *, before: datetime) -> int:
        """Forget webhook delivery ids received before `before` (OpenAI retries for 72 h)."""
        await self._turn()
        before = utc(before)
        old = [key for key, at in self._db.webhook_inbox.items() if at < before]
        for key in old:
            del self._db.webhook_inbox[key]
        return len(old)

    async def leases_by_owner(self, *, now: datetime) -> dict[str, int]:
        """Jobs leased right now (being polled), by the watcher holding them."""
        await self._turn()
        now = utc(now)
        counts = Counter(
            row.lease_owner
            for row in self._db.jobs.values()
            if row.lease_owner is not None
            and row.lease_until is not None
            and row.lease_until > now
        )
        return {str(owner): count for owner, count in counts.items()}

    async def watched_jobs_by_status(self) -> dict[str, int]:
        """Jobs still polled (next_poll_at set), counted by their last known status, in the
        provider's own words (as the SQL store counts them)."""
        await self._turn()
        counts = Counter(
            row.job.state.provider_status or row.job.state.status
            for row in self._db.jobs.values()
            if row.next_poll_at is not None
        )
        return {str(status): count for status, count in counts.items()}
