"""Crash-safe starts: an intent before the create, one key on every try, recovery settles once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.providers.sandbox.provider import SandboxProvider
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Actor, JobSpec
from handlers.parse import parse
from handlers.ports import Provider
from handlers.recovery import Recovery
from handlers.replies import plain
from handlers.service import BOT_METADATA_KEY, Service
from handlers.starts import INTENT_GRACE, INTENT_METADATA_KEY, request_key
from tests.fakes.faulty_provider import FaultyProvider
from tests.world import TIMING, World, actor, as_shared, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
START = f"start file=train model={MODEL} epochs=1"


def lost_answer() -> ProviderError:
    """The create took effect but the bot never heard (it died, or the answer was lost)."""
    return ProviderError(ProviderErrorKind.CONNECTION)


def admin(user: str = "UA") -> Actor:
    return replace(actor(user=user), is_workspace_admin=True)


async def _upload(w: World, tmp_path: Path, who: Actor) -> None:
    path = write_dataset(tmp_path / "train.jsonl")
    reply = await w.run(f"upload {path} alias=train", who)
    assert plain(reply.title).startswith("Uploaded"), reply


def recovery(w: World) -> Recovery:
    return Recovery(store=w.store, clock=w.clock, watch_store=w.store)


async def _told(w: World, needle: str) -> list[str]:
    await w.settle(seconds=1, step=1)
    return [plain(p.reply.title) for p in w.notifier.posts if needle in p.reply.title]


async def test_a_start_interrupted_after_the_create_is_settled_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        alice = actor(user="U7", channel="C9")
        await _upload(w, tmp_path, alice)
        w.provider.inject_fault(lost_answer(), operation="create_job", after=True)
        failed = await w.run(START, alice)
        assert not plain(failed.title).startswith("Started"), failed
        (made,) = await w.provider.list_jobs()
        assert made.metadata[INTENT_METADATA_KEY]
        assert (await w.run("list", alice)).title == "No jobs."

        report = await recovery(w).resync([w.provider])
        assert report.settled == [made.id]
        assert [j.id for j in await w.store.list_jobs(alice.team_id)] == [made.id]
        spend = await w.store.get_spend(alice.team_id, made.id)
        assert spend is not None
        assert spend.estimated > 0
        again = await recovery(w).resync([w.provider])
        assert (again.settled, again.recovered, again.known) == ([], [], 1)
        assert await w.store.month_spend(alice.team_id, "2026-05") == spend.estimated

        await w.settle(seconds=1, step=1)
        told = [
            p for p in w.notifier.posts if plain(p.reply.title).startswith(f"Started {made.id}")
        ]
        assert len(told) == 1
        assert told[0].target.channel_id == "C9"
        assert told[0].reply.mentions == ("U7",)

        retry = await w.run(START, alice)
        assert plain(retry.title).startswith(f"Already started {made.id}"), retry
        assert len(await w.provider.list_jobs()) == 1


async def test_the_users_retry_before_any_recovery_gets_the_job_already_made(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        alice = actor()
        await _upload(w, tmp_path, alice)
        w.provider.inject_fault(lost_answer(), operation="create_job", after=True)
        await w.run(START, alice)
        (made,) = await w.provider.list_jobs()
        # A new chat request (another trigger id) with the same options, a minute later.
        w.clock.advance(60)
        retry = await w.service.handle_text(START, replace(alice, request_id="slack:trig-2"))
        assert retry.title == f"Started {made.id}", retry
        assert len(await w.provider.list_jobs()) == 1
        assert (await recovery(w).resync([w.provider])).settled == []
        assert len(await w.store.list_jobs(alice.team_id)) == 1


async def test_the_key_of_a_start_derives_from_its_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        alice = replace(actor(), request_id="slack:trigger_id:t-42")
        await _upload(w, tmp_path, alice)
        started = await w.run(START, alice)
        (made,) = await w.provider.list_jobs()
        assert started.title == f"Started {made.id}"
        assert made.metadata[INTENT_METADATA_KEY] == request_key(alice.team_id, alice.request_id)
        assert await w.store.list_open_intents() == []


async def test_a_start_that_never_reached_the_provider_is_closed_and_told(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        alice = actor(user="U7")
        await _upload(w, tmp_path, alice)
        w.provider.inject_fault(lost_answer(), operation="create_job")  # refused: nothing made
        await w.run(START, alice)
        assert await w.provider.list_jobs() == []
        early = await recovery(w).resync([w.provider])
        assert early.abandoned == []
        assert len(early.pending) == 1  # a create may still be in flight
        w.clock.advance(INTENT_GRACE.total_seconds() + 1)
        late = await recovery(w).resync([w.provider])
        assert len(late.abandoned) == 1
        assert await w.store.list_open_intents() == []
        assert len(await _told(w, "did not reach the provider")) == 1
        fresh = await w.run(START, alice)
        assert plain(fresh.title).startswith("Started"), fresh


class _Accounts:
    """Team T1 has its own key (its own account); everyone else uses the deployment's."""

    def __init__(self, shared: Provider, own: Provider) -> None:
        self.shared, self.own = shared, own

    async def for_team(self, team_id: str, family: str | None = None) -> Provider:
        return self.own if team_id == "slack:T1" else self.shared

    async def available(self, team_id: str) -> Sequence[str]:
        return ((await self.for_team(team_id)).profile.name,)


