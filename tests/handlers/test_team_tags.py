"""Team scoping of provider reads: on a shared account a team sees only what carries its tag
(stored completions, jobs, models), on its own account also what carries none (sandbox,
SQLite store, the real directory)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.providers.sandbox.provider import SandboxProvider
from handlers.chat import ChatMessage
from handlers.model import Job, JobSpec, Platform, Team
from handlers.ports import FineTuning
from handlers.recovery import Recovery
from handlers.replies import Tone
from handlers.scope import TEAM_KEY, SharedProviderDirectory, TeamScopedProvider
from handlers.service import BOT_METADATA_KEY
from tests.fakes.clock import ManualClock
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
WORKSPACES = ("T1", "T2", "T3")


def team_id(workspace: str) -> str:
    return actor(workspace).team_id


# A completion's tag: one of the teams, none, or a near miss of a team's id.
TAGS = st.sampled_from(
    [team_id(w) for w in WORKSPACES] + [None, "slack:t1", "slack:T1 ", "discord:T1", ""]
)
COMPLETIONS = st.lists(
    st.tuples(TAGS, st.sampled_from(["support", "sales"])), min_size=0, max_size=14
)


async def _training_file(provider: FineTuning, tmp_path: Path) -> str:
    path = write_dataset(tmp_path / "train.jsonl")
    return (await provider.upload_file(path, filename="train.jsonl")).id


async def _draft_questions(w: World, workspace: str, meta: str) -> set[str] | None:
    """The user questions in the team's from-logs draft; None when it found nothing."""
    who = actor(workspace)
    reply = await w.run(f"/finetune dataset from-logs model={MODEL}{meta}", who)
    if reply.tone is Tone.ERROR:
        assert "No stored completions" in reply.title, reply
        return None
    (button,) = reply.buttons
    draft = w.service.playground._drafts[(who.team_id, button.value)]
    questions: set[str] = set()
    for line in draft.content.decode().splitlines():
        messages = json.loads(line)["messages"]
        questions |= {m["content"] for m in messages if m["role"] == "user"}
    return questions


