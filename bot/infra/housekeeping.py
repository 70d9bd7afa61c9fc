"""Infrastructure: housekeeping: purge finished outbox rows and old webhook and request ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.infra.metrics import Metrics
from handlers.ports import Clock
from storage.store import SqlStore

log = logging.getLogger(__name__)

WEBHOOK_INBOX_DAYS = 3
"""OpenAI retries a delivery for up to 72 hours; an id older than that cannot come back."""


@dataclass(frozen=True, slots=True)
class Purged:
    outbox: int
    webhook_inbox: int
    request_ids: int = 0


async def purge(
    *, store: SqlStore, clock: Clock, metrics: Metrics, outbox_retention_days: float
) -> Purged:
    """Delete finished outbox rows, old webhook and request ids; safe on every replica at once."""
    now = clock.now()
    outbox = await store.purge_outbox(before=now - timedelta(days=outbox_retention_days))
    inbox = await store.purge_webhook_inbox(before=now - timedelta(days=WEBHOOK_INBOX_DAYS))
    requests = await store.purge_request_ids(before=now)
    metrics.inc("housekeeping_deleted_total", outbox, table="outbox")
    metrics.inc("housekeeping_deleted_total", inbox, table="webhook_inbox")
    metrics.inc("housekeeping_deleted_total", requests, table="request_ids")
    if outbox or inbox or requests:
        log.info(
            "housekeeping",
            extra={"outbox": outbox, "webhook_inbox": inbox, "request_ids": requests},
        )
    return Purged(outbox=outbox, webhook_inbox=inbox, request_ids=requests)
