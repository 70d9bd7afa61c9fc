"""Infrastructure: drains the outbox through each platform's Notifier, paced per channel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from handlers.model import Platform
from handlers.ports import Clock, Notifier, OutboxItem, WatchStore
from handlers.watch import THREAD_KINDS, card_key

log = logging.getLogger(__name__)

DEFAULT_PACE: dict[Platform, float] = {
    Platform.SLACK: 1.0,  # Slack allows about one message per second per channel
    Platform.DISCORD: 0.25,
    Platform.CONSOLE: 0.0,
}


@dataclass(slots=True)
class DispatchStats:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
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

    async def tick(self) -> DispatchStats:
        stats = DispatchStats()
        items = await self._watch.claim_outbox(
            owner=self._owner, now=self._clock.now(), lease_seconds=self._lease, limit=self._batch
        )
        by_channel: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_channel[item.message.target.key].append(item)
        await asyncio.gather(*(self._drain(group, stats) for group in by_channel.values()))
        return stats

    async def _drain(self, items: list[OutboxItem], stats: DispatchStats) -> None:
        for item in items:
            await self._send(item, stats)

    async def _send(self, item: OutboxItem, stats: DispatchStats) -> None:
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
            thread = await self._watch.card_message_id(card_key(message.job_id))
            if thread is None and item.attempts < 4:
                # The card is not posted yet; its thread replies wait for it a little.
                await self._watch.mark_failed(
                    item, error="waiting for the job card", retry_at=now + timedelta(seconds=2)
                )
                stats.deferred += 1
                return
        await self._pace_channel(message.target.key, platform)
        try:
            message_id = await notifier.post(
                message.target,
                message.reply,
                dedupe_key=message.dedupe_key,
                edit_message_id=item.existing_message_id,
                thread_message_id=thread,
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
        sent_at = self._clock.now()
        await self._watch.mark_sent(item, message_id=message_id, now=sent_at)
        stats.sent += 1
        if item.created_at is not None:
            stats.latencies.append(max(0.0, (sent_at - item.created_at).total_seconds()))

    async def _pace_channel(self, key: str, platform: Platform) -> None:
        gap = self._pace.get(platform, 1.0)
        if gap <= 0:
            return
        last = self._last_post.get(key)
        current = time.monotonic()
        if last is not None and current - last < gap:
            await asyncio.sleep(gap - (current - last))
        self._last_post[key] = time.monotonic()
