"""Storage tests: request identities are claimed once across replicas; intents settle once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from handlers.model import StartIntent
from storage.memory.store import MemoryStore
from storage.tables import request_ids
from tests.dbutil import AnyStore, open_any_store
from tests.fakes.clock import T0
from tests.storage import factories as f

WINDOW = timedelta(minutes=10)


async def _identities(store: AnyStore) -> list[str]:
    """The identities still in the request_ids table, read from the table itself."""
    if isinstance(store, MemoryStore):
        return sorted(store.database.request_ids)
    async with store.engine.connect() as conn:
        return sorted((await conn.execute(select(request_ids.c.identity))).scalars())


def intent(key: str = "k1", **changes: object) -> StartIntent:
    made = StartIntent(
        key=key,
        team_id="slack:T1",
        requester_id="U1",
        channel=f.channel(),
        fingerprint="fp1",
        request={"model": "gpt-4.1-mini-2025-04-14", "training_file": "train"},
        estimated=0.25,
        price_per_million=3.0,
        account="OpenAI",
        created_at=T0,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


async def test_a_request_identity_is_claimed_once(store: AnyStore) -> None:
    assert await store.claim_request("slack:trigger_id:t1", expires_at=T0 + WINDOW)
    assert not await store.claim_request("slack:trigger_id:t1", expires_at=T0 + WINDOW)
    assert await store.claim_request("slack:trigger_id:t2", expires_at=T0 + WINDOW)


async def test_two_replicas_claiming_one_identity_at_once_one_wins(
    store: AnyStore, store_url: str
) -> None:
    async with open_any_store(store_url) as other:
        for n in range(5):
            identity = f"discord:interaction:{n}"
            won = await asyncio.gather(
                store.claim_request(identity, expires_at=T0 + WINDOW),
                other.claim_request(identity, expires_at=T0 + WINDOW),
            )
            assert sorted(won) == [False, True]


async def test_expired_identities_are_purged_and_live_ones_kept(store: AnyStore) -> None:
    await store.claim_request("old", expires_at=T0)
    await store.claim_request("live", expires_at=T0 + WINDOW)
    assert await store.purge_request_ids(before=T0 + timedelta(seconds=1)) == 1
    assert await _identities(store) == ["live"]
    assert not await store.claim_request("live", expires_at=T0 + WINDOW)


async def test_an_intent_is_kept_by_key_and_found_by_its_requester(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    first = await store.add_intent(intent())
    again = await store.add_intent(intent(estimated=9.0, created_at=T0 + timedelta(seconds=5)))
    assert again == first
    assert again.estimated == 0.25
    found = await store.find_intent(
        "slack:T1", requester_id="U1", fingerprint="fp1", since=T0 - timedelta(minutes=5)
    )
    assert found == first
    for team, user, fp in (("slack:T2", "U1", "fp1"), ("slack:T1", "U2", "fp1")):
        assert await store.find_intent(team, requester_id=user, fingerprint=fp, since=T0) is None
    assert (
        await store.find_intent("slack:T1", requester_id="U1", fingerprint="fp2", since=T0) is None
    )
    later = T0 + timedelta(seconds=1)
    assert (
        await store.find_intent("slack:T1", requester_id="U1", fingerprint="fp1", since=later)
        is None
    )
    assert await store.get_intent("slack:T2", "k1") is None


async def test_an_intent_settles_once_even_when_two_replicas_race(
    store: AnyStore, store_url: str
) -> None:
    await store.ensure_team(f.team())
    await store.add_intent(intent())
    assert [i.key for i in await store.list_open_intents()] == ["k1"]
    await store.link_intent("slack:T1", "k1", "ftjob-1")
    async with open_any_store(store_url) as other:
        won = await asyncio.gather(
            store.settle_intent("slack:T1", "k1", job_id="ftjob-1", at=T0),
            other.settle_intent("slack:T1", "k1", job_id="ftjob-1", at=T0),
        )
    assert sorted(won) == [False, True]
    assert await store.list_open_intents() == []
    settled = await store.get_intent("slack:T1", "k1")
    assert settled is not None
    assert (settled.job_id, settled.settled_at) == ("ftjob-1", T0)


async def test_an_intent_that_made_nothing_lets_an_identical_start_go_ahead(
    store: AnyStore,
) -> None:
    await store.ensure_team(f.team())
    await store.add_intent(intent())
    assert await store.settle_intent("slack:T1", "k1", job_id=None, at=T0)
    assert (
        await store.find_intent("slack:T1", requester_id="U1", fingerprint="fp1", since=T0) is None
    )
    assert await _identities(store) == []
