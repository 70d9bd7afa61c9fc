"""Infrastructure: drains the outbox through each platform's Notifier, paced per channel,
marking the posts sent in group commits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from handlers.model import Platform
from handlers.ports import Clock, Notifier, OutboxItem, PostLookup, SentPost, WatchStore
from handlers.watch import CARD, THREAD_KINDS, card_key

log = logging.getLogger(__name__)

DEFAULT_PACE: dict[Platform, float] = {
    Platform.SLACK: 1.0,  # Slack allows about one message per second per channel
    Platform.DISCORD: 0.25,
    Platform.CONSOLE: 0.0,
}

LOOKUP_SKEW = timedelta(minutes=2)
"""How far before a row's enqueueing its earlier post is looked for (clocks differ)."""


class SentMarks:
    """Posts wait here for their mark; `flush` writes every waiting one in one transaction.

    Channels drain concurrently, and each flushes when it pauses (between paced posts) and
    when it is done: a flush takes the marks of every channel posted so far, so a tick over
    many channels writes a few transactions instead of one per post. When `flush` returns,
    every mark added before the call is written (by this flush or by the one it waited for).
    """

    def __init__(self, watch_store: WatchStore) -> None:
        self._watch = watch_store
        self._waiting: list[SentPost] = []
        self._lock = asyncio.Lock()

    def add(self, post: SentPost) -> None:
        self._waiting.append(post)

    async def flush(self) -> None:
        async with self._lock:
            if not self._waiting:
                return
            batch, self._waiting = self._waiting, []
            # A failed write leaves the rows leased and unsent: they are posted again once
            # the lease runs out, as after a crash between the post and its mark.
            await self._watch.mark_sent_many(batch)


@dataclass(slots=True)
class DispatchStats:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    adopted: int = 0
    """Rows found already posted (by a process that stopped before marking them)."""
    latencies: list[float] = field(default_factory=list)
    """Seconds from each posted row's enqueueing to its post."""


