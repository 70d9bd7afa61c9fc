"""Roles, team keys, approvals, budgets and audit over real parts (a store, sandbox, clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.governance import SETUP_REFUSED
from handlers.model import Actor, Role, TeamCredentials
from handlers.replies import Tone, UserRef, Visibility, plain, rich
from handlers.requests import SetupRequest, build_request
from handlers.secrets import Secret
from storage import crypto
from storage.store import SqlStore
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
GOOD_KEY = "sk-proj-" + "Gq7" * 12
BAD_KEY = "sk-proj-" + "Zz9" * 12


def admin(workspace: str = "T1", user: str = "UA") -> Actor:
    return replace(actor(workspace, user), is_workspace_admin=True)


class FakeKeys:
    """The provider as a key checker: accepts GOOD_KEY only."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    async def check(self, credentials: TeamCredentials) -> None:
        self.checked.append(credentials.fingerprint)
        if credentials.api_key.reveal() != GOOD_KEY:
            raise ProviderError(ProviderErrorKind.AUTH)


@pytest.fixture
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def w(tmp_path: Path, ring: None) -> AsyncIterator[World]:
    async with world(tmp_path, default_role=Role.VIEWER, keys=FakeKeys()) as built:
        yield built


async def _upload(w: World, tmp_path: Path, who: Actor) -> None:
    reply = await w.run(f"upload {write_dataset(tmp_path / 'train.jsonl')} alias=train", who)
    assert reply.tone is Tone.SUCCESS, reply


# ---------------------------------------------------------------------------- roles


async def test_viewers_read_operators_change_admins_govern(w: World, tmp_path: Path) -> None:
    viewer = actor(user="UV")
    denied = await w.run(f"upload {write_dataset(tmp_path / 'a.jsonl')} alias=a", viewer)
    assert denied.tone is Tone.ERROR
    assert denied.visibility is Visibility.EPHEMERAL
    assert "needs the operator role" in denied.title
    assert "you are a viewer" in denied.title
    assert w.provider.calls["upload_file"] == 0
    assert (await w.run("files", viewer)).title == "No files yet."

    assert (await w.run("access grant <@UV> operator", viewer)).tone is Tone.ERROR
    granted = await w.run("access grant <@UV|vera> operator", admin())
    assert granted.title == rich(UserRef(user_id="UV"), " is now an operator in this team.")
    await _upload(w, tmp_path, viewer)
    assert "needs the admin role" in (await w.run("budget cap=10", viewer)).title
    listing = await w.run("access list", viewer)
    assert listing.table is not None
    assert listing.table.rows[0][:2] == (rich(UserRef(user_id="UV")), "operator")

    assert (await w.run("access revoke @UV", admin())).tone is Tone.SUCCESS
    assert (await w.run("rm-file train", viewer)).tone is Tone.ERROR
    assert plain((await w.run("access revoke UV", admin())).title).startswith("UV has no granted")

    entries = await w.store.list_audit("slack:T1", limit=50)
    assert any(
        e.command == "upload" and e.result.startswith("error: /finetune upload needs")
        for e in entries
    )


async def test_job_buttons_check_roles_in_the_service(w: World, tmp_path: Path) -> None:
    operator = actor(user="UO")
    await w.run("access grant UO operator", admin())
    await _upload(w, tmp_path, operator)
    started = await w.run(f"start file=train model={MODEL}", operator)
    job_id = plain(started.title).split()[1]
    viewer = actor(user="UV")
    for action in ("cancel", "pause", "resume"):
        reply = await w.service.handle(build_request(action, {"job": job_id}), viewer)
        assert reply.tone is Tone.ERROR
        assert "needs the operator role" in reply.title
    assert w.provider.calls.get("cancel_job", 0) == 0
    inspect = await w.service.handle(build_request("inspect", {"job": job_id}), viewer)
    assert inspect.title == f"Job {job_id}"


async def test_a_grant_stays_inside_its_team(w: World, tmp_path: Path) -> None:
    # U2 belongs to workspace T2; an admin of T1 grants them admin in T1.
    await w.run("access grant U2 admin", admin("T1"))
    outsider = actor("T2", "U2")
    assert (await w.run("budget cap=5", outsider)).tone is Tone.ERROR
    assert (await w.run("access list", outsider)).title == "No roles granted in this team yet."
    assert await w.store.get_role("slack:T2", "U2") is None


