"""Store contract: roles, encrypted team keys, budgets, spend and approvals, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from handlers.model import (
    Approval,
    ApprovalStatus,
    Budget,
    Role,
    RoleGrant,
    SpendEntry,
    TeamCredentials,
)
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.storage import factories as f

KEY = "sk-proj-" + "Contract" * 4


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


async def test_roles_are_per_team_and_replaced(store: AnyStore, clock: ManualClock) -> None:
    for ws in ("T1", "T2"):
        await store.ensure_team(f.team(ws))
    grant = RoleGrant(
        team_id="slack:T1", user_id="U1", role=Role.OPERATOR, granted_by="UA", at=clock.now()
    )
    await store.set_role(grant)
    await store.set_role(replace(grant, role=Role.ADMIN))
    assert await store.get_role("slack:T1", "U1") is Role.ADMIN
    assert await store.get_role("slack:T2", "U1") is None
    assert [g.role for g in await store.list_roles("slack:T1")] == [Role.ADMIN]
    assert await store.list_roles("slack:T2") == []
    assert not await store.remove_role("slack:T2", "U1")
    assert await store.remove_role("slack:T1", "U1")


async def test_team_keys_are_encrypted_replaced_removed_and_rotated(
    store: AnyStore, clock: ManualClock
) -> None:
    await store.ensure_team(f.team())
    credentials = TeamCredentials(
        team_id="slack:T1",
        family="openai",
        provider="azure",
        api_key=Secret(KEY),
        endpoint="https://acme.openai.azure.com",
        api_version="2025-04-01-preview",
        set_by="UA",
        updated_at=clock.now(),
    )
    await store.set_credentials(credentials)
    await store.set_credentials(credentials)
    got = await store.get_credentials("slack:T1", "openai")
    assert got is not None
    assert got.api_key.reveal() == KEY
    assert got.endpoint == "https://acme.openai.azure.com"
    assert await store.count_credentials() == 1
    assert await store.get_credentials("slack:T2") is None
    assert await store.rotate_secrets() == 1
    assert await store.remove_credentials("slack:T1", "openai")
    assert await store.count_credentials() == 0


async def test_budgets_spend_and_settlement(store: AnyStore) -> None:
    await store.ensure_team(f.team())
    assert await store.get_budget("slack:T1") == Budget(team_id="slack:T1")
    await store.set_budget(Budget(team_id="slack:T1", monthly_cap=200.0, approve_over=50.0))
    await store.set_budget(Budget(team_id="slack:T1", monthly_cap=100.0))
    assert await store.get_budget("slack:T1") == Budget(team_id="slack:T1", monthly_cap=100.0)
    for job, cost in (("j1", 10.0), ("j2", 5.5)):
        entry = SpendEntry(
            team_id="slack:T1", job_id=job, month="2026-05", estimated=cost, price_per_million=3
        )
        await store.add_spend(entry)
        await store.add_spend(entry)  # once per job
    assert await store.month_spend("slack:T1", "2026-05") == pytest.approx(15.5)
    await store.settle_spend("slack:T1", "j1", 2.0)
    assert await store.month_spend("slack:T1", "2026-05") == pytest.approx(7.5)
    assert await store.month_spend("slack:T1", "2026-06") == 0.0
    assert await store.month_spend("slack:T2", "2026-05") == 0.0


async def test_an_approval_is_decided_once(store: AnyStore, clock: ManualClock) -> None:
    await store.ensure_team(f.team())
    approval = Approval(
        id="apr-1",
        team_id="slack:T1",
        requester_id="U1",
        channel=f.channel(),
        request={"model": "m", "training_file": "train", "n_epochs": 2},
        cost=60.0,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(hours=1),
    )
    await store.add_approval(approval)
    assert await store.get_approval("slack:T2", "apr-1") is None
    assert await store.decide_approval(
        "slack:T1", "apr-1", status=ApprovalStatus.APPROVED, by="U2", at=clock.now()
    )
    assert not await store.decide_approval(
        "slack:T1", "apr-1", status=ApprovalStatus.REJECTED, by="U3", at=clock.now()
    )
    got = await store.get_approval("slack:T1", "apr-1")
    assert got is not None
    assert (got.status, got.decided_by, got.request["n_epochs"]) == (
        ApprovalStatus.APPROVED,
        "U2",
        2,
    )