class Dispatcher:
    """Claims outbox rows, posts them, records the platform message id; retries with backoff."""

    def __init__(
        self,
        *,
        watch_store: WatchStore,
        notifiers: Mapping[Platform, Notifier],
        clock: Clock,
        owner: str,
        lease_seconds: float = 60.0,
        batch: int = 50,
        max_attempts: int = 8,
        pace: Mapping[Platform, float] | None = None,
    ) -> None:
        self._watch = watch_store
        self._notifiers = notifiers
        self._clock = clock
        self._owner = owner
        self._lease = lease_seconds
        self._batch = batch
        self._max_attempts = max_attempts
        self._pace = dict(DEFAULT_PACE if pace is None else pace)
        self._last_post: dict[str, float] = {}
        self._ticking = asyncio.Lock()

    async def tick(self) -> DispatchStats:
        """Claims a batch and posts it. Ticks of one dispatcher (the periodic one, one after a
        sweep's news, one after a webhook) take turns, so a channel's pacing holds."""
        async with self._ticking:
            return await self._tick()

    async def _tick(self) -> DispatchStats:
        stats = DispatchStats()
        items = await self._watch.claim_outbox(
            owner=self._owner, now=self._clock.now(), lease_seconds=self._lease, limit=self._batch
        )
        by_channel: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_channel[item.message.target.key].append(item)
        # The cards the thread replies hang under, read once for the whole tick; a card
        # posted during the tick is added as it is posted.
        threads = dict(
            await self._watch.card_message_ids(
                {
                    card_key(item.message.job_id)
                    for item in items
                    if item.message.kind in THREAD_KINDS and item.message.job_id
                }
            )
        )
        marks = SentMarks(self._watch)
        try:
            await asyncio.gather(
                *(self._drain(group, stats, threads, marks) for group in by_channel.values())
            )
        finally:
            await marks.flush()  # a channel that failed mid-drain still records what it posted
        return stats

    async def _drain(
        self,
        items: list[OutboxItem],
        stats: DispatchStats,
        threads: dict[str, str],
        marks: SentMarks,
    ) -> None:
        for item in items:
            await self._send(item, stats, threads, marks)
        await marks.flush()

    async def _send(
        self, item: OutboxItem, stats: DispatchStats, threads: dict[str, str], marks: SentMarks
    ) -> None:
        message = item.message
        platform = message.target.platform
        notifier = self._notifiers.get(platform)
        now = self._clock.now()
        if notifier is None:
            log.error("no notifier for platform", extra={"platform": platform.value})
            await self._watch.mark_failed(item, error=f"no {platform} notifier", retry_at=None)
            stats.failed += 1
            return
        thread: str | None = None
        if message.kind in THREAD_KINDS and message.job_id:
            thread = threads.get(card_key(message.job_id))
            if thread is None and item.attempts < 4:
                # The card is not posted yet; its thread replies wait for it a little.
                await self._watch.mark_failed(
                    item, error="waiting for the job card", retry_at=now + timedelta(seconds=2)
                )
                stats.deferred += 1
                return
        edit = item.existing_message_id
        found = await self._already_posted(notifier, item, thread)
        if found is not None and message.card_key is None:
            self._record(item, found, stats, threads, marks)
            stats.adopted += 1
            return
        if found is not None:
            edit = found  # the card is out (maybe in an older state): bring it up to date
            stats.adopted += 1
        await self._pace_channel(message.target.key, platform, marks)
        try:
            message_id = await notifier.post(
                message.target,
                message.reply,
                dedupe_key=message.dedupe_key,
                edit_message_id=edit,
                thread_message_id=thread,
                card_key=message.card_key,
            )
        except Exception as error:  # any platform failure: retry later, never lose the row
            retry = (
                now + timedelta(seconds=min(2**item.attempts, 300))
                if item.attempts < self._max_attempts
                else None
            )
            log.warning(
                "post failed",
                extra={
                    "dedupe_key": message.dedupe_key,
                    "attempts": item.attempts,
                    "error": type(error).__name__,
                },
            )
            await self._watch.mark_failed(
                item, error=f"{type(error).__name__}: {error}"[:500], retry_at=retry
            )
            stats.failed += 1
            return
        self._record(item, message_id, stats, threads, marks)

    def _record(
        self,
        item: OutboxItem,
        message_id: str,
        stats: DispatchStats,
        threads: dict[str, str],
        marks: SentMarks,
    ) -> None:
        message = item.message
        sent_at = self._clock.now()
        marks.add(SentPost(item=item, message_id=message_id, sent_at=sent_at))
        if message.card_key is not None and message.kind == CARD and message.job_id:
            threads[message.card_key] = message_id
        stats.sent += 1
        if item.created_at is not None:
            stats.latencies.append(max(0.0, (sent_at - item.created_at).total_seconds()))

    async def _already_posted(
        self, notifier: Notifier, item: OutboxItem, thread: str | None
    ) -> str | None:
        """The message an earlier claim posted for this row, when it may have posted one and
        the platform can look it up: posting again would repeat it."""
        if not item.maybe_posted or item.existing_message_id is not None:
            return None
        if not isinstance(notifier, PostLookup):
            return None
        since = item.created_at - LOOKUP_SKEW if item.created_at is not None else None
        try:
            return await notifier.find_posted(
                item.message.target,
                dedupe_key=item.message.dedupe_key,
                card_key=item.message.card_key,
                thread_message_id=thread,
                since=since,
            )
        except Exception as error:  # a failed lookup posts as before: never lose the row
            log.warning(
                "lookup of an earlier post failed",
                extra={"dedupe_key": item.message.dedupe_key, "error": type(error).__name__},
            )
            return None

    async def _pace_channel(self, key: str, platform: Platform, marks: SentMarks) -> None:
        gap = self._pace.get(platform, 1.0)
        if gap <= 0:
            return
        last = self._last_post.get(key)
        if last is not None and time.monotonic() - last < gap:
            await marks.flush()  # the channel waits anyway: its posts so far are marked now
            current = time.monotonic()
            if current - last < gap:
                await asyncio.sleep(gap - (current - last))
        self._last_post[key] = time.monotonic()
