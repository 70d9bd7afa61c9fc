"""try, compare and dataset from-logs over real parts: SQLite store, sandbox, manual clock."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bot.providers.sandbox.provider import SandboxProvider
from handlers.chat import ChatMessage, ChatResult
from handlers.compare import normalize, parse_test_set
from handlers.errors import DataError, ProviderError, ProviderErrorKind
from handlers.playground import PlaygroundSettings, parse_meta, parse_since
from handlers.replies import Reply, Text, Tone, UserRef, plain
from handlers.scope import TEAM_KEY, SharedProviderDirectory
from handlers.service import Service
from tests.fakes.faulty_provider import FaultyProvider
from tests.world import World, actor, chat_example, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def _trained(w: World, tmp_path: Path, who=None) -> str:  # type: ignore[no-untyped-def]
    """Upload train (12) and valid (10, the same prompts), train to the end: the model name."""
    who = who or actor()
    train = write_dataset(tmp_path / "train.jsonl", n=12)
    valid = write_dataset(tmp_path / "valid.jsonl", n=10)
    assert (await w.run(f"/finetune upload {train} alias=train", who)).tone is Tone.SUCCESS
    # Same content would be deduplicated: make the validation file differ by one example.
    valid.write_text(valid.read_text() + valid.read_text().splitlines()[0] + "\n")
    assert (await w.run(f"/finetune upload {valid} alias=valid", who)).tone is Tone.SUCCESS
    reply = await w.run(
        f"/finetune start file=train validation=valid model={MODEL} epochs=2 suffix=s1", who
    )
    assert reply.tone is Tone.SUCCESS, reply
    await w.settle(seconds=200)
    models = await w.store.list_models(who.team_id)
    assert models, "the job should have succeeded"
    return models[0].name


def _rows(reply: Reply) -> list[dict[str, str]]:
    (attachment,) = reply.attachments
    assert attachment.mime_type == "text/csv"
    return list(csv.DictReader(io.StringIO(attachment.content.decode("utf-8-sig"))))


async def test_try_answers_with_tokens_and_latency(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    # The sandbox's fine-tuned model repeats a learnt answer 95% of the time, by a hash of
    # its (random) id and the prompt: one of five learnt prompts is as good as certain.
    replies = [await w.run(f"/finetune try {model} Question {i}?", actor()) for i in range(5)]
    reply = replies[0]
    assert reply.title == f"{model} answered"
    assert any(f"Answer {i}." in r.lines for i, r in enumerate(replies))
    fields = {f.name: plain(f.value) for f in reply.fields}
    assert fields["Tokens"].endswith("out")
    assert fields["Latency"].endswith(" s")
    assert fields["Est. cost"].startswith("$")
    base = await w.run(f"/finetune try {MODEL} What's up? system='be brief'", actor())
    assert base.title == f"{MODEL} answered", base
    assert "Answer 3." not in base.lines


async def test_try_without_prompt_uses_the_validation_file(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    reply = await w.run(f"/finetune try {model}", actor())
    assert plain(reply.lines[0]).startswith("Prompt (line ")
    assert "of 'valid'" in reply.lines[0]
    assert any(line.startswith("Reference answer: Answer ") for line in map(plain, reply.lines))
    base = await w.run(f"/finetune try {MODEL}", actor())
    assert base.tone is Tone.ERROR
    assert "prompt" in base.title


async def test_unknown_and_other_teams_models_read_the_same(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    other = actor(workspace="T2")
    theirs = await w.run(f"/finetune try {model} hello", other)
    nothing = await w.run("/finetune try ft:gpt-4.1-mini-2025-04-14:x:y:z hello", other)
    assert theirs.tone is Tone.ERROR
    assert plain(theirs.title).replace(model, "M") == plain(nothing.title).replace(
        "ft:gpt-4.1-mini-2025-04-14:x:y:z", "M"
    )
    unknown = await w.run("/finetune try no-such-model hi", actor())
    assert unknown.tone is Tone.ERROR
    assert "No model 'no-such-model'" in unknown.title
    compared = await w.run(f"/finetune compare {model}", other)
    assert compared.tone is Tone.ERROR
    assert "No model" in compared.title


async def test_compare_with_base_on_the_validation_file(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    reply = await w.run(f"/finetune compare {model} n=11", actor())
    assert reply.tone is Tone.SUCCESS, reply
    assert "11/11 examples of 'valid'" in reply.title
    assert reply.table is not None
    rows = {plain(r[0]): [plain(c) for c in r[1:]] for r in reply.table.rows}
    a_norm, b_norm = rows["normalized match"]
    assert int(a_norm.split("/")[0]) > int(b_norm.split("/")[0])
    assert any("A scores higher" in line for line in reply.lines)
    assert any("Where they disagree most" in line for line in reply.lines)
    assert all(cost.startswith("$") for cost in rows["est. cost"])
    csv_rows = _rows(reply)
    assert len(csv_rows) == 22
    assert {r["model"] for r in csv_rows} == {model, MODEL}
    assert all(r["reference"].startswith("Answer ") for r in csv_rows)
    # The progress card goes through the outbox; undispatched updates give way to the newest.
    while (await w.dispatcher.tick()).sent:
        pass
    (card,) = [p for p in w.notifier.posts if p.dedupe_key.startswith("compare:")]
    assert "finished: 11/11" in card.reply.title
    assert not card.reply.buttons


async def test_compare_with_a_grader(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    reply = await w.run(
        f"/finetune compare {model} {MODEL} file=valid n=4 grader={MODEL}", actor()
    )
    assert reply.table is not None
    grades = {plain(r[0]): [plain(c) for c in r[1:]] for r in reply.table.rows}["grade out of 10"]
    # The sandbox's fine-tuned model repeats most learnt answers, but which ones depends on the
    # job's random id: compare the grades, not a fixed score.
    assert grades[0].endswith("(4 graded)")
    assert float(grades[0].split("/")[0]) > float(grades[1].split("/")[0])
    assert any("A scores higher on grade" in line for line in reply.lines)
    rows = _rows(reply)
    assert len(rows) == 8
    assert all(r["grade"] for r in rows)


class _FailingGrader:
    """The sandbox, except that every grader call fails."""

    def __init__(self, inner: SandboxProvider) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        if messages[0].content.startswith("You grade"):
            raise ProviderError(ProviderErrorKind.SERVER)
        return await self.inner.chat(model, messages, max_tokens=max_tokens)


async def test_a_grader_that_errors_is_named_and_not_fatal(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    service = Service(
        store=w.store,
        watch_store=w.store,
        providers=SharedProviderDirectory(_FailingGrader(w.provider)),  # type: ignore[arg-type]
        clock=w.clock,
        charts=w.charts,
    )
    reply = await service.handle_text(f"/finetune compare {model} n=3 grader={MODEL}", actor())
    assert reply.tone is Tone.SUCCESS
    assert any(
        "The grader failed on 6 answers (first: The provider had an internal error" in line
        for line in reply.lines
    )
    assert all(r["error"].startswith("The provider had") for r in _rows(reply))


async def test_compare_bad_input(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    over = await w.run(f"/finetune compare {model} n=501", actor())
    assert over.tone is Tone.ERROR
    # The parser holds the cap: the refusal's usage line shows the bound it applied.
    assert "n=501 must be at most 500" in over.title
    assert "[n=1-500]" in over.lines[0]
    base_only = await w.run(f"/finetune compare {MODEL}", actor())
    assert "name the second model" in base_only.title
    no_file = await w.run(f"/finetune compare {model} file=nope", actor())
    assert "No file 'nope'" in no_file.title
    same = await w.run(f"/finetune compare {model} {model}", actor())
    assert "two different models" in same.title
    no_set = await w.run(f"/finetune compare {MODEL} gpt-4o-2024-08-06", actor())
    assert "Which test set?" in no_set.title


def test_test_set_parsing_refuses_empty_and_malformed() -> None:
    with pytest.raises(DataError, match="empty"):
        parse_test_set(b"\n\n", limit=10)
    with pytest.raises(DataError, match="malformed") as caught:
        parse_test_set(b'{"messages": [{"role": "user", "content": "q"}]}\nnot json\n', limit=9)
    assert caught.value.problems == (
        "line 1: no assistant message to use as the reference",
        "line 2: not valid JSON",
    )
    with pytest.raises(DataError, match="UTF-8"):
        parse_test_set(b"\xff\xfe", limit=1)
    cases = parse_test_set(
        b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},'
        b' {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]}\n',
        limit=5,
    )
    assert cases[0].reference == "a2"
    assert len(cases[0].prompt) == 3
    assert normalize("Reset it, please!") == normalize("reset  it please")


async def test_compare_malformed_file_is_refused(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    prefs = tmp_path / "prefs.jsonl"
    line = (
        '{"input": {"messages": [{"role": "user", "content": "q%d"}]}, '
        '"preferred_output": [{"role": "assistant", "content": "a"}], '
        '"non_preferred_output": [{"role": "assistant", "content": "b"}]}'
    )
    prefs.write_text("\n".join(line % i for i in range(12)) + "\n")
    assert (await w.run(f"/finetune upload {prefs} alias=prefs", actor())).tone is Tone.SUCCESS
    reply = await w.run(f"/finetune compare {model} file=prefs", actor())
    assert reply.tone is Tone.ERROR
    assert "preference file" in reply.title


async def test_provider_error_midway_keeps_partial_results(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    w.provider.inject_fault(
        ProviderError(ProviderErrorKind.RATE_LIMITED), operation="chat", skip=7, times=1
    )
    reply = await w.run(f"/finetune compare {model} n=10", actor())
    assert reply.tone is Tone.ERROR
    assert "stopped by a provider error" in reply.title
    assert any("rate-limiting" in line and "Stopped after" in line for line in reply.lines)
    rows = _rows(reply)
    answered = [r for r in rows if not r["error"]]
    assert len(answered) == 7  # every answer received before the error is kept
    assert next(r for r in rows if r["error"])["error"].startswith("The provider is rate-limiting")


class _Gated:
    """The sandbox behind a gate: chat calls wait until the test opens it; counts in flight."""

    def __init__(self, inner: FaultyProvider) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.peak = 0
        self.started = 0
        self.three_started = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        self.in_flight += 1
        self.started += 1
        self.peak = max(self.peak, self.in_flight)
        if self.started >= 3:
            self.three_started.set()
        try:
            await self.gate.wait()
            return await self.inner.chat(model, messages, max_tokens=max_tokens)
        finally:
            self.in_flight -= 1


async def test_cancel_keeps_partial_results_and_bounds_concurrency(
    w: World, tmp_path: Path
) -> None:
    model = await _trained(w, tmp_path)
    gated = _Gated(w.provider)
    service = Service(
        store=w.store,
        watch_store=w.store,
        providers=SharedProviderDirectory(gated),  # type: ignore[arg-type]
        clock=w.clock,
        charts=w.charts,
        playground=PlaygroundSettings(concurrency=3),
    )
    task = asyncio.create_task(service.handle_text(f"/finetune compare {model} n=10", actor()))
    await gated.three_started.wait()
    (run_id,) = service.playground.live_runs(actor().team_id)
    assert (
        await service.handle_text(f"/finetune cancel {run_id}", actor(workspace="T2"))
    ).tone is Tone.ERROR  # another team cannot stop it
    stopping = await service.handle_text(f"/finetune compare cancel {run_id}", actor())
    assert stopping.title == f"Stopping {run_id}"
    gated.gate.set()
    reply = await task
    assert "cancelled" in reply.title
    assert "3/10" not in reply.title
    assert gated.peak == 3
    assert gated.started == 3  # nothing new started after the cancel
    assert len(_rows(reply)) == 3
    assert any(
        isinstance(line, Text)
        and UserRef(user_id="U1") in line.parts
        and "Cancelled by " in line.parts
        for line in reply.lines
    )


async def test_dataset_from_logs_draft_then_confirm(w: World, tmp_path: Path) -> None:
    for i in range(16):
        await w.provider.chat(
            MODEL,
            (ChatMessage(role="user", content=f"Where is order {i}?"),),
            store=True,
            # What the team's own app logs on the shared account carries the team's tag.
            metadata={"app": "support" if i % 4 else "sales", TEAM_KEY: actor().team_id},
        )
    await w.provider.chat(MODEL, (ChatMessage(role="user", content="not kept"),))
    reply = await w.run(f"/finetune dataset from-logs model={MODEL} meta=app=support", actor())
    assert plain(reply.title).startswith("Draft ds-")
    assert "12 training examples" in reply.title
    assert any(line.startswith("Sample:") for line in map(plain, reply.lines))
    (button,) = reply.buttons
    assert button.action == "dataset"
    assert button.value.startswith("ds-")
    other = await w.run(f"/finetune dataset {button.value}", actor(workspace="T2"))
    assert other.tone is Tone.ERROR
    uploaded = await w.run(f"/finetune dataset {button.value}", actor())
    assert uploaded.tone is Tone.SUCCESS, uploaded
    files = await w.store.list_files(actor().team_id)
    assert files[0].alias.startswith("from-logs-")
    assert files[0].examples == 12
    again = await w.run(f"/finetune dataset {button.value}", actor())
    assert again.tone is Tone.ERROR
    assert "No draft" in again.title
    direct = await w.run(
        f"/finetune dataset from-logs model={MODEL} alias=all confirm=yes", actor()
    )
    assert direct.tone is Tone.SUCCESS
    assert "'all'" in direct.title
    few = await w.run(f"/finetune dataset from-logs model={MODEL} meta=app=sales", actor())
    assert few.tone is Tone.WARNING  # 4 examples: the validator's finding is shown up front
    assert any("at least 10" in line for line in few.lines)


async def test_dataset_from_logs_bad_input(w: World) -> None:
    none = await w.run(f"/finetune dataset from-logs model={MODEL}", actor())
    assert none.tone is Tone.ERROR
    assert "No stored completions" in none.title
    assert "store=true" in none.title
    bad_since = await w.run(f"/finetune dataset from-logs model={MODEL} since=soon", actor())
    assert "not a duration" in bad_since.title
    no_model = await w.run("/finetune dataset from-logs", actor())
    assert "Missing model" in no_model.title
    assert parse_since("12h").total_seconds() == 12 * 3600
    assert parse_meta("a=1, b=2") == {"a": "1", "b": "2"}
    w.clock.advance(8 * 86400)
    await w.provider.chat(
        MODEL,
        (ChatMessage(role="user", content="x"),),
        store=True,
        metadata={TEAM_KEY: actor().team_id},
    )
    w.clock.advance(8 * 86400)
    old = await w.run(f"/finetune dataset from-logs model={MODEL} since=7d", actor())
    assert "No stored completions" in old.title


async def test_sandbox_answers_are_deterministic_and_tell_models_apart(
    w: World, tmp_path: Path
) -> None:
    model = await _trained(w, tmp_path)
    prompt = (ChatMessage(role="user", content="Question 5?"),)
    first = await w.provider.chat(model, prompt)
    second = await w.provider.chat(model, prompt)
    assert (first.content, first.latency_s) == (second.content, second.latency_s)
    base = await w.provider.chat(MODEL, prompt)
    assert base.content != "Answer 5."
    # A learnt answer comes back 95% of the time (a hash of the random model id and prompt).
    learnt = [
        (
            await w.provider.chat(model, (ChatMessage(role="user", content=f"Question {i}?"),))
        ).content
        for i in range(5)
    ]
    assert any(answer == f"Answer {i}." for i, answer in enumerate(learnt))
    with pytest.raises(ProviderError) as missing:
        await w.provider.chat("ft:gpt-4.1-mini-2025-04-14:sandbox:nope:x", prompt)
    assert missing.value.kind is ProviderErrorKind.NOT_FOUND


async def test_compare_reads_the_copy_kept_at_upload(w: World, tmp_path: Path) -> None:
    # OpenAI refuses to hand back files uploaded for fine-tuning; the copy makes that moot.
    model = await _trained(w, tmp_path)
    w.provider.inject_fault(
        ProviderError(
            ProviderErrorKind.BAD_REQUEST, "Not allowed to download files of purpose: fine-tune"
        ),
        times=5,
        operation="file_content",
    )
    reply = await w.run(f"/finetune compare {model} n=11", actor())
    assert reply.tone is Tone.SUCCESS, reply
    assert "11/11 examples of 'valid'" in reply.title
    assert w.provider.calls["file_content"] == 0
    valid = await w.store.get_file(actor().team_id, "valid")
    assert valid is not None
    assert await w.store.file_copy(actor().team_id, valid.provider_file_id) is not None
    assert await w.store.file_copy("slack:T2", valid.provider_file_id) is None
    await w.run("/finetune rm-file valid", actor())
    assert await w.store.file_copy(actor().team_id, valid.provider_file_id) is None


async def test_try_on_a_job_that_failed_says_so(w: World, tmp_path: Path) -> None:
    lines = [chat_example(i) for i in range(12)]
    lines[3] = '{"messages": [{"role": "robot", "content": "hi"}]}'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (await w.run(f"/finetune upload {bad} alias=bad force=yes", actor())).tone in (
        Tone.SUCCESS,
        Tone.WARNING,
    )
    started = await w.run(f"/finetune start file=bad model={MODEL} epochs=1", actor())
    job_id = plain(started.title).removeprefix("Started ").split()[0]
    running = await w.run(f"/finetune try {job_id} hello", actor())
    assert f"{job_id} is " in running.title
    assert "once it succeeds" in running.title
    await w.settle(seconds=200)
    job = await w.store.get_job(actor().team_id, job_id)
    assert job is not None
    assert job.state.status.value == "failed"
    reply = await w.run(f"/finetune try {job_id} hello", actor())
    assert reply.tone is Tone.ERROR
    assert f"{job_id} failed, so it made no model to try" in reply.title
    assert f"/finetune start like={job_id}" in reply.title
    assert "No model" not in reply.title


async def test_the_summary_names_its_scores_in_the_tables_units(w: World, tmp_path: Path) -> None:
    model = await _trained(w, tmp_path)
    reply = await w.run(f"/finetune compare {model} file=valid grader={MODEL}", actor())
    assert reply.table is not None
    rows = {plain(r[0]): r for r in reply.table.rows}
    assert {"exact match", "normalized match", "grade out of 10"} <= set(rows)
    text = "\n".join(map(plain, reply.lines))
    assert "Scores: exact match: the answer is the reference, character for character" in text
    assert f"grade out of 10: {MODEL}'s mean rating" in text
    # The verdict quotes the table's own cells: a grade out of 10, not a percentage.
    verdict = next(line for line in text.splitlines() if "scores higher" in line or "tie" in line)
    a_grade, b_grade = (plain(c) for c in rows["grade out of 10"][1:])
    assert a_grade in verdict
    assert b_grade in verdict
    assert "%" not in verdict
    assert "(1.0)" not in text  # each example's score is named too, not a bare fraction
