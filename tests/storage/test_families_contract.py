"""Store contract: every row keeps its provider family and account; team keys are per family
and a team has a default family; on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from handlers.model import (
    ACCOUNT_DEPLOYMENT,
    ACCOUNT_TEAM,
    StartIntent,
    TeamCredentials,
    TeamModel,
)
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import T0
from tests.storage import factories as f

TEAM = "slack:T1"
KEY_A = "sk-proj-" + "FamilyAa" * 4
KEY_B = "sk-proj-" + "FamilyBb" * 4


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


def _key(family: str, value: str) -> TeamCredentials:
    return TeamCredentials(
        team_id=TEAM, family=family, provider=f"{family}-account", api_key=Secret(value)
    )


async def test_rows_keep_their_family_and_account(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    file = replace(f.file("train"), provider="beta", account=ACCOUNT_TEAM)
    await store.add_file(file)
    job = replace(f.job("ftjob-1"), provider="beta", account=ACCOUNT_TEAM)
    await store.add_job(job, next_poll_at=T0)
    model = TeamModel(
        team_id=TEAM,
        name="ft:beta:1",
        base_model="m",
        job_id="ftjob-1",
        created_at=T0,
        provider="beta",
        account=ACCOUNT_TEAM,
    )
    await store.add_model(model)
    intent = StartIntent(
        key="req-1",
        team_id=TEAM,
        requester_id="U1",
        channel=f.channel(),
        fingerprint="fp",
        request={},
        estimated=None,
        price_per_million=None,
        account="Beta",
        created_at=T0,
        provider="beta",
        provider_account=ACCOUNT_DEPLOYMENT,
    )
    await store.add_intent(intent)
    assert await store.get_file(TEAM, "train") == file
    got = await store.get_job(TEAM, "ftjob-1")
    assert got is not None
    assert (got.provider, got.account) == ("beta", ACCOUNT_TEAM)
    assert await store.get_model(TEAM, "ft:beta:1") == model
    stored = await store.get_intent(TEAM, "req-1")
    assert stored is not None
    assert (stored.provider, stored.provider_account) == ("beta", ACCOUNT_DEPLOYMENT)


async def test_the_same_bytes_are_found_per_family(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    await store.add_file(replace(f.file("at-a", sha256="11" * 32), provider="alpha"))
    found = await store.find_file_by_sha256(TEAM, "11" * 32, provider="alpha")
    assert found is not None
    assert found.alias == "at-a"
    assert await store.find_file_by_sha256(TEAM, "11" * 32, provider="beta") is None
    assert await store.find_file_by_sha256(TEAM, "11" * 32) == found


async def test_a_team_keeps_one_key_per_family_and_a_default(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    await store.ensure_team(f.team("T2"))
    assert await store.get_default_provider(TEAM) is None
    await store.set_credentials(_key("alpha", KEY_A))
    await store.set_credentials(_key("beta", KEY_B))
    await store.set_credentials(_key("beta", KEY_B))  # replaced, not added
    listed = await store.list_credentials(TEAM)
    assert [(c.family, c.api_key.reveal()) for c in listed] == [
        ("alpha", KEY_A),
        ("beta", KEY_B),
    ]
    assert await store.list_credentials("slack:T2") == []
    assert await store.count_credentials() == 2
    # No default: the default family's key is none.
    assert await store.get_credentials(TEAM) is None
    await store.set_default_provider(TEAM, "beta")
    assert await store.get_default_provider(TEAM) == "beta"
    assert await store.get_default_provider("slack:T2") is None
    # Rotation re-encrypts each family's key on its own row.
    assert await store.rotate_secrets() == 2
    default = await store.get_credentials(TEAM)
    assert default is not None
    assert (default.family, default.api_key.reveal()) == ("beta", KEY_B)
    alpha = await store.get_credentials(TEAM, "alpha")
    assert alpha is not None
    assert alpha.api_key.reveal() == KEY_A
    assert not await store.remove_credentials(TEAM, "gamma")
    assert await store.remove_credentials(TEAM, "alpha")
    assert await store.get_credentials(TEAM, "alpha") is None
    assert [c.family for c in await store.list_credentials(TEAM)] == ["beta"]
    await store.set_default_provider(TEAM, None)
    assert await store.get_default_provider(TEAM) is None


async def test_a_family_backoff_pauses_that_familys_jobs_of_the_team_only(
    store: AnyStore,
) -> None:
    await store.ensure_team(f.team())
    await store.ensure_team(f.team("T2"))
    for job_id, team, family in (
        ("a1", TEAM, "alpha"),
        ("b1", TEAM, "beta"),
        ("b2", "slack:T2", "beta"),
    ):
        job = replace(f.job(job_id, team_id=team), provider=family)
        await store.add_job(job, next_poll_at=T0)
    until = T0 + timedelta(seconds=120)
    await store.set_team_backoff(TEAM, until=until, provider="beta")
    assert await store.team_backoff_until(TEAM, provider="beta") == until
    assert await store.team_backoff_until(TEAM, provider="alpha") is None
    assert await store.team_backoff_until(TEAM) == until  # the team's latest pause
    assert await store.team_backoff_until("slack:T2") is None

    async def claimed(at: float) -> set[str]:
        now = T0 + timedelta(seconds=at)
        found = await store.claim_due_jobs(owner=f"w{at}", now=now, lease_seconds=1, limit=10)
        return {c.job.id for c in found}

    assert await claimed(60) == {"a1", "b2"}
    assert await claimed(121) == {"a1", "b1", "b2"}
    await store.set_team_backoff(TEAM, until=None, provider="beta")
    assert await store.team_backoff_until(TEAM) is None
