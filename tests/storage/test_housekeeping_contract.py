"""Storage tests: housekeeping deletes only finished outbox rows and old webhook ids; counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.memory.store import MemoryStore
from storage.tables import outbox
from tests.dbutil import AnyStore
from tests.fakes.clock import T0
from tests.storage import factories as f


async def _keys(store: AnyStore) -> set[str]:
    """The dedupe keys of the rows still in the outbox table, read from the table itself."""
    if isinstance(store, MemoryStore):
        return {row.dedupe_key for row in store.database.outbox.values()}
    async with store.engine.connect() as conn:
        return {str(k) for k in (await conn.execute(select(outbox.c.dedupe_key))).scalars()}


async def test_purge_outbox_deletes_old_finished_rows_only(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    card = "card:j1"
    await store.enqueue(
        [
            f.message("sent-old"),
            f.message("dead-old"),
            f.message("pending-old"),
            f.message("c0", card_key=card, kind="card"),
            f.message("c1", card_key=card, kind="card"),
        ],
        now=T0,
    )
    items = {
        i.message.dedupe_key: i
        for i in await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=10)
    }
    assert set(items) == {"sent-old", "dead-old", "pending-old", "c1"}  # c0 is superseded
    assert items["c1"].created_at == T0
    assert await store.mark_sent(items["sent-old"], message_id="m1", now=T0)
    assert await store.mark_sent(items["c1"], message_id="m2", now=T0)
    await store.mark_failed(items["dead-old"], error="gone", retry_at=None)
    await store.mark_failed(items["pending-old"], error="later", retry_at=T0 + timedelta(days=30))
    later = T0 + timedelta(days=8)
    await store.enqueue([f.message("sent-new")], now=later)
    (fresh,) = await store.claim_outbox(owner="d", now=later, lease_seconds=30, limit=10)
    assert await store.mark_sent(fresh, message_id="m3", now=later)

    assert await store.purge_outbox(before=T0) == 0  # strictly older only
    removed = await store.purge_outbox(before=T0 + timedelta(days=7))
    assert removed == 4
    assert await _keys(store) == {"pending-old", "sent-new"}
    assert await store.outbox_stats(now=later) == (1, (later - T0).total_seconds())
    # the card's message id survives the purge: later states still edit the same message
    assert await store.card_message_id(card) == "m2"


async def test_purge_webhook_inbox(store: AnyStore) -> None:
    assert await store.webhook_seen("wh-old", T0)
    assert await store.webhook_seen("wh-new", T0 + timedelta(days=3, seconds=1))
    assert await store.purge_webhook_inbox(before=T0 + timedelta(days=3)) == 1
    assert await store.webhook_seen("wh-old", T0 + timedelta(days=4))  # forgotten
    assert not await store.webhook_seen("wh-new", T0 + timedelta(days=4))


async def test_watched_jobs_by_status(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    assert await store.watched_jobs_by_status() == {}
    await store.add_job(f.job("j1", status="running"), next_poll_at=T0)
    await store.add_job(f.job("j2", status="running"), next_poll_at=T0)
    await store.add_job(f.job("j3", status="queued"), next_poll_at=T0)
    await store.add_job(f.job("j4", status="succeeded"), next_poll_at=T0)
    claims = await store.claim_due_jobs(owner="w", now=T0, lease_seconds=60, limit=10)
    done = next(c for c in claims if c.job.id == "j4")
    assert await store.commit_poll(
        done,
        owner="w",
        state=f.state("j4", status="succeeded"),
        cursor=None,
        messages=(),
        metric_points=(),
        next_poll_at=None,
        polls_without_news=0,
        last_notified_metric_at=None,
    )
    assert await store.watched_jobs_by_status() == {"running": 2, "queued": 1}


async def test_leases_by_owner_counts_the_live_leases(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    for n in range(5):
        await store.add_job(f.job(f"j{n}"), next_poll_at=T0 + timedelta(seconds=n))
    assert await store.leases_by_owner(now=T0) == {}
    a = await store.claim_due_jobs(
        owner="a", now=T0 + timedelta(seconds=1), lease_seconds=30, limit=2
    )
    await store.claim_due_jobs(owner="b", now=T0 + timedelta(seconds=4), lease_seconds=60, limit=9)
    assert [c.due_at for c in a] == [T0, T0 + timedelta(seconds=1)]
    assert await store.leases_by_owner(now=T0 + timedelta(seconds=5)) == {"a": 2, "b": 3}
    # a's leases have run out; a released lease is no lease
    await store.release_claim(a[0], owner="a", next_poll_at=T0 + timedelta(hours=1))
    assert await store.leases_by_owner(now=T0 + timedelta(seconds=40)) == {"b": 3}
