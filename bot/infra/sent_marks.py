"""Infrastructure: the dispatcher's posts marked sent together (a group commit of acks)."""

from __future__ import annotations

import asyncio

from handlers.ports import SentPost, WatchStore


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
