"""Storage tests: the WatchStore port: leases, fencing, outbox dedupe, card supersede, acks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handlers.model import MetricPoint
from handlers.ports import PollResult, SentPost, WatchClaim
from tests.dbutil import AnyStore, open_any_store
from tests.fakes.clock import T0, ManualClock
from tests.storage import factories as f


async def _jobs(store: AnyStore, *ids: str, due: timedelta = timedelta()) -> None:
    await store.ensure_team(f.team())
    for job_id in ids:
        await store.add_job(f.job(job_id), next_poll_at=T0 + due)


async def _claim(
    store: AnyStore, owner: str = "w1", *, at: float = 0, lease: float = 60
) -> list[WatchClaim]:
    now = T0 + timedelta(seconds=at)
    return list(await store.claim_due_jobs(owner=owner, now=now, lease_seconds=lease, limit=10))


async def _commit(
    store: AnyStore,
    claim: WatchClaim,
    owner: str = "w1",
    *,
    messages: tuple[str, ...] = (),
    points: tuple[MetricPoint, ...] = (),
    next_poll_in: float | None = 60,
) -> bool:
    return await store.commit_poll(
        claim,
        owner=owner,
        state=f.state(claim.job.id, status="running"),
        cursor="ev-9",
        messages=[f.message(key, job_id=claim.job.id) for key in messages],
        metric_points=points,
        next_poll_at=None if next_poll_in is None else T0 + timedelta(seconds=next_poll_in),
        polls_without_news=0,
        last_notified_metric_at=T0,
    )


async def test_claim_due_jobs_in_due_order_and_leases_them(store: AnyStore) -> None:
    await _jobs(store, "j1", "j2", "j3")
    await store.add_job(f.job("later"), next_poll_at=T0 + timedelta(hours=1))
    claims = await _claim(store, at=5)
    assert [c.job.id for c in claims] == ["j1", "j2", "j3"]
    assert all(c.fence == 1 and c.cursor is None for c in claims)
    assert claims[0].job.channel == f.channel()
    assert await _claim(store, "w2", at=30) == []  # still leased
    again = await _claim(store, "w2", at=61)  # lease of 60 s from t=5 has expired at t=65
    assert again == []
    again = await _claim(store, "w2", at=66)
    assert [c.job.id for c in again] == ["j1", "j2", "j3"]
    assert all(c.fence == 2 for c in again)


async def test_claim_respects_limit(store: AnyStore) -> None:
    await _jobs(store, "j1", "j2", "j3")
    claims = await store.claim_due_jobs(
        owner="w", now=T0 + timedelta(seconds=9), lease_seconds=9, limit=2
    )
    assert [c.job.id for c in claims] == ["j1", "j2"]


async def test_commit_poll_advances_and_finished_jobs_are_never_claimed(store: AnyStore) -> None:
    await _jobs(store, "j1", "j2")
    c1, c2 = await _claim(store)
    point = MetricPoint(step=1, train_loss=1.5, total_steps=10)
    assert await _commit(store, c1, messages=("j1:ev-1",), points=(point,))
    assert await _commit(store, c2, next_poll_in=None)
    assert await _claim(store, at=59) == []
    (again,) = await _claim(store, at=60)
    assert again.job.id == "j1"
    assert again.cursor == "ev-9"
    assert again.fence == 2
    assert again.last_notified_metric_at == T0
    # j1's lease has long expired, so it comes back; j2 finished and never does
    assert [c.job.id for c in await _claim(store, "w9", at=10_000)] == ["j1"]
    assert await store.list_metric_points("slack:T1", "j1") == [point]


async def test_stale_claim_writes_nothing(store: AnyStore) -> None:
    await _jobs(store, "j1")
    (stale,) = await _claim(store, "w1", lease=10)
    (fresh,) = await _claim(store, "w2", at=11, lease=60)
    assert fresh.fence == stale.fence + 1
    point = MetricPoint(step=1, train_loss=1.0)
    assert not await _commit(store, stale, "w1", messages=("j1:ev-1",), points=(point,))
    assert await store.outbox_stats(now=T0) == (0, 0.0)
    assert await store.list_metric_points("slack:T1", "j1") == []
    assert not await store.release_claim(stale, owner="w1", next_poll_at=T0)
    # the same owner with an old fence is stale too
    (newer,) = await _claim(store, "w2", at=100)
    assert not await _commit(store, fresh, "w2", messages=("j1:ev-1",))
    assert await _commit(store, newer, "w2", messages=("j1:ev-1",))
    assert (await store.outbox_stats(now=T0))[0] == 1


async def test_release_claim_sets_next_poll(store: AnyStore) -> None:
    await _jobs(store, "j1")
    (claim,) = await _claim(store)
    assert await store.release_claim(claim, owner="w1", next_poll_at=T0 + timedelta(seconds=30))
    assert await _claim(store, at=29) == []
    assert [c.job.id for c in await _claim(store, at=30)] == ["j1"]


async def test_team_backoff_pauses_its_claims(store: AnyStore) -> None:
    await _jobs(store, "j1")
    assert await store.team_backoff_until("slack:T1") is None
    until = T0 + timedelta(seconds=120)
    await store.set_team_backoff("slack:T1", until=until)
    assert await store.team_backoff_until("slack:T1") == until
    assert await _claim(store, at=60) == []
    assert [c.job.id for c in await _claim(store, at=121)] == ["j1"]
    await store.set_team_backoff("slack:T1", until=None)
    assert await store.team_backoff_until("slack:T1") is None
    assert await store.team_backoff_until("slack:T404") is None


async def test_mark_job_due(store: AnyStore) -> None:
    await _jobs(store, "j1", due=timedelta(hours=1))
    assert await _claim(store, at=10) == []
    assert await store.mark_job_due("j1", now=T0 + timedelta(seconds=10))
    assert [c.job.id for c in await _claim(store, at=10)] == ["j1"]
    assert not await store.mark_job_due("j404", now=T0)


async def test_two_engines_racing_claim_disjoint_sets(store_url: str, store: AnyStore) -> None:
    ids = [f"j{n:02d}" for n in range(30)]
    await _jobs(store, *ids)
    now = T0 + timedelta(minutes=5)
    async with open_any_store(store_url) as a, open_any_store(store_url) as b:

        async def drain(s: AnyStore, owner: str) -> list[str]:
            got: list[str] = []
            for _ in range(10):
                claims = await s.claim_due_jobs(owner=owner, now=now, lease_seconds=60, limit=3)
                got += [c.job.id for c in claims]
            return got

        first, second = await asyncio.gather(drain(a, "a"), drain(b, "b"))
    assert not set(first) & set(second)
    assert sorted(first + second) == ids


async def test_a_claim_takes_whole_teams_while_they_fit(store: AnyStore) -> None:
    for workspace, count in (("T1", 2), ("T2", 3), ("T3", 1)):
        await store.ensure_team(f.team(workspace))
        for n in range(count):
            job = f.job(f"{workspace}-{n}", team_id=f"slack:{workspace}")
            await store.add_job(job, next_poll_at=T0 + timedelta(seconds=n))
    now = T0 + timedelta(minutes=1)

    async def claim(owner: str, limit: int) -> list[str]:
        claims = await store.claim_due_jobs(owner=owner, now=now, lease_seconds=60, limit=limit)
        return [c.job.id for c in claims]

    # T1 and T2 (2 + 3) do not both fit in 4: T2 waits whole for the next claim
    assert await claim("a", 4) == ["T1-0", "T1-1"]
    assert sorted(await claim("b", 4)) == ["T2-0", "T2-1", "T2-2", "T3-0"]
    assert await claim("c", 4) == []


async def test_concurrent_claimers_never_split_a_teams_due_jobs(
    store_url: str, store: AnyStore
) -> None:
    sizes = [1 + n % 4 for n in range(24)]  # 24 teams of 1 to 4 due jobs, 60 jobs
    for t, size in enumerate(sizes):
        await store.ensure_team(f.team(f"W{t:02d}"))
        for n in range(size):
            job = f.job(f"W{t:02d}-{n}", team_id=f"slack:W{t:02d}")
            await store.add_job(job, next_poll_at=T0 + timedelta(seconds=n % 2))
    now = T0 + timedelta(minutes=5)
    async with (
        open_any_store(store_url) as a,
        open_any_store(store_url) as b,
        open_any_store(store_url) as c,
    ):

        async def drain(s: AnyStore, owner: str) -> list[list[WatchClaim]]:
            chunks: list[list[WatchClaim]] = []
            while claims := list(
                await s.claim_due_jobs(owner=owner, now=now, lease_seconds=60, limit=5)
            ):
                chunks.append(claims)
                await asyncio.sleep(0)
            return chunks

        drained = await asyncio.gather(drain(a, "a"), drain(b, "b"), drain(c, "c"))
    chunks = [chunk for owner_chunks in drained for chunk in owner_chunks]
    per_team: dict[str, int] = {}
    for chunk in chunks:
        assert len(chunk) <= 5
        for team_id in {claim.job.team_id for claim in chunk}:
            assert team_id not in per_team, f"{team_id} split between claims"
            per_team[team_id] = sum(claim.job.team_id == team_id for claim in chunk)
    assert sorted(per_team.values()) == sorted(sizes)
    assert sum(len(chunk) for chunk in chunks) == sum(sizes)


async def test_enqueue_dedupes(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    assert await store.enqueue([f.message("k1"), f.message("k2")], now=T0) == 2
    assert await store.enqueue([f.message("k1", title="again"), f.message("k3")], now=T0) == 1
    items = await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=10)
    assert [i.message.dedupe_key for i in items] == ["k1", "k2", "k3"]
    assert items[0].message == f.message("k1")
    assert items[0].attempts == 1
    assert items[0].lease_owner == "d"


async def test_claim_outbox_leases_and_respects_limit(store: AnyStore) -> None:
    await store.enqueue([f.message(f"k{n}") for n in range(4)], now=T0)
    first = await store.claim_outbox(owner="d1", now=T0, lease_seconds=30, limit=3)
    assert [i.id for i in first] == sorted(i.id for i in first)
    assert len(first) == 3
    second = await store.claim_outbox(owner="d2", now=T0, lease_seconds=30, limit=3)
    assert [i.message.dedupe_key for i in second] == ["k3"]
    assert await store.claim_outbox(owner="d2", now=T0, lease_seconds=30, limit=3) == []
    expired = await store.claim_outbox(
        owner="d2", now=T0 + timedelta(seconds=31), lease_seconds=30, limit=10
    )
    assert [i.message.dedupe_key for i in expired] == ["k0", "k1", "k2", "k3"]
    assert [i.attempts for i in expired] == [2, 2, 2, 2]


async def test_future_rows_wait(store: AnyStore) -> None:
    await store.enqueue([f.message("k1")], now=T0 + timedelta(seconds=10))
    assert await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=5) == []
    assert await store.outbox_stats(now=T0 + timedelta(seconds=40)) == (1, 30.0)


async def test_mark_sent_is_guarded_by_the_lease(store: AnyStore) -> None:
    await store.enqueue([f.message("k1"), f.message("k2")], now=T0)
    old = await store.claim_outbox(owner="d1", now=T0, lease_seconds=5, limit=5)
    later = T0 + timedelta(seconds=6)
    new = await store.claim_outbox(owner="d2", now=later, lease_seconds=5, limit=5)
    assert not await store.mark_sent(old[0], message_id="m-old", now=later)
    assert await store.mark_sent(new[0], message_id="m1", now=later)
    assert not await store.mark_sent(new[0], message_id="m1", now=later)  # once only
    assert await store.outbox_stats(now=later) == (1, 6.0)
    assert (
        await store.claim_outbox(owner="d3", now=T0 + timedelta(hours=1), lease_seconds=5, limit=5)
        != []
    )


def _result(claim: WatchClaim, *messages: str, points: tuple[MetricPoint, ...] = ()) -> PollResult:
    return PollResult(
        claim=claim,
        state=f.state(claim.job.id, status="running"),
        cursor="ev-9",
        messages=[f.message(key, job_id=claim.job.id) for key in messages],
        metric_points=points,
        next_poll_at=T0 + timedelta(seconds=60),
        polls_without_news=0,
        last_notified_metric_at=T0,
    )


async def test_commit_polls_writes_only_the_jobs_still_leased(store: AnyStore) -> None:
    await _jobs(store, "j1", "j2", "j3")
    stale = await _claim(store, lease=5)
    claims = {c.job.id: c for c in await _claim(store, "w2", at=6)}
    mine = [_result(stale[0], "j1:old")]  # j1's lease passed to w2
    mine += [_result(claims[j], f"{j}:ev-1", points=(MetricPoint(step=1),)) for j in ("j2", "j3")]
    until = T0 + timedelta(hours=1)
    await store.set_team_backoff("slack:T1", until=until, provider="openai")
    committed = await store.commit_polls(mine, owner="w2", resume=("slack:T1", "openai"))
    assert committed == {"j2", "j3"}
    assert await store.team_backoff_until("slack:T1", provider="openai") is None
    items = await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=10)
    assert [i.message.dedupe_key for i in items] == ["j2:ev-1", "j3:ev-1"]
    assert [p.step for p in await store.list_metric_points("slack:T1", "j3")] == [1]
    assert await store.list_metric_points("slack:T1", "j1") == []
    assert await store.commit_polls(mine[1:], owner="w2") == frozenset()  # the leases are back
    assert [c.job.id for c in await _claim(store, "w3", at=61)] == ["j2", "j3"]
    assert await store.commit_polls([], owner="w2") == frozenset()


async def test_mark_sent_many_marks_the_rows_still_leased_in_one_call(store: AnyStore) -> None:
    await _jobs(store, "j1", "j2")
    await store.enqueue(
        [
            f.message("c1", job_id="j1", card_key="card:j1", kind="card"),
            f.message("c2", job_id="j2", card_key="card:j2", kind="card"),
            f.message("e1", job_id="j1"),
        ],
        now=T0,
    )
    stale = await store.claim_outbox(owner="d1", now=T0, lease_seconds=5, limit=1)
    later = T0 + timedelta(seconds=6)
    items = await store.claim_outbox(owner="d2", now=later, lease_seconds=5, limit=5)
    c1, c2, e1 = items
    sent = [
        SentPost(item=stale[0], message_id="m-old", sent_at=later),  # its lease passed to d2
        SentPost(item=c2, message_id="ts-2", sent_at=later),
        SentPost(item=e1, message_id="ts-3", sent_at=later + timedelta(seconds=1)),
    ]
    assert await store.mark_sent_many(sent) == {c2.id, e1.id}
    assert await store.mark_sent_many(sent[1:]) == frozenset()  # once only
    assert await store.mark_sent_many([]) == frozenset()
    assert await store.card_message_ids(["card:j1", "card:j2", "card:none"]) == {"card:j2": "ts-2"}
    job = await store.get_job("slack:T1", "j2")
    assert job is not None
    assert job.card_message_id == "ts-2"
    assert await store.outbox_stats(now=later) == (1, 6.0)  # c1 only
    assert await store.mark_sent(c1, message_id="ts-1", now=later)
    assert await store.card_message_ids(["card:j1"]) == {"card:j1": "ts-1"}
    # an edit in place keeps the card's message
    await store.enqueue(
        [f.message("c1b", job_id="j1", card_key="card:j1", kind="card")], now=later
    )
    (edit,) = await store.claim_outbox(owner="d2", now=later, lease_seconds=5, limit=5)
    assert edit.existing_message_id == "ts-1"
    assert await store.mark_sent_many([SentPost(item=edit, message_id="ts-1", sent_at=later)]) == {
        edit.id
    }
    assert await store.card_message_ids(["card:j1"]) == {"card:j1": "ts-1"}
    assert await store.outbox_stats(now=later) == (0, 0.0)


async def test_mark_failed_retries_then_dead_letters(store: AnyStore) -> None:
    await store.enqueue([f.message("k1")], now=T0)
    (item,) = await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=5)
    retry_at = T0 + timedelta(seconds=20)
    await store.mark_failed(item, error="429 rate limited", retry_at=retry_at)
    assert (
        await store.claim_outbox(
            owner="d", now=T0 + timedelta(seconds=19), lease_seconds=30, limit=5
        )
        == []
    )
    (again,) = await store.claim_outbox(owner="d", now=retry_at, lease_seconds=30, limit=5)
    assert again.attempts == 2
    await store.mark_failed(again, error="x" * 5000, retry_at=None)
    assert await store.outbox_stats(now=retry_at) == (0, 0.0)
    assert (
        await store.claim_outbox(owner="d", now=T0 + timedelta(days=1), lease_seconds=30, limit=5)
        == []
    )
    assert not await store.mark_sent(again, message_id="m", now=retry_at)


async def test_only_the_newest_card_state_is_posted(store: AnyStore) -> None:
    await _jobs(store, "j1")
    card = "card:j1"
    states = [
        f.message(f"j1:card:{n}", title=f"state {n}", job_id="j1", card_key=card, kind="card")
        for n in range(3)
    ]
    await store.enqueue([*states, f.message("j1:ev-1", job_id="j1")], now=T0)
    items = await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=10)
    assert [i.message.dedupe_key for i in items] == ["j1:card:2", "j1:ev-1"]
    card_item = items[0]
    assert card_item.existing_message_id is None
    assert await store.mark_sent(card_item, message_id="ts-1", now=T0)
    assert await store.card_message_id(card) == "ts-1"
    job = await store.get_job("slack:T1", "j1")
    assert job is not None
    assert job.card_message_id == "ts-1"
    # the next state edits the same message
    await store.enqueue([f.message("j1:card:3", job_id="j1", card_key=card, kind="card")], now=T0)
    (edit,) = await store.claim_outbox(owner="d", now=T0, lease_seconds=30, limit=10)
    assert edit.existing_message_id == "ts-1"
    assert await store.outbox_stats(now=T0) == (2, 0.0)  # j1:ev-1 and the edit are unsent


async def test_a_card_row_waits_while_its_older_row_is_in_flight(store: AnyStore) -> None:
    card = "card:j1"
    await store.enqueue([f.message("c0", card_key=card, kind="card")], now=T0)
    (first,) = await store.claim_outbox(owner="d1", now=T0, lease_seconds=30, limit=5)
    await store.enqueue([f.message("c1", card_key=card, kind="card")], now=T0)
    assert await store.claim_outbox(owner="d2", now=T0, lease_seconds=30, limit=5) == []
    assert await store.mark_sent(first, message_id="ts-9", now=T0)
    (second,) = await store.claim_outbox(owner="d2", now=T0, lease_seconds=30, limit=5)
    assert second.message.dedupe_key == "c1"
    assert second.existing_message_id == "ts-9"


async def test_metric_points_dedupe_by_step_and_are_scoped(store: AnyStore) -> None:
    await _jobs(store, "j1")
    (claim,) = await _claim(store)
    points = (MetricPoint(step=2, train_loss=0.5), MetricPoint(step=1, train_loss=0.9))
    assert await _commit(store, claim, points=points)
    (claim,) = await _claim(store, at=60)
    assert await _commit(store, claim, points=(MetricPoint(step=2, train_loss=9.9),))
    assert [p.step for p in await store.list_metric_points("slack:T1", "j1")] == [1, 2]
    assert (await store.list_metric_points("slack:T1", "j1"))[1].train_loss == 0.5
    assert await store.list_metric_points("discord:G9", "j1") == []


async def test_commit_poll_stamps_rows_with_the_clock(store: AnyStore, clock: ManualClock) -> None:
    await _jobs(store, "j1")
    (claim,) = await _claim(store)
    clock.advance(100)
    assert await _commit(store, claim, messages=("j1:ev-1", "j1:ev-1"))
    assert await store.claim_outbox(owner="d", now=T0, lease_seconds=5, limit=5) == []
    items = await store.claim_outbox(owner="d", now=clock(), lease_seconds=5, limit=5)
    assert [i.message.dedupe_key for i in items] == ["j1:ev-1"]
    job = await store.get_job("slack:T1", "j1")
    assert job is not None
    assert job.updated_at == clock()


async def test_two_engines_racing_claim_outbox_disjoint_rows(
    store_url: str, store: AnyStore
) -> None:
    keys = [f"k{n:02d}" for n in range(30)]
    await store.enqueue([f.message(key) for key in keys], now=T0)
    async with open_any_store(store_url) as a, open_any_store(store_url) as b:

        async def drain(s: AnyStore, owner: str) -> list[str]:
            got: list[str] = []
            for _ in range(10):
                items = await s.claim_outbox(owner=owner, now=T0, lease_seconds=60, limit=3)
                got += [i.message.dedupe_key for i in items]
            return got

        first, second = await asyncio.gather(drain(a, "a"), drain(b, "b"))
    assert not set(first) & set(second)
    assert sorted(first + second) == keys


async def test_a_poll_with_more_rows_than_one_statement_holds(store: AnyStore) -> None:
    await _jobs(store, "j1")
    (claim,) = await _claim(store)
    points = tuple(MetricPoint(step=n, train_loss=1.0 / n) for n in range(1, 1301))
    keys = tuple(f"j1:ev-{n}" for n in range(1201))
    assert await _commit(store, claim, points=points, messages=keys)
    stored = await store.list_metric_points("slack:T1", "j1")
    assert [p.step for p in stored] == list(range(1, 1301))
    assert await store.enqueue([f.message(key) for key in keys[:700]], now=T0) == 0
    assert await store.enqueue([f.message("j1:new")], now=T0) == 1


async def test_a_row_claimed_again_or_a_card_tried_before_may_be_posted(store: AnyStore) -> None:
    """A row claimed a second time, or the newer state of a card whose older row was claimed
    and never marked, may be out already (a crash between the post and its mark)."""
    card = "card:j1"
    await store.enqueue([f.message("e1"), f.message("c0", card_key=card, kind="card")], now=T0)
    first = await store.claim_outbox(owner="d1", now=T0, lease_seconds=30, limit=5)
    assert [i.maybe_posted for i in first] == [False, False]
    # d1 stops without marking anything; the card moves on meanwhile.
    await store.enqueue([f.message("c1", card_key=card, kind="card")], now=T0)
    later = T0 + timedelta(seconds=31)
    again = await store.claim_outbox(owner="d2", now=later, lease_seconds=30, limit=5)
    assert [(i.message.dedupe_key, i.maybe_posted) for i in again] == [
        ("e1", True),
        ("c1", True),
    ]
    assert await store.mark_sent(again[1], message_id="ts-1", now=later)
    # Once the card is recorded its next state is an edit, nothing to look for.
    await store.enqueue([f.message("c2", card_key=card, kind="card")], now=later)
    (edit,) = [
        i
        for i in await store.claim_outbox(owner="d2", now=later, lease_seconds=30, limit=5)
        if i.message.card_key == card
    ]
    assert (edit.existing_message_id, edit.maybe_posted) == ("ts-1", False)
