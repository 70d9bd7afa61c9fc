"""A team with several provider families: setup per family, a default, start provider=, and
every row (and the watcher) following the family it was made at. Test families only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.features.jobs import BOT_METADATA_KEY
from handlers.model import (
    ACCOUNT_DEPLOYMENT,
    ACCOUNT_TEAM,
    Actor,
    JobSpec,
    JobState,
    TeamCredentials,
)
from handlers.ports import FineTuning, ProviderDirectory
from handlers.profile import AccountKind, Capability, ProviderProfile, SetupField
from handlers.recovery import Recovery
from handlers.replies import Tone, plain
from handlers.requests import SetupRequest
from handlers.scope import TEAM_KEY, TeamScopedProvider
from handlers.secrets import Secret
from handlers.watch import Watcher, WatchSettings
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider
from tests.world import TIMING, World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
BETA_KEY = "bk-" + "q7" * 12
BETA_ACCOUNT = AccountKind(
    name="beta-key",
    label="Beta",
    key_shape=re.compile(r"^bk-[a-z0-9]{20,}$"),
    key_refusal="That is not a Beta key.",
    fields=(SetupField(name="key", label="API key", required=True),),
)


ALPHA = replace(SANDBOX, name="alpha", label="Alpha (test)", accounts=())
BETA = replace(
    SANDBOX,
    name="beta",
    label="Beta (test)",
    accounts=(BETA_ACCOUNT,),
    capabilities=SANDBOX.capabilities - {Capability.PAUSE, Capability.RESUME},
    ends=date(2031, 2, 3),
    end_note="Beta stops taking new jobs.",
)


class AlphaSandbox(SandboxProvider):
    """The deployment's family in these tests."""

    @property
    def profile(self) -> ProviderProfile:
        return ALPHA


class BetaSandbox(SandboxProvider):
    """A second family, reached only with a team's own key; it cannot pause."""

    gate: asyncio.Event | None = None
    """When set, job reads wait at it: an account whose endpoint stops answering."""

    @property
    def profile(self) -> ProviderProfile:
        return BETA

    waiting: int = 0
    """Reads waiting at the gate right now."""

    async def _at_gate(self) -> None:
        if self.gate is None:
            return
        self.waiting += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cancelled, it takes a moment to close its connection
            raise
        finally:
            self.waiting -= 1

    async def get_job(self, job_id: str) -> JobState:
        await self._at_gate()
        return await super().get_job(job_id)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        await self._at_gate()
        return await super().list_jobs(metadata=metadata, limit=limit)


class AcceptAll:
    async def check(self, credentials: TeamCredentials) -> None:
        return None


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[World, FaultyProvider]]:
    """The deployment runs alpha; beta is there for a team that sets up its key."""
    async with _two(tmp_path) as (w, beta, _):
        yield w, beta