async def test_a_team_on_its_own_key_gets_its_interrupted_job_back(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        own = FaultyProvider(SandboxProvider(w.clock, timing=TIMING))
        accounts = _Accounts(w.provider, own)
        service = Service(
            store=w.store, watch_store=w.store, providers=accounts, clock=w.clock, charts=w.charts
        )
        alice = actor()
        path = write_dataset(tmp_path / "train.jsonl")
        await service.handle(as_shared(parse(f"upload {path} alias=train")), alice)
        own.inject_fault(lost_answer(), operation="create_job", after=True)
        await service.handle_text(START, alice)
        (made,) = await own.list_jobs()
        assert await w.provider.list_jobs() == []
        # A job on T1's own account claiming to be T2's is T1's key planting it: never taken.
        planted = await own.create_job(
            JobSpec(
                model=MODEL,
                training_file=made.training_file,
                metadata={BOT_METADATA_KEY: "default", "ftbot_team": "slack:T2"},
            ),
            idempotency_key="planted",
        )

        report = await recovery(w).resync([w.provider], own={"slack:T1": own}, directory=accounts)
        assert report.settled == [made.id]
        assert planted.id in report.skipped
        assert (await service.handle_text("list", alice)).title == "1 job, newest first"
        assert await w.store.get_spend(alice.team_id, made.id) is not None
        assert await w.store.list_jobs("slack:T2") == []


async def test_an_approved_start_interrupted_makes_one_job_billed_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        requester = admin(user="UR")
        await _upload(w, tmp_path, requester)
        await w.run("budget approve_over=0.000001", requester)
        waiting = await w.run(START, requester)
        approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
        w.provider.inject_fault(lost_answer(), operation="create_job", after=True)
        first = await w.run(f"approve {approval_id}", admin(user="UB"))
        assert not plain(first.title).startswith("Started"), first
        for who in ("UB", "UC"):  # pressed again, by the same admin and another
            again = await w.run(f"approve {approval_id}", admin(user=who))
            assert "already approved" in again.title, again
        report = await recovery(w).resync([w.provider])
        (made,) = await w.provider.list_jobs()
        assert report.settled == [made.id]
        approval = await w.store.get_approval(requester.team_id, approval_id)
        assert approval is not None
        assert approval.job_id == made.id
        spend = await w.store.get_spend(requester.team_id, made.id)
        assert spend is not None
        assert await w.store.month_spend(requester.team_id, "2026-05") == spend.estimated
        assert len(await w.provider.list_jobs()) == 1


async def test_an_identical_retry_is_answered_even_when_the_budget_is_now_spent(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        alice = admin()
        await _upload(w, tmp_path, alice)
        first = await w.run(START, alice)
        (made,) = await w.provider.list_jobs()
        assert first.title == f"Started {made.id}"
        await w.run("budget cap=0.000001", alice)
        retry = await w.run(START, alice)
        assert plain(retry.title).startswith(f"Already started {made.id}"), retry
        w.clock.advance(6 * 60)  # past the window: a new start, which the cap now refuses
        later = await w.run(START, alice)
        assert plain(later.title).startswith("Not started"), later
        assert len(await w.provider.list_jobs()) == 1
