"""Storage tests: the Store port's contract (teams, files, jobs, models, subscriptions, audit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from handlers.errors import ConflictError
from handlers.model import (
    AuditEntry,
    Hyperparameters,
    Platform,
    Subscription,
    SubscriptionFilter,
    TeamModel,
)
from handlers.ports import Store, WatchStore
from handlers.profile import JobStatus
from tests.dbutil import AnyStore
from tests.fakes.clock import T0, ManualClock
from tests.storage import factories as f

OTHER = "discord:G9"


async def _two_teams(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    await store.ensure_team(f.team("G9", platform=Platform.DISCORD))


def test_sql_store_satisfies_both_ports(store: AnyStore) -> None:
    as_store: Store = store
    as_watch: WatchStore = store
    # mypy checks the two assignments above; the asserts only keep the names used
    assert as_store is store
    assert as_watch is store


async def test_ensure_team_creates_once_and_keeps_settings(store: AnyStore) -> None:
    created = await store.ensure_team(f.team(name="Acme"))
    assert created == f.team(name="Acme")
    assert await store.set_metric_interval("slack:T1", 300)
    again = await store.ensure_team(f.team())  # an empty name does not erase the stored one
    assert again.name == "Acme"
    assert again.metric_interval_seconds == 300
    renamed = await store.ensure_team(f.team(name="Acme Inc"))
    assert renamed.name == "Acme Inc"
    assert await store.get_team("slack:T1") == renamed
    assert await store.get_team("slack:T404") is None
    assert not await store.set_metric_interval("slack:T404", 10)
    await store.ensure_team(f.team("G9", platform=Platform.DISCORD))
    assert [t.id for t in await store.list_teams()] == [OTHER, "slack:T1"]


async def test_files_are_scoped_by_team(store: AnyStore) -> None:
    await _two_teams(store)
    await store.add_file(f.file("train"))
    assert await store.get_file(OTHER, "train") is None
    assert await store.get_file(OTHER, "file-train") is None
    assert await store.find_file_by_sha256(OTHER, "ab" * 32) is None
    assert await store.list_files(OTHER) == []
    assert not await store.delete_file(OTHER, "train")
    assert await store.get_file("slack:T1", "train") == f.file("train")


async def test_file_lookup_by_alias_or_provider_id(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    await store.add_file(f.file("train", sha256="11" * 32))
    assert (await store.get_file("slack:T1", "file-train")) == f.file("train", sha256="11" * 32)
    found = await store.find_file_by_sha256("slack:T1", "11" * 32)
    assert found is not None
    assert found.alias == "train"
    assert await store.find_file_by_sha256("slack:T1", "22" * 32) is None


async def test_alias_taken_in_team_conflicts_but_not_across_teams(store: AnyStore) -> None:
    await _two_teams(store)
    await store.add_file(f.file("train"))
    with pytest.raises(ConflictError, match="train"):
        await store.add_file(f.file("train", sha256="cd" * 32))
    await store.add_file(f.file("train", team_id=OTHER))
    assert len(await store.list_files("slack:T1")) == 1


async def test_list_files_newest_first_and_delete(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    for n, alias in enumerate(["a", "b", "c"]):
        await store.add_file(f.file(alias, n=n))
    assert [x.alias for x in await store.list_files("slack:T1")] == ["c", "b", "a"]
    assert await store.delete_file("slack:T1", "b")
    assert not await store.delete_file("slack:T1", "b")
    assert [x.alias for x in await store.list_files("slack:T1")] == ["c", "a"]
    await store.add_file(f.file("b", n=5))  # a deleted alias is free again


async def test_job_round_trip(store: AnyStore, clock: ManualClock) -> None:
    await store.ensure_team(f.team())
    job = f.job("ftjob-1")
    await store.add_job(job, next_poll_at=T0)
    got = await store.get_job("slack:T1", "ftjob-1")
    assert got is not None
    assert got.state == job.state
    assert got.state.hyperparameters == Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5)
    assert got.channel == job.channel
    assert got.requester_id == "U1"
    assert got.updated_at == clock()
    assert await store.find_job_anywhere("ftjob-1") == got
    assert await store.find_job_anywhere("ftjob-404") is None


async def test_add_job_twice_keeps_the_first(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    await store.add_job(f.job("ftjob-1"), next_poll_at=T0)
    await store.add_job(f.job("ftjob-1", status="queued"), next_poll_at=T0)
    got = await store.get_job("slack:T1", "ftjob-1")
    assert got is not None
    assert got.state.status == "running"


async def test_jobs_are_scoped_by_team(store: AnyStore) -> None:
    await _two_teams(store)
    await store.add_job(f.job("ftjob-1"), next_poll_at=T0)
    assert await store.get_job(OTHER, "ftjob-1") is None
    assert await store.list_jobs(OTHER) == []
    await store.update_job_state(OTHER, f.state("ftjob-1", status="cancelled"), poll_now=True)
    got = await store.get_job("slack:T1", "ftjob-1")
    assert got is not None
    assert got.state.status == "running"


async def test_list_jobs_newest_first_with_status_filter_and_limit(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    statuses = ["running", "succeeded", "running", "failed", "running"]
    for n, status in enumerate(statuses):
        created = T0 + timedelta(minutes=n)
        await store.add_job(
            f.job(f"ftjob-{n}", status=status, created_at=created), next_poll_at=T0
        )
    assert [j.id for j in await store.list_jobs("slack:T1")] == [
        "ftjob-4",
        "ftjob-3",
        "ftjob-2",
        "ftjob-1",
        "ftjob-0",
    ]
    running = await store.list_jobs("slack:T1", status="running", limit=2)
    assert [j.id for j in running] == ["ftjob-4", "ftjob-2"]
    assert await store.list_jobs("slack:T1", status="paused") == []


async def test_update_job_state_and_poll_now(store: AnyStore, clock: ManualClock) -> None:
    await store.ensure_team(f.team())
    await store.add_job(f.job("ftjob-1"), next_poll_at=T0 + timedelta(hours=1))
    clock.advance(30)
    done = f.state("ftjob-1", status="succeeded", fine_tuned_model="ft:gpt:acme")
    await store.update_job_state("slack:T1", done, poll_now=False)
    got = await store.get_job("slack:T1", "ftjob-1")
    assert got is not None
    assert got.state == done
    assert got.updated_at == clock()
    assert await store.claim_due_jobs(owner="w", now=clock(), lease_seconds=60, limit=5) == []
    await store.update_job_state("slack:T1", done, poll_now=True)
    claims = await store.claim_due_jobs(owner="w", now=clock(), lease_seconds=60, limit=5)
    assert [c.job.id for c in claims] == ["ftjob-1"]


async def test_models_idempotent_and_scoped(store: AnyStore) -> None:
    await _two_teams(store)
    first = TeamModel(
        team_id="slack:T1", name="ft:gpt:acme:1", base_model="gpt", job_id="j1", created_at=T0
    )
    second = TeamModel(
        team_id="slack:T1",
        name="ft:gpt:acme:2",
        base_model="gpt",
        job_id="j2",
        created_at=T0 + timedelta(hours=1),
    )
    await store.add_model(first)
    await store.add_model(first)
    await store.add_model(second)
    assert await store.list_models("slack:T1") == [second, first]
    assert await store.get_model("slack:T1", "ft:gpt:acme:1") == first
    assert await store.get_model(OTHER, "ft:gpt:acme:1") is None
    assert await store.list_models(OTHER) == []


async def test_subscriptions_one_per_channel(store: AnyStore) -> None:
    await _two_teams(store)
    sub = Subscription(team_id="slack:T1", channel=f.channel(), created_by="U1")
    await store.add_subscription(sub)
    failures = Subscription(
        team_id="slack:T1", channel=f.channel(), filter=SubscriptionFilter.FAILURES
    )
    await store.add_subscription(failures)
    listed = await store.list_subscriptions("slack:T1")
    assert len(listed) == 1
    assert listed[0].filter is SubscriptionFilter.FAILURES
    assert listed[0].created_by == "U1"
    await store.add_subscription(Subscription(team_id="slack:T1", channel=f.channel("T1", "C2")))
    assert len(await store.list_subscriptions("slack:T1")) == 2
    assert await store.list_subscriptions(OTHER) == []
    assert not await store.remove_subscription(OTHER, f.channel())
    assert await store.remove_subscription("slack:T1", f.channel())
    assert not await store.remove_subscription("slack:T1", f.channel())
    assert [s.channel.channel_id for s in await store.list_subscriptions("slack:T1")] == ["C2"]


async def test_audit_newest_first_scoped_and_limited(store: AnyStore) -> None:
    for n in range(5):
        await store.record_audit(
            AuditEntry(
                team_id="slack:T1",
                user_id="U1",
                command="status",
                arguments=f"job={n}",
                result="ok",
                at=T0 + timedelta(seconds=n),
            )
        )
    got = await store.list_audit("slack:T1", limit=3)
    assert [e.arguments for e in got] == ["job=4", "job=3", "job=2"]
    assert got[0].at == T0 + timedelta(seconds=4)
    assert await store.list_audit(OTHER) == []


async def test_webhook_seen_once(store: AnyStore) -> None:
    assert await store.webhook_seen("wh_1", T0)
    assert not await store.webhook_seen("wh_1", T0 + timedelta(seconds=1))
    assert await store.webhook_seen("wh_2", T0)


async def test_a_job_keeps_the_core_status_and_the_providers_word_beside_it(
    store: AnyStore,
) -> None:
    await _two_teams(store)
    validating = replace(
        f.state("ftjob-v"), status=JobStatus.VALIDATING, provider_status="validating_files"
    )
    await store.add_job(replace(f.job("ftjob-v"), state=validating), next_poll_at=T0)
    await store.add_job(f.job("ftjob-r"), next_poll_at=T0)
    got = await store.get_job("slack:T1", "ftjob-v")
    assert got is not None
    assert got.state.status is JobStatus.VALIDATING
    assert got.state.provider_status == "validating_files"
    assert got.state.shown_status == "validating (validating_files)"
    listed = await store.list_jobs("slack:T1", status="validating")
    assert [j.id for j in listed] == ["ftjob-v"]
    plain = await store.get_job("slack:T1", "ftjob-r")
    assert plain is not None
    assert plain.state.shown_status == "running"
    # The watched-jobs metric keeps its labels: the provider's words.
    assert await store.watched_jobs_by_status() == {"validating_files": 1, "running": 1}