@asynccontextmanager
async def _two(tmp_path: Path) -> AsyncIterator[tuple[World, FaultyProvider, ProviderDirectory]]:
    made: list[FaultyProvider] = []
    directories: list[ProviderDirectory] = []

    def directory(alpha: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        made.append(FaultyProvider(BetaSandbox(clock, timing=TIMING)))
        directories.append(
            TeamProviderDirectory(
                store=store,
                fallback=alpha,
                factory=lambda _: made[0],
                profiles={"beta": made[0].profile},
            )
        )
        return directories[0]

    async with world(
        tmp_path,
        provider_type=AlphaSandbox,
        directory=directory,
        keys=AcceptAll(),
        accounts={"beta-key": BETA_ACCOUNT},
        account_families={"beta-key": "beta"},
        profiles=(ALPHA, BETA),
    ) as w:
        yield w, made[0], directories[0]


async def _set_up_beta(w: World) -> None:
    saved = await w.service.handle(
        SetupRequest(provider="beta-key", api_key=Secret(BETA_KEY)), admin()
    )
    assert saved.tone is Tone.SUCCESS, saved


async def test_a_team_starts_on_its_second_family_and_the_watcher_follows_it(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, beta = two
    alpha = w.provider
    path = write_dataset(tmp_path / "train.jsonl")
    await _set_up_beta(w)
    # The first family set up became the default; the admin moves it back to the deployment's.
    assert await w.store.get_default_provider("slack:T1") == "beta"
    moved = await w.run("setup default=alpha", admin())
    assert moved.tone is Tone.SUCCESS, moved
    assert (await w.run(f"upload {path} alias=a", actor())).tone is Tone.SUCCESS
    up = await w.run(f"upload {path} alias=b provider=beta", actor())
    assert up.tone is Tone.SUCCESS, up  # the same bytes, at another family: uploaded again
    assert (alpha.calls["upload_file"], beta.calls["upload_file"]) == (1, 1)

    started = await w.run(f"start file=b model={MODEL} provider=beta epochs=1", actor())
    assert started.tone is Tone.SUCCESS, started
    assert (alpha.calls["create_job"], beta.calls["create_job"]) == (0, 1)
    [job] = await w.store.list_jobs("slack:T1")
    assert (job.provider, job.account) == ("beta", ACCOUNT_TEAM)
    a_file = await w.store.get_file("slack:T1", "a")
    assert a_file is not None
    assert (a_file.provider, a_file.account) == ("alpha", ACCOUNT_DEPLOYMENT)

    polled_at_alpha = alpha.calls["get_job"] + alpha.calls["list_jobs"]
    await w.settle(seconds=120)
    done = await w.store.get_job("slack:T1", job.id)
    assert done is not None
    assert done.state.terminal, done.state
    assert beta.calls["get_job"] + beta.calls["list_jobs"] > 0
    assert alpha.calls["get_job"] + alpha.calls["list_jobs"] == polled_at_alpha
    [model] = await w.store.list_models("slack:T1")
    assert (model.provider, model.account) == ("beta", ACCOUNT_TEAM)

    listed = await w.run("list", actor())
    assert listed.table is not None
    assert listed.table.rows[0][-1] == "beta (team key)"
    shown = await w.run(f"inspect {job.id}", actor())
    assert "beta (team key)" in str(shown.fields)
    models = await w.run("models", actor())
    assert models.table is not None
    assert models.table.rows[0][-1] == "beta (team key)"
    files = await w.run("files", actor())
    assert files.table is not None
    assert {r[0]: r[-1] for r in files.table.rows} == {
        "a": "alpha (deployment)",
        "b": "beta (team key)",
    }


async def test_a_family_the_team_lacks_gets_one_reply_listing_what_it_has(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, beta = two
    path = write_dataset(tmp_path / "train.jsonl")
    assert (await w.run(f"upload {path} alias=a", actor())).tone is Tone.SUCCESS
    before = await w.run(f"start file=a model={MODEL} provider=beta", actor())
    assert before.tone is Tone.ERROR
    assert "no provider 'beta'" in plain(before.title)
    assert "it can use alpha." in plain(before.title)
    assert beta.calls["create_job"] == 0
    await _set_up_beta(w)
    unknown = await w.run(f"start file=a model={MODEL} provider=gamma", actor())
    assert "it can use beta, alpha." in plain(unknown.title), unknown
    # A file uploaded at one family is not started at another.
    elsewhere = await w.run(f"start file=a model={MODEL} provider=beta", actor())
    assert elsewhere.tone is Tone.ERROR
    assert "is at alpha, not beta" in plain(elsewhere.title)
    assert w.provider.calls["create_job"] == beta.calls["create_job"] == 0
    refused = await w.run("setup default=gamma", admin())
    assert refused.tone is Tone.ERROR
    assert await w.store.get_default_provider("slack:T1") == "beta"


async def test_setup_show_lists_each_family_and_remove_forgets_one(
    two: tuple[World, FaultyProvider],
) -> None:
    w, _ = two
    await _set_up_beta(w)
    shown = await w.run("setup show", admin())
    assert shown.table is not None
    [row] = shown.table.rows
    assert row[0] == "beta (default)"
    assert row[2] == Secret(BETA_KEY).fingerprint
    assert BETA_KEY not in str(shown)
    denied = await w.run("setup remove provider=beta", actor())
    assert "needs the admin role" in plain(denied.title)
    assert (await w.run("setup remove provider=beta", admin())).tone is Tone.SUCCESS
    assert await w.store.list_credentials("slack:T1") == []
    assert await w.store.get_default_provider("slack:T1") is None
    again = await w.run("setup remove provider=beta", admin())
    assert again.tone is Tone.ERROR


async def test_providers_lists_families_the_teams_own_its_default_and_ends(
    two: tuple[World, FaultyProvider],
) -> None:
    w, _ = two
    before = await w.run("providers", actor())
    assert before.table is not None
    assert [r[0] for r in before.table.rows] == ["alpha (default)", "beta"]
    assert [r[2] for r in before.table.rows] == ["deployment's account", "not set up"]
    await _set_up_beta(w)
    after = await w.run("providers", actor())  # a viewer may read it
    assert after.table is not None
    alpha, beta = after.table.rows
    assert (alpha[0], alpha[2], alpha[4]) == ("alpha", "deployment's account", "—")
    assert (beta[0], beta[2], beta[4]) == ("beta (default)", "team key", "2031-02-03")
    assert "pause" in str(alpha[3])
    assert "pause" not in str(beta[3])
    assert "Beta (test): Beta stops taking new jobs." in after.lines


async def test_an_approved_start_goes_to_the_family_it_was_asked_for(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, beta = two
    await _set_up_beta(w)
    path = write_dataset(tmp_path / "train.jsonl")
    assert (await w.run(f"upload {path} alias=b", actor())).tone is Tone.SUCCESS  # at beta
    await w.run("budget approve_over=0.000001", admin())
    waiting = await w.run(f"start file=b model={MODEL}", actor())
    approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
    # The default moves before the admin approves: the start keeps the family it was asked at.
    assert (await w.run("setup default=alpha", admin())).tone is Tone.SUCCESS
    started = await w.run(f"approve {approval_id}", admin())
    assert plain(started.title).startswith("Started"), started
    assert (w.provider.calls["create_job"], beta.calls["create_job"]) == (0, 1)
    [job] = await w.store.list_jobs("slack:T1")
    assert job.provider == "beta"


async def test_a_row_from_a_family_the_team_cannot_use_starts_where_the_team_can(
    tmp_path: Path,
) -> None:
    """Rows from before migration 0006 say openai, even on a deployment that ran another
    family (a sandbox): such a file still starts there, and the provider answers for it."""
    async with world(tmp_path) as w:
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"upload {path} alias=new", actor())).tone is Tone.SUCCESS
        uploaded = await w.store.get_file("slack:T1", "new")
        assert uploaded is not None
        await w.store.add_file(replace(uploaded, alias="old", provider="legacy"))
        started = await w.run(f"start file=old model={MODEL}", actor())
        assert started.tone is Tone.SUCCESS, started


async def test_a_refused_key_at_one_family_pauses_only_that_familys_jobs(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, beta = two
    await _set_up_beta(w)
    await w.run("setup default=alpha", admin())
    path = write_dataset(tmp_path / "train.jsonl")
    await w.run(f"upload {path} alias=a", actor())
    await w.run(f"upload {path} alias=b provider=beta", actor())
    assert (await w.run(f"start file=a model={MODEL} epochs=1", actor())).tone is Tone.SUCCESS
    on_beta = await w.run(f"start file=b model={MODEL} provider=beta epochs=1", actor())
    assert on_beta.tone is Tone.SUCCESS
    jobs = {j.provider: j.id for j in await w.store.list_jobs("slack:T1")}
    beta.inject_fault(ProviderError(ProviderErrorKind.AUTH), times=1000)
    await w.settle(seconds=120)
    assert await w.store.team_backoff_until("slack:T1", provider="beta") is not None
    assert await w.store.team_backoff_until("slack:T1", provider="alpha") is None
    keys = w.notifier.dedupe_keys()
    assert any(k.startswith(f"{jobs['alpha']}:status:succeeded") for k in keys)
    assert not any(k.startswith(f"{jobs['beta']}:status:") for k in keys)


async def test_resync_adopts_a_job_of_a_teams_second_family_with_its_family_and_account(
    two: tuple[World, FaultyProvider], tmp_path: Path
) -> None:
    w, beta = two
    await _set_up_beta(w)
    path = write_dataset(tmp_path / "train.jsonl")
    training = await beta.upload_file(path, filename="train.jsonl")
    made = await beta.create_job(
        JobSpec(
            model=MODEL,
            training_file=training.id,
            metadata={BOT_METADATA_KEY: "default", TEAM_KEY: "slack:T1"},
        ),
        idempotency_key="lost-row",
    )
    view = TeamScopedProvider(beta, team_id="slack:T1", shared=False)  # the team's own key
    report = await Recovery(store=w.store, clock=w.clock).resync(
        [w.provider], own_accounts=[("slack:T1", view)]
    )
    assert report.recovered == [made.id]
    adopted = await w.store.get_job("slack:T1", made.id)
    assert adopted is not None
    assert (adopted.provider, adopted.account) == ("beta", ACCOUNT_TEAM)


async def _jobs_at_both(w: World, tmp_path: Path, *, at_beta: int) -> dict[str, list[str]]:
    """One job at alpha (the deployment's account) and `at_beta` at the team's beta key."""
    await _set_up_beta(w)
    await w.run("setup default=alpha", admin())
    path = write_dataset(tmp_path / "train.jsonl")
    await w.run(f"upload {path} alias=a", actor())
    await w.run(f"upload {path} alias=b provider=beta", actor())
    assert (await w.run(f"start file=a model={MODEL} epochs=1", actor())).tone is Tone.SUCCESS
    for seed in range(at_beta):
        started = await w.run(f"start file=b model={MODEL} provider=beta seed={seed}", actor())
        assert started.tone is Tone.SUCCESS, started
    jobs: dict[str, list[str]] = {"alpha": [], "beta": []}
    for job in await w.store.list_jobs("slack:T1"):
        jobs[job.provider].append(job.id)
    return jobs


@pytest.mark.parametrize(
    "kind", [ProviderErrorKind.TIMEOUT, ProviderErrorKind.RATE_LIMITED], ids=["outage", "429"]
)
async def test_an_outage_or_429_at_one_account_pauses_its_jobs_only_and_tells_once(
    two: tuple[World, FaultyProvider], tmp_path: Path, kind: ProviderErrorKind
) -> None:
    w, beta = two
    jobs = await _jobs_at_both(w, tmp_path, at_beta=3)
    await w.settle(seconds=25)  # every job is running: each poll reads its events
    beta.inject_fault(ProviderError(kind), times=3, operation="list_events_after")
    beta.calls.clear()
    await w.settle(seconds=5)
    # One failed request for the account, not one per job: the others wait with it.
    assert beta.calls["list_events_after"] == 1
    assert await w.store.team_backoff_until("slack:T1", provider="beta") is not None
    assert await w.store.team_backoff_until("slack:T1", provider="alpha") is None
    await w.settle(seconds=300)
    keys = w.notifier.dedupe_keys()
    assert any(k.startswith(f"{jobs['alpha'][0]}:status:succeeded") for k in keys)
    for job_id in jobs["beta"]:
        assert any(k.startswith(f"{job_id}:status:succeeded") for k in keys), job_id
    told = [p for p in w.notifier.posts if ":backoff:" in p.dedupe_key]
    assert len(told) == 1, [p.dedupe_key for p in told]
    assert "Beta (test)" in plain(told[0].reply.title)
    assert await w.store.team_backoff_until("slack:T1", provider="beta") is None


async def test_an_account_that_stops_answering_never_holds_up_the_others(
    tmp_path: Path,
) -> None:
    async with _two(tmp_path) as (w, beta, directory):
        jobs = await _jobs_at_both(w, tmp_path, at_beta=1)
        watcher = Watcher(
            store=w.store,
            watch_store=w.store,
            providers=directory,
            clock=w.clock,
            charts=w.charts,
            owner="w2",
            settings=WatchSettings(
                running_poll_seconds=5,
                running_poll_max_seconds=5,
                slow_poll_seconds=5,
                slow_poll_max_seconds=5,
                jitter=0.0,
                account_seconds=0.5,
            ),
        )
        hung = beta.inner
        assert isinstance(hung, BetaSandbox)
        hung.gate = asyncio.Event()
        try:
            w.clock.advance(15)
            await watcher.sweep()
            # The sweep ended although beta's read is still waiting.
            assert ("slack:T1", "beta") in watcher.slow_accounts
            for _ in range(40):  # alpha's job runs to its end meanwhile
                w.clock.advance(5)
                await watcher.sweep()
            finished = await w.store.get_job("slack:T1", jobs["alpha"][0])
            assert finished is not None
            assert finished.state.terminal, finished.state
            assert beta.calls["get_job"] + beta.calls["list_jobs"] == 1, "not asked again"
            hung.gate.set()
            await watcher.finish_slow_accounts()
            assert watcher.slow_accounts == frozenset()
            hung.gate = None
            for _ in range(40):
                w.clock.advance(5)
                await watcher.sweep()
            done = await w.store.get_job("slack:T1", jobs["beta"][0])
            assert done is not None
            assert done.state.terminal, done.state
        finally:
            if hung.gate is not None:
                hung.gate.set()
            await watcher.stop()


async def test_a_cancelled_sweep_leaves_no_poll_of_its_running(tmp_path: Path) -> None:
    """A stop past its grace cancels the sweep: the teams' polls end with it, so none is
    still using (or closing) a database connection when the engine is disposed."""
    async with _two(tmp_path) as (w, beta, _directory):
        await _jobs_at_both(w, tmp_path, at_beta=1)
        hung = beta.inner
        assert isinstance(hung, BetaSandbox)
        hung.gate = asyncio.Event()
        try:
            w.clock.advance(15)
            sweep = asyncio.create_task(w.watcher.sweep())
            for _ in range(200):
                if hung.waiting:
                    break
                await asyncio.sleep(0.01)
            assert hung.waiting == 1, "beta's read is waiting"
            sweep.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sweep
            assert hung.waiting == 0, "the poll was cancelled and ended with the sweep"
        finally:
            hung.gate.set()