# ---------------------------------------------------------------------------- keys


async def test_keys_in_command_text_are_refused_without_echo(w: World) -> None:
    for line in (
        f"start file=train model={GOOD_KEY}",
        f"list {GOOD_KEY}",
        f'upload "{GOOD_KEY}',
        "settings metric_interval=xoxb-1234567890-abcdefghij",
        f"help {'a1' * 16}",
    ):
        reply = await w.run(line, admin())
        shown = " ".join(map(plain, (reply.title, *reply.lines)))
        assert "looks like an API key" in reply.title
        assert GOOD_KEY not in shown
        assert "xoxb-1234567890" not in shown
        assert reply.visibility is Visibility.EPHEMERAL


@pytest.mark.sqlite_store  # reads the table and the database files
async def test_setup_checks_shape_then_provider_then_stores_encrypted(
    w: World, tmp_path: Path
) -> None:
    def setup(key: str, provider: str = "openai") -> SetupRequest:
        return SetupRequest(provider=provider, api_key=Secret(key))

    wrong_shape = await w.service.handle(setup("pk-" + "x" * 30), admin())
    assert "not an OpenAI API key" in wrong_shape.title
    assert "pk-" not in wrong_shape.title
    azure = await w.service.handle(setup("12345", "azure"), admin())
    assert "not an Azure OpenAI key" in azure.title
    assert "12345" not in azure.title
    refused = await w.service.handle(setup(BAD_KEY), admin())
    assert refused.title == SETUP_REFUSED
    assert BAD_KEY not in refused.title
    assert await w.store.get_credentials("slack:T1") is None
    denied = await w.service.handle(setup(GOOD_KEY), actor(user="UV"))
    assert "needs the admin role" in denied.title

    saved = await w.service.handle(setup(GOOD_KEY), admin())
    assert saved.tone is Tone.SUCCESS
    assert saved.visibility is Visibility.EPHEMERAL
    stored = await w.store.get_credentials("slack:T1")
    assert stored is not None
    assert stored.api_key.reveal() == GOOD_KEY
    shown = await w.run("setup show", admin())
    assert stored.fingerprint in str(shown.table)
    assert GOOD_KEY not in str(shown)

    assert isinstance(w.store, SqlStore)  # the sqlite_store mark
    async with w.store.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT secret FROM team_credentials"))).scalar()
        audit = (await conn.execute(text("SELECT arguments FROM audit"))).scalars().all()
    assert GOOD_KEY not in str(raw)
    assert str(raw).startswith("gAAAA")
    assert all(GOOD_KEY not in a and BAD_KEY not in a for a in audit)
    files = await asyncio.to_thread(lambda: [p.read_bytes() for p in tmp_path.glob("bot.db*")])
    assert files
    assert all(GOOD_KEY.encode() not in data for data in files)
    assert repr(stored).count(GOOD_KEY) == 0

    assert (await w.run("setup remove", admin())).tone is Tone.SUCCESS
    assert await w.store.get_credentials("slack:T1") is None


@pytest.mark.sqlite_store  # reads the table and the database files
async def test_a_ciphertext_copied_to_another_team_is_refused(w: World) -> None:
    await w.service.handle(SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin("T1"))
    await w.service.handle(SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin("T2"))
    assert isinstance(w.store, SqlStore)  # the sqlite_store mark
    async with w.store.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE team_credentials SET secret = (SELECT secret FROM team_credentials "
                "WHERE team_id = 'slack:T1') WHERE team_id = 'slack:T2'"
            )
        )
    assert await w.store.get_credentials("slack:T1") is not None
    with pytest.raises(crypto.SecretUnreadableError):
        await w.store.get_credentials("slack:T2")


async def test_rotation_re_encrypts_under_the_newest_key(w: World) -> None:
    old_key = crypto.generate_key()
    crypto.use_keys([old_key])
    await w.service.handle(SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin())
    new_key = crypto.generate_key()
    crypto.use_keys([new_key])
    with pytest.raises(crypto.SecretUnreadableError):
        await w.store.get_credentials("slack:T1")  # the new key alone cannot read it yet
    crypto.use_keys([new_key, old_key])
    assert await w.store.rotate_secrets() == 1
    assert await w.store.rotate_secrets() == 1  # idempotent
    crypto.use_keys([new_key])
    stored = await w.store.get_credentials("slack:T1")
    assert stored is not None
    assert stored.api_key.reveal() == GOOD_KEY