async def _scenario(stored: list[tuple[str | None, str]], meta_choice: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with world(Path(tmp)) as w:
            for i, (tag, app) in enumerate(stored):
                metadata = {"app": app} if tag is None else {"app": app, TEAM_KEY: tag}
                # Logged straight on the shared account, as a team's own app would.
                await w.provider.chat(
                    MODEL,
                    (ChatMessage(role="user", content=f"q{i} {tag} {app}"),),
                    store=True,
                    metadata=metadata,
                )
            for workspace in WORKSPACES:
                own = team_id(workspace)
                other = team_id(WORKSPACES[(WORKSPACES.index(workspace) + 1) % 3])
                meta, wanted_app = [
                    ("", None),
                    (" meta=app=support", "support"),
                    # Asking for another team's tag by hand must not reach its logs.
                    (f" meta={TEAM_KEY}={other}", "none"),
                    (f" meta={TEAM_KEY}={own},app=sales", "sales"),
                ][meta_choice]
                expected = {
                    f"q{i} {tag} {app}"
                    for i, (tag, app) in enumerate(stored)
                    if tag == own and wanted_app in (None, app)
                }
                got = await _draft_questions(w, workspace, meta)
                assert (got or set()) == expected, (workspace, meta, got, expected)


@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(stored=COMPLETIONS, meta_choice=st.integers(0, 3))
def test_a_from_logs_draft_holds_only_the_teams_own_completions(
    stored: list[tuple[str | None, str]], meta_choice: int
) -> None:
    asyncio.run(_scenario(stored, meta_choice))


async def test_what_the_bot_stores_on_a_shared_account_carries_the_team_tag(
    tmp_path: Path,
) -> None:
    sandbox = SandboxProvider(ManualClock())
    view = await SharedProviderDirectory(sandbox).for_team("slack:T1")
    prompt = (ChatMessage(role="user", content="hi"),)
    await view.chat(MODEL, prompt, store=True, metadata={"app": "x", TEAM_KEY: "slack:T2"})
    await view.chat(MODEL, prompt)  # not kept, so not tagged either
    (kept,) = await sandbox.list_stored_completions()
    assert dict(kept.metadata) == {"app": "x", TEAM_KEY: "slack:T1"}
    job = await view.create_job(
        JobSpec(
            model=MODEL,
            training_file=await _training_file(sandbox, tmp_path),
            metadata={TEAM_KEY: "slack:T2"},
        ),
        idempotency_key="k1",
    )
    assert job.metadata[TEAM_KEY] == "slack:T1"


async def test_on_its_own_account_a_team_also_sees_untagged_items_never_another_teams() -> None:
    sandbox = SandboxProvider(ManualClock())
    prompt = (ChatMessage(role="user", content="hi"),)
    for tag in ("slack:T1", "slack:T2", None):
        await sandbox.chat(
            MODEL, prompt, store=True, metadata={TEAM_KEY: tag} if tag else {"app": "own"}
        )
    own = TeamScopedProvider(sandbox, team_id="slack:T1", shared=False)
    shared = TeamScopedProvider(sandbox, team_id="slack:T1", shared=True)
    assert sorted(
        dict(c.metadata).get(TEAM_KEY, "-") for c in await own.list_stored_completions()
    ) == [
        "-",
        "slack:T1",
    ]
    assert [dict(c.metadata)[TEAM_KEY] for c in await shared.list_stored_completions()] == [
        "slack:T1"
    ]
    assert await shared.list_stored_completions(metadata={TEAM_KEY: "slack:T2"}) == []
    assert await own.list_stored_completions(metadata={TEAM_KEY: "slack:T2"}) == []


async def test_resync_of_a_teams_own_account_adopts_only_that_teams_jobs(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        training = await _training_file(w.provider, tmp_path)
        for tag in ("slack:T1", "slack:T2"):
            await w.provider.create_job(
                JobSpec(
                    model=MODEL,
                    training_file=training,
                    metadata={BOT_METADATA_KEY: "default", TEAM_KEY: tag},
                ),
                idempotency_key=tag,
            )
        # T2's own key reaches this account: what is tagged for T1 there is not T1's to get.
        own = TeamScopedProvider(w.provider, team_id="slack:T2", shared=False)
        report = await Recovery(store=w.store, clock=w.clock).resync([own])
        assert len(report.recovered) == 1
        assert await w.store.list_jobs("slack:T1") == []
        (adopted,) = await w.store.list_jobs("slack:T2")
        assert adopted.state.metadata[TEAM_KEY] == "slack:T2"


async def test_a_shared_account_hides_other_teams_models_whatever_their_name(
    tmp_path: Path,
) -> None:
    """A fine-tuned model named like a base model (Azure names them `<base>.ft-<id>`) is
    another team's by its job's tag, not by its name: never offered, never answered."""
    async with world(tmp_path) as w:
        await w.store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))
        job = await w.provider.create_job(
            JobSpec(
                model=MODEL,
                training_file=await _training_file(w.provider, tmp_path),
                metadata={TEAM_KEY: "slack:T1"},
            ),
            idempotency_key="t1",
        )
        await w.store.add_job(Job(team_id="slack:T1", state=job), next_poll_at=w.clock.now())
        w.clock.advance(400)
        done = await w.provider.get_job(job.id)
        assert done.fine_tuned_model is not None
        view = await SharedProviderDirectory(w.provider).for_team("slack:T2")
        assert done.fine_tuned_model not in {m.id for m in await view.list_models()}
        mine = await SharedProviderDirectory(w.provider).for_team("slack:T1")
        assert done.fine_tuned_model in {m.id for m in await mine.list_models()}
        before = w.provider.calls.get("chat", 0)
        reply = await w.run(f"/finetune try {done.fine_tuned_model} hi", actor("T2"))
        assert reply.tone is Tone.ERROR
        assert w.provider.calls.get("chat", 0) == before
