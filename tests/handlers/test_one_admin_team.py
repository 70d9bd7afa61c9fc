"""A team with one admin is never stuck on an approval: the requester may withdraw their own
request whatever their role, and an operator setting lets an admin approve their own start,
which the audit log records as such."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from handlers.model import Actor, ApprovalStatus, Platform
from handlers.replies import Tone, plain
from tests.world import World, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


def _actor(user: str, *, admin: bool = False) -> Actor:
    return Actor(
        platform=Platform.SLACK,
        workspace_id="T1",
        channel_id="C1",
        user_id=user,
        display_name=user,
        is_workspace_admin=admin,
    )


async def _waiting(w: World, tmp_path: Path, requester: Actor, admin: Actor) -> str:
    path = write_dataset(tmp_path / "train.jsonl")
    assert (await w.run(f"upload {path} alias=train", admin)).tone is Tone.SUCCESS
    await w.run("budget approve_over=0.000001", admin)
    waiting = await w.run(f"start file=train model={MODEL} epochs=2", requester)
    assert waiting.tone is Tone.WARNING, waiting
    return plain(waiting.lines[0]).split()[1].rstrip(":")


async def test_an_operator_withdraws_their_own_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        admin, operator = _actor("UA", admin=True), _actor("UO")
        approval_id = await _waiting(w, tmp_path, operator, admin)
        # An operator may not reject someone else's request...
        other = await w.run(f"start file=train model={MODEL} epochs=3", admin)
        other_id = plain(other.lines[0]).split()[1].rstrip(":")
        assert "needs the admin role" in (await w.run(f"reject {other_id}", operator)).title
        # ...but withdraws their own.
        withdrawn = await w.run(f"reject {approval_id}", operator)
        assert withdrawn.title == f"Withdrew {approval_id}; nothing was started."
        stored = await w.store.get_approval("slack:T1", approval_id)
        assert stored is not None
        assert stored.status is ApprovalStatus.REJECTED
        assert w.provider.calls.get("create_job", 0) == 0
        await w.settle(seconds=1, step=1)
        assert any("Withdrawn by @UO" in p.reply.title for p in w.notifier.posts)


async def test_approving_ones_own_is_refused_with_the_ways_through(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        admin = _actor("UA", admin=True)
        approval_id = await _waiting(w, tmp_path, admin, admin)
        refused = await w.run(f"approve {approval_id}", admin)
        assert refused.tone is Tone.ERROR
        assert f"/finetune reject {approval_id}" in refused.title
        assert "FINETUNE_BOT_SELF_APPROVAL" in refused.title
        assert w.provider.calls.get("create_job", 0) == 0


async def test_with_the_setting_an_admin_approves_their_own_and_it_is_audited(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, self_approval=True) as w:
        admin = _actor("UA", admin=True)
        approval_id = await _waiting(w, tmp_path, admin, admin)
        approved = await w.run(f"approve {approval_id}", admin)
        assert plain(approved.title).startswith(f"Self-approved {approval_id}: Started ftjob-")
        assert w.provider.calls["create_job"] == 1
        (entry, *_) = await w.store.list_audit("slack:T1", limit=5)
        assert entry.command == "approve"
        assert entry.result.startswith(f"ok: Self-approved {approval_id}")
        # Someone else's request is still someone else's to withdraw, not this admin's alone.
        operator = replace(admin, user_id="UO", is_workspace_admin=False)
        assert "needs the admin role" in (await w.run(f"approve {approval_id}", operator)).title