async def test_setup_needs_encryption_keys(tmp_path: Path) -> None:
    crypto.use_keys(None)
    async with world(tmp_path, keys=FakeKeys()) as w:
        reply = await w.service.handle(
            SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin()
        )
    assert "FINETUNE_BOT_ENCRYPTION_KEYS" in reply.title
    assert reply.tone is Tone.ERROR


# ---------------------------------------------------------------------------- approvals


async def test_a_costly_start_waits_for_another_admin(w: World, tmp_path: Path) -> None:
    requester = admin(user="UR")
    await _upload(w, tmp_path, requester)
    await w.run("budget approve_over=0.000001", requester)
    waiting = await w.run(f"start file=train model={MODEL} epochs=2", requester)
    assert waiting.tone is Tone.WARNING
    assert "Nothing was sent to the provider yet." in waiting.lines
    assert w.provider.calls.get("create_job", 0) == 0
    approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
    await w.settle(seconds=1, step=1)
    (post,) = [p for p in w.notifier.posts if p.reply.buttons]
    assert [b.action for b in post.reply.buttons] == ["approve", "reject"]
    assert post.reply.buttons[0].value == approval_id
    assert post.target.channel_id == "C1"

    own = await w.run(f"approve {approval_id}", requester)
    assert own.tone is Tone.ERROR
    assert "another team admin must approve" in own.title
    operator = actor(user="UO")
    await w.run("access grant UO operator", requester)
    assert "needs the admin role" in (await w.run(f"approve {approval_id}", operator)).title

    approved = await w.service.handle(
        build_request("approve", {"job": approval_id}), admin(user="UB")
    )
    assert plain(approved.title).startswith("Started ftjob-"), approved
    again = await w.run(f"approve {approval_id}", admin(user="UC"))
    assert again.title == rich(
        f"Request {approval_id} was already approved by ",
        UserRef(user_id="UB"),
        "; nothing more to do.",
    )
    assert w.provider.calls["create_job"] == 1
    (job,) = await w.store.list_jobs("slack:T1")
    assert job.requester_id == "UR"
    await w.settle(seconds=1, step=1)
    edited = [p for p in w.notifier.posts if p.edit_of == post.message_id]
    assert edited
    assert str(edited[-1].reply.title).startswith("Approved by @UB")
    assert not edited[-1].reply.buttons


async def test_approval_requests_expire_and_say_so(w: World, tmp_path: Path) -> None:
    await _upload(w, tmp_path, admin())
    await w.run("budget approve_over=0.000001", admin())
    waiting = await w.run(f"start file=train model={MODEL}", admin())
    approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
    w.clock.advance(timedelta(hours=25).total_seconds())
    late = await w.run(f"approve {approval_id}", admin(user="UB"))
    assert plain(late.title).startswith(f"Request {approval_id} expired")
    assert "nothing was started" in late.title
    rejected = await w.run(f"reject {approval_id}", admin(user="UB"))
    assert "expired" in rejected.title
    assert w.provider.calls.get("create_job", 0) == 0


async def test_reject_starts_nothing(w: World, tmp_path: Path) -> None:
    await _upload(w, tmp_path, admin())
    await w.run("budget approve_over=0.000001", admin())
    waiting = await w.run(f"start file=train model={MODEL}", admin())
    approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
    rejected = await w.run(f"reject {approval_id}", admin(user="UB"))
    assert plain(rejected.title).startswith("Rejected")
    assert "already rejected" in (await w.run(f"approve {approval_id}", admin(user="UC"))).title
    assert w.provider.calls.get("create_job", 0) == 0


# ---------------------------------------------------------------------------- budgets


async def test_budget_refuses_with_numbers_and_corrects_at_completion(
    w: World, tmp_path: Path
) -> None:
    await _upload(w, tmp_path, admin())
    first = await w.run(f"start file=train model={MODEL} epochs=1", admin())
    assert first.tone is Tone.SUCCESS
    (job,) = await w.store.list_jobs("slack:T1")
    entry = await w.store.get_spend("slack:T1", job.id)
    assert entry is not None
    assert entry.estimated > 0
    await w.run(f"budget cap={entry.estimated * 1.5:.10f}", admin())
    # Another job (an identical start within minutes is answered with the first one).
    refused = await w.run(f"start file=train model={MODEL} epochs=1 seed=2", admin())
    assert refused.tone is Tone.ERROR
    assert plain(refused.title).startswith(
        "Not started: this job would pass the team's monthly cap"
    )
    assert "spent $" in refused.title
    assert "this job $" in refused.title
    assert "cap $" in refused.title
    assert w.provider.calls["create_job"] == 1

    await w.settle(seconds=200)
    done = await w.store.get_job("slack:T1", job.id)
    assert done is not None
    assert done.state.status == "succeeded"
    settled = await w.store.get_spend("slack:T1", job.id)
    assert settled is not None
    assert settled.actual is not None
    assert settled.price_per_million is not None
    assert done.state.trained_tokens is not None
    assert settled.actual == pytest.approx(
        done.state.trained_tokens * settled.price_per_million / 1_000_000
    )
    shown = await w.run("budget", actor(user="UV"))
    assert shown.title == "This month's fine-tuning spend"
    assert any(f.name == "Monthly cap" for f in shown.fields)


async def test_audit_is_for_admins_and_holds_no_secret(w: World, tmp_path: Path) -> None:
    await _upload(w, tmp_path, admin())
    await w.run("budget cap=100", admin())
    assert "needs the admin role" in (await w.run("audit", actor(user="UV"))).title
    shown = await w.run("audit 5", admin())
    assert shown.table is not None
    commands = [row[2] for row in shown.table.rows]
    assert commands[:2] == ["budget", "upload"]


async def test_an_approved_request_names_its_job_and_oversized_keys_are_refused(
    w: World, tmp_path: Path
) -> None:
    await _upload(w, tmp_path, admin())
    await w.run("budget approve_over=0.000001", admin())
    waiting = await w.run(f"start file=train model={MODEL}", admin())
    approval_id = plain(waiting.lines[0]).split()[1].rstrip(":")
    started = await w.run(f"approve {approval_id}", admin(user="UB"))
    approval = await w.store.get_approval("slack:T1", approval_id)
    assert approval is not None
    assert approval.job_id == plain(started.title).split()[1]

    huge = "sk-" + "A" * 5000
    reply = await w.service.handle(SetupRequest(provider="openai", api_key=Secret(huge)), admin())
    assert "too long" in reply.title
    assert "AAAA" not in reply.title
    long_line = await w.run("list " + "x" * 5000, admin())
    assert "too long" in long_line.title


class ScriptedKeys:
    """A key checker that fails with the kind it is told to, and records what it was given."""

    def __init__(self) -> None:
        self.fail_with: ProviderErrorKind | None = None
        self.checked: list[str | None] = []

    async def check(self, credentials: TeamCredentials) -> None:
        self.checked.append(credentials.endpoint)
        if self.fail_with is not None:
            raise ProviderError(self.fail_with)


async def test_every_refused_setup_gets_one_reply_and_the_key_goes_nowhere(
    tmp_path: Path, ring: None
) -> None:
    """Shape refusals of the endpoint and every failure of the key check read the same."""
    keys = ScriptedKeys()
    async with world(tmp_path, keys=keys) as w:
        replies = set()
        for endpoint in (
            "ftp://h.example/v1",
            "https://user:pw@h.example/v1",
            "https://h.example/v1?token=abc",
            "https://h.example/v1#frag",
            "https://h.example:99999/v1",
            "https://h .example/v1",
        ):
            request = SetupRequest(
                provider="compatible", api_key=Secret(GOOD_KEY), endpoint=endpoint
            )
            replies.add((await w.service.handle(request, admin())).title)
        assert keys.checked == []  # none of those URLs was tried
        for kind in ProviderErrorKind:
            keys.fail_with = kind
            request = SetupRequest(
                provider="compatible",
                api_key=Secret(GOOD_KEY),
                endpoint="https://h.example/v1",
            )
            replies.add((await w.service.handle(request, admin())).title)
        assert replies == {SETUP_REFUSED}
        assert len(keys.checked) == len(ProviderErrorKind)
        assert await w.store.get_credentials("slack:T1") is None
