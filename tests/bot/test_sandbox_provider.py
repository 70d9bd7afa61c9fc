"""Adapter tests: SandboxProvider, the deterministic simulation of the fine-tuning API."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timeline import EVENT_PREFIX
from bot.providers.sandbox.timing import DEFAULT_TIMING, FAST_TIMING, SandboxTiming
from handlers.datasets import EstimateTokenizer, Severity, validate_file
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobEvent, JobSpec, Method, MetricPoint
from handlers.ports import FineTuning, Provider
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider

# 10 s validating, 20 s queued, 5 s a step: a 10-example, 3-epoch job runs 30 steps, ends at 180 s.
TIMING = SandboxTiming(validating_s=10, queued_s=20, step_s=5, max_steps=60, eval_every=10)
BASE = "gpt-4o-mini-2024-07-18"
FT_NAME = re.compile(r"^ft:gpt-4o-mini-2024-07-18:sandbox:demo:[0-9a-f]{12}$")


def chat_line(n: int) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"question {n}"},
                {"role": "assistant", "content": f"answer {n}"},
            ]
        }
    )


def preference_line(n: int) -> str:
    return json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": f"q{n}"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}],
        }
    )


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> SandboxProvider:
    return SandboxProvider(clock, timing=TIMING)


async def upload_chat(sandbox: FineTuning, tmp_path: Path, count: int = 10) -> str:
    path = write(tmp_path, "train.jsonl", [chat_line(n) for n in range(count)])
    return (await sandbox.upload_file(path, filename="train.jsonl")).id


def job_spec(training_file: str, **overrides: object) -> JobSpec:
    values: dict[str, object] = {"model": BASE, "training_file": training_file, "suffix": "demo"}
    values.update(overrides)
    return JobSpec(**values)  # type: ignore[arg-type]


async def start_job(sandbox: FineTuning, tmp_path: Path, key: str = "k1") -> str:
    file_id = await upload_chat(sandbox, tmp_path)
    return (await sandbox.create_job(job_spec(file_id), idempotency_key=key)).id


def metric_points(events: list[JobEvent]) -> list[MetricPoint]:
    return [p for p in (MetricPoint.from_event(e) for e in events) if p is not None]


async def all_events(sandbox: SandboxProvider, job_id: str) -> list[JobEvent]:
    return list(await sandbox.list_events_after(job_id, None, limit=10_000))


def port_members(port: type) -> dict[str, object]:
    """A Protocol's members (properties and methods), as declared, with those of the
    capability protocols it is made of."""
    found: dict[str, object] = {}
    for cls in reversed(port.__mro__):
        if cls is object or cls.__module__ == "typing":
            continue
        found |= {
            name: member
            for name, member in vars(cls).items()
            if not name.startswith("_") and (callable(member) or isinstance(member, property))
        }
    return found


def parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    """Each parameter's name, kind and default: what a caller of the port relies on."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_sandbox_satisfies_the_provider_port(sandbox: SandboxProvider) -> None:
    members = port_members(Provider)
    assert "create_job" in members
    assert "label" in members
    for name, declared in members.items():
        implemented = inspect.getattr_static(SandboxProvider, name, None)
        assert implemented is not None, f"SandboxProvider lacks Provider.{name}"
        if isinstance(declared, property):
            assert isinstance(implemented, property), f"{name} is not a property"
            continue
        assert callable(declared)
        assert callable(implemented), name
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared), (
            f"{name}: async in one, not in the other"
        )
        assert parameters(implemented) == parameters(declared), name
    assert sandbox.is_simulation is True
    assert sandbox.label == "Sandbox (simulated training)"


def test_timing_presets_are_quick_and_checked() -> None:
    fast_total = FAST_TIMING.validating_s + FAST_TIMING.queued_s
    fast_total += FAST_TIMING.max_steps * FAST_TIMING.step_s
    assert 10 <= fast_total <= 20
    assert DEFAULT_TIMING.max_steps == 60
    assert SandboxTiming(1, 2, 0.5).step_s == 0.5
    with pytest.raises(ValueError, match="step_s"):
        SandboxTiming(step_s=0)


async def test_full_life_to_succeeded(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    assert (await sandbox.get_job(job_id)).provider_status == "validating_files"
    clock.advance(10)
    assert (await sandbox.get_job(job_id)).status == "queued"
    clock.advance(20)
    running = await sandbox.get_job(job_id)
    assert running.status == "running"
    assert running.fine_tuned_model is None
    assert running.estimated_finish == clock.current + timedelta(seconds=150)
    clock.advance(149)
    assert (await sandbox.get_job(job_id)).status == "running"
    clock.advance(1)

    done = await sandbox.get_job(job_id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model is not None
    assert FT_NAME.match(done.fine_tuned_model)
    assert done.finished_at == clock.current
    assert done.trained_tokens is not None
    assert done.trained_tokens > 0
    assert done.hyperparameters.n_epochs == 3
    assert done.estimated_finish is None

    events = await all_events(sandbox, job_id)
    assert all(e.message.startswith(EVENT_PREFIX) for e in events)
    assert [e.id for e in events] == [
        f"{events[0].id[:-6]}{n:06d}" for n in range(1, 1 + len(events))
    ]
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    messages = [e.message.removeprefix(EVENT_PREFIX) for e in events]
    assert f"Validating training file: {done.training_file}" in messages
    assert "Fine-tuning job started" in messages
    assert messages[-1] == "The job has successfully completed"
    assert any(m.startswith("Step 10/30: training loss=") for m in messages)

    points = metric_points(events)
    assert [p.step for p in points] == list(range(1, 31))
    assert all(p.total_steps == 30 for p in points)
    losses = [p.train_loss or 0.0 for p in points]
    accuracies = [p.train_accuracy or 0.0 for p in points]
    assert sum(losses[:5]) / 5 > sum(losses[-5:]) / 5 + 0.5
    assert sum(accuracies[:5]) / 5 < sum(accuracies[-5:]) / 5
    assert [p.step for p in points if p.valid_loss is not None] == [10, 20, 30]
    last = next(e for e in reversed(events) if e.is_metrics)
    assert {"full_valid_loss", "full_valid_mean_token_accuracy"} <= set(last.data)

    checkpoints = await sandbox.list_checkpoints(job_id)
    assert [c.step for c in checkpoints] == [30, 20, 10]
    assert checkpoints[0].model_name == f"{done.fine_tuned_model}:ckpt-step-30"
    assert "train_loss" in checkpoints[0].metrics

    models = {m.id: m for m in await sandbox.list_models()}
    assert BASE in models
    assert models[done.fine_tuned_model].created_at == done.finished_at


async def test_estimated_finish_while_running(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    start = clock.current
    job_id = await start_job(sandbox, tmp_path)
    clock.advance(40)
    state = await sandbox.get_job(job_id)
    assert state.estimated_finish is not None
    assert (state.estimated_finish - start).total_seconds() == 180


async def test_invalid_file_fails_at_end_of_validation(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    path = write(tmp_path, "bad.jsonl", [chat_line(0), "{not json", chat_line(2)])
    uploaded = await sandbox.upload_file(path, filename="bad.jsonl")
    info = sandbox.inspect_file(uploaded.id)
    assert info.lines == 3
    assert not info.valid
    assert info.problem is not None
    assert info.problem.startswith("line 2: not valid JSON")

    job = await sandbox.create_job(job_spec(uploaded.id), idempotency_key="bad")
    assert job.provider_status == "validating_files"
    clock.advance(9.999)
    assert (await sandbox.get_job(job.id)).provider_status == "validating_files"
    clock.advance(0.001)
    failed = await sandbox.get_job(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "line 2: not valid JSON" in failed.error
    assert uploaded.id in failed.error
    assert failed.fine_tuned_model is None
    events = await all_events(sandbox, job.id)
    assert events[-1].level == "error"
    assert events[-1].message == EVENT_PREFIX + failed.error
    assert not [e for e in events if e.is_metrics]
    assert await sandbox.list_checkpoints(job.id) == []


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([], "the file is empty"),
        (['{"messages": []}'], "line 1: 'messages' is empty"),
        (['{"messages": [{"role": "user", "content": "x"}]}'], "line 1: no assistant message"),
        (["[1, 2]"], "line 1: a line must be a JSON object"),
        (['{"prompt": "x"}'], "line 1: no 'completion'"),
        ([chat_line(0), preference_line(1)], "line 2: unknown key 'input'"),
    ],
)
async def test_file_validation_names_the_problem(
    sandbox: SandboxProvider, tmp_path: Path, lines: list[str], problem: str
) -> None:
    uploaded = await sandbox.upload_file(write(tmp_path, "f.jsonl", lines), filename="f.jsonl")
    found = sandbox.inspect_file(uploaded.id).problem
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize(
    "line",
    [
        # Each passed the sandbox's own laxer checker before it used the bot's validator.
        '{"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}',
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]}',
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant"}], "extra": 1}',
    ],
)
async def test_the_sandbox_refuses_what_the_bots_validator_refuses(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path, line: str
) -> None:
    path = write(tmp_path, "f.jsonl", [chat_line(0), line, *map(chat_line, range(2, 12))])
    report = validate_file(path, EstimateTokenizer(), model="", token_limit=65_536)
    first = next(p for p in report.shown if p.kind.severity is Severity.ERROR)
    assert first.line == 2
    uploaded = await sandbox.upload_file(path, filename="f.jsonl")
    assert sandbox.inspect_file(uploaded.id).problem == str(first)
    job = await sandbox.create_job(job_spec(uploaded.id), idempotency_key="k")
    clock.advance(1000)
    failed = await sandbox.get_job(job.id)
    assert failed.status == "failed"
    assert str(first) in (failed.error or "")


async def test_file_of_the_wrong_format_fails_the_job(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    preference = write(tmp_path, "pref.jsonl", [preference_line(n) for n in range(10)])
    file_id = (await sandbox.upload_file(preference, filename="pref.jsonl")).id
    sft = await sandbox.create_job(job_spec(file_id), idempotency_key="sft")
    dpo = await sandbox.create_job(
        job_spec(file_id, method=Method.DPO, hyperparameters=Hyperparameters(beta=0.2)),
        idempotency_key="dpo",
    )
    clock.advance(1000)
    failed = await sandbox.get_job(sft.id)
    assert failed.status == "failed"
    assert "needs chat examples" in (failed.error or "")
    succeeded = await sandbox.get_job(dpo.id)
    assert succeeded.status == "succeeded"
    assert succeeded.method == "dpo"
    assert succeeded.hyperparameters.beta == 0.2


async def test_files_upload_list_get_delete(sandbox: SandboxProvider, tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", [chat_line(n) for n in range(4)])
    first = await sandbox.upload_file(path, filename="a.jsonl")
    second = await sandbox.upload_file(path, filename="b.jsonl")
    assert first.id.startswith("file-sbx")
    assert first.id != second.id
    assert first.bytes == path.stat().st_size
    assert first.purpose == "fine-tune"
    assert sandbox.inspect_file(first.id).lines == 4
    assert sandbox.inspect_file(first.id).format == "chat"
    assert [f.id for f in await sandbox.list_files()] == [second.id, first.id]
    assert (await sandbox.get_file(first.id)).filename == "a.jsonl"
    await sandbox.delete_file(first.id)
    with pytest.raises(ProviderError) as raised:
        await sandbox.get_file(first.id)
    assert raised.value.kind is ProviderErrorKind.NOT_FOUND
    with pytest.raises(ProviderError) as raised:
        await sandbox.delete_file(first.id)
    assert raised.value.kind is ProviderErrorKind.NOT_FOUND


async def test_create_job_validates_model_and_files(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    file_id = await upload_chat(sandbox, tmp_path)
    with pytest.raises(ProviderError) as raised:
        await sandbox.create_job(job_spec(file_id, model="gpt-9"), idempotency_key="a")
    assert raised.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "model gpt-9 is not available for fine-tuning" in raised.value.message
    with pytest.raises(ProviderError) as raised:
        await sandbox.create_job(job_spec("file-nope"), idempotency_key="b")
    assert raised.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "file-nope" in raised.value.message
    with pytest.raises(ProviderError) as raised:
        await sandbox.create_job(
            job_spec(file_id, validation_file="file-nope"), idempotency_key="c"
        )
    assert raised.value.kind is ProviderErrorKind.BAD_REQUEST
    with pytest.raises(ProviderError, match="n_epochs"):
        await sandbox.create_job(
            job_spec(file_id, hyperparameters=Hyperparameters(n_epochs=0)), idempotency_key="d"
        )
    assert await sandbox.list_jobs() == []


async def test_alias_resolves_and_own_ft_model_is_a_base(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    file_id = await upload_chat(sandbox, tmp_path)
    first = await sandbox.create_job(job_spec(file_id, model="gpt-4o-mini"), idempotency_key="1")
    assert first.model == BASE
    with pytest.raises(ProviderError, match="not available"):
        await sandbox.create_job(
            job_spec(file_id, model=f"ft:{BASE}:sandbox:demo:000000000000"), idempotency_key="x"
        )
    clock.advance(180)
    tuned = (await sandbox.get_job(first.id)).fine_tuned_model
    assert tuned is not None
    second = await sandbox.create_job(
        job_spec(file_id, model=tuned, suffix="again"), idempotency_key="2"
    )
    assert second.model == tuned
    clock.advance(180)
    again = (await sandbox.get_job(second.id)).fine_tuned_model
    assert again is not None
    assert again.startswith(f"ft:{BASE}:sandbox:again:")


async def test_create_is_idempotent(sandbox: SandboxProvider, tmp_path: Path) -> None:
    file_id = await upload_chat(sandbox, tmp_path)
    first = await sandbox.create_job(job_spec(file_id), idempotency_key="same")
    again = await sandbox.create_job(job_spec(file_id), idempotency_key="same")
    other = await sandbox.create_job(job_spec(file_id), idempotency_key="other")
    assert again == first
    assert other.id != first.id
    assert first.id.startswith("ftjob-sbx")
    assert len(await sandbox.list_jobs()) == 2


async def test_list_jobs_newest_first_with_metadata_filter(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    file_id = await upload_chat(sandbox, tmp_path)
    ids = []
    for n in range(4):
        clock.advance(1)
        team = "t1" if n % 2 == 0 else "t2"
        spec = job_spec(file_id, metadata={"team": team, "n": str(n)})
        ids.append((await sandbox.create_job(spec, idempotency_key=str(n))).id)
    assert [j.id for j in await sandbox.list_jobs()] == ids[::-1]
    assert [j.id for j in await sandbox.list_jobs(metadata={"team": "t1"})] == [ids[2], ids[0]]
    assert [j.id for j in await sandbox.list_jobs(limit=1)] == [ids[3]]
    filtered = await sandbox.list_jobs(metadata={"team": "t2", "n": "1"})
    assert [j.id for j in filtered] == [ids[1]]
    assert filtered[0].metadata == {"team": "t2", "n": "1"}
    assert await sandbox.list_jobs(metadata={"team": "t3"}) == []
    assert await sandbox.list_jobs(metadata={"team": "t1", "n": "1"}) == []


async def test_cancel_only_live_jobs(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    clock.advance(30 + 5 * 7)
    before = await all_events(sandbox, job_id)
    cancelled = await sandbox.cancel_job(job_id)
    assert cancelled.status == "cancelled"
    assert cancelled.finished_at == clock.current
    clock.advance(1000)
    assert (await sandbox.get_job(job_id)).status == "cancelled"
    after = await all_events(sandbox, job_id)
    assert after[: len(before)] == before
    assert [e.message for e in after[len(before) :]] == [
        EVENT_PREFIX + "Fine-tuning job cancelled"
    ]
    assert max(p.step for p in metric_points(after)) == 7
    with pytest.raises(ProviderError) as raised:
        await sandbox.cancel_job(job_id)
    assert raised.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "job already cancelled" in raised.value.message

    done_id = await start_job(sandbox, tmp_path, key="k2")
    clock.advance(180)
    with pytest.raises(ProviderError, match="job already succeeded"):
        await sandbox.cancel_job(done_id)


async def test_cancel_while_validating(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    clock.advance(3)
    assert (await sandbox.cancel_job(job_id)).status == "cancelled"
    clock.advance(1000)
    events = await all_events(sandbox, job_id)
    assert events[-1].message.endswith("Fine-tuning job cancelled")
    assert not metric_points(events)


async def test_pause_and_resume_continue_from_the_same_step(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    with pytest.raises(ProviderError, match="only a running job can be paused"):
        await sandbox.pause_job(job_id)
    clock.advance(30 + 5 * 12 + 2)  # step 12 done, 2 s into step 13
    paused = await sandbox.pause_job(job_id)
    assert paused.status == "paused"
    assert paused.estimated_finish is None
    with pytest.raises(ProviderError, match="job is paused; only a running job"):
        await sandbox.pause_job(job_id)
    seen = await all_events(sandbox, job_id)
    assert seen[-1].message == EVENT_PREFIX + "Fine-tuning job paused at step 12/30"

    clock.advance(10_000)
    assert (await sandbox.get_job(job_id)).status == "paused"
    assert await all_events(sandbox, job_id) == seen

    resumed = await sandbox.resume_job(job_id)
    assert resumed.status == "running"
    with pytest.raises(ProviderError, match="only a paused job can be resumed"):
        await sandbox.resume_job(job_id)
    clock.advance(3)  # the 3 s left of step 13
    events = await all_events(sandbox, job_id)
    assert events[: len(seen)] == seen
    assert events[len(seen)].message == EVENT_PREFIX + "Fine-tuning job resumed at step 12/30"
    assert metric_points(events)[-1].step == 13

    clock.advance(5 * 17 - 0.001)
    assert (await sandbox.get_job(job_id)).status == "running"
    clock.advance(0.001)
    done = await sandbox.get_job(job_id)
    assert done.status == "succeeded"
    assert [p.step for p in metric_points(await all_events(sandbox, job_id))] == list(range(1, 31))


async def test_cancel_a_paused_job(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    clock.advance(40)
    await sandbox.pause_job(job_id)
    clock.advance(100)
    assert (await sandbox.cancel_job(job_id)).status == "cancelled"
    with pytest.raises(ProviderError, match="job already cancelled"):
        await sandbox.resume_job(job_id)


async def test_events_after_cursor(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = await start_job(sandbox, tmp_path)
    clock.advance(60)
    everything = await all_events(sandbox, job_id)
    assert len(everything) > 5
    middle = everything[3].id
    assert await sandbox.list_events_after(job_id, middle) == everything[4:]
    assert await sandbox.list_events_after(job_id, everything[-1].id) == []
    assert await sandbox.list_events_after(job_id, "ftevent-unknown-000001") == everything
    assert await sandbox.list_events_after(job_id, None, limit=2) == everything[:2]

    clock.advance(200)
    latest = await all_events(sandbox, job_id)
    assert latest[: len(everything)] == everything
    paged: list[JobEvent] = []
    cursor: str | None = None
    while page := await sandbox.list_events_after(job_id, cursor, limit=7):
        paged.extend(page)
        cursor = page[-1].id
    assert paged == latest

    with pytest.raises(ProviderError) as raised:
        await sandbox.list_events_after("ftjob-nope", None)
    assert raised.value.kind is ProviderErrorKind.NOT_FOUND


async def test_deterministic_across_instances(tmp_path: Path) -> None:
    histories = []
    for _ in range(2):
        clock = ManualClock()
        sandbox = SandboxProvider(clock, timing=TIMING)
        job_id = await start_job(sandbox, tmp_path)
        clock.advance(70)
        await sandbox.pause_job(job_id)
        clock.advance(30)
        await sandbox.resume_job(job_id)
        clock.advance(500)
        histories.append(
            (
                await sandbox.get_job(job_id),
                await all_events(sandbox, job_id),
                await sandbox.list_checkpoints(job_id),
            )
        )
    assert histories[0] == histories[1]
    assert histories[0][0].status == "succeeded"


async def test_seed_changes_the_curve(
    sandbox: SandboxProvider, clock: ManualClock, tmp_path: Path
) -> None:
    file_id = await upload_chat(sandbox, tmp_path)
    a = await sandbox.create_job(job_spec(file_id, seed=1), idempotency_key="a")
    b = await sandbox.create_job(job_spec(file_id, seed=2), idempotency_key="b")
    assert (a.seed, b.seed) == (1, 2)
    clock.advance(180)
    losses_a = [p.train_loss for p in metric_points(await all_events(sandbox, a.id))]
    losses_b = [p.train_loss for p in metric_points(await all_events(sandbox, b.id))]
    assert losses_a != losses_b


async def test_two_instances_share_one_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state" / "sandbox.json"
    clock = ManualClock()
    one = SandboxProvider(clock, state_path=state, timing=TIMING)
    two = SandboxProvider(clock, state_path=state, timing=TIMING)
    file_id = await upload_chat(one, tmp_path)
    assert (await two.get_file(file_id)).id == file_id
    job_id = (await two.create_job(job_spec(file_id), idempotency_key="k")).id
    assert (await one.create_job(job_spec(file_id), idempotency_key="k")).id == job_id

    clock.advance(50)
    await one.pause_job(job_id)
    assert (await two.get_job(job_id)).status == "paused"
    clock.advance(20)
    await two.resume_job(job_id)
    clock.advance(60)
    assert await one.get_job(job_id) == await two.get_job(job_id)
    assert await all_events(one, job_id) == await all_events(two, job_id)

    # A restarted process reads the same history from the file alone.
    clock.advance(1000)
    restarted = SandboxProvider(ManualClock(clock.current), state_path=state)
    assert await all_events(restarted, job_id) == await all_events(one, job_id)
    assert await restarted.list_checkpoints(job_id) == await two.list_checkpoints(job_id)
    assert (await restarted.get_job(job_id)).status == "succeeded"

    # Writes interleaved from both instances all survive (no lost update).
    tagged = job_spec(file_id, metadata={"team": "t1"})
    for n in range(3):
        await one.create_job(tagged, idempotency_key=f"a{n}")
        await two.create_job(tagged, idempotency_key=f"b{n}")
    assert len(await restarted.list_jobs()) == 7
    # The jobs by tag are known from the file alone too (both processes wrote them).
    assert len(await restarted.list_jobs(metadata={"team": "t1"}, limit=100)) == 6
    await two.cancel_job((await one.list_jobs(limit=1))[0].id)
    assert (await restarted.list_jobs(limit=1))[0].status == "cancelled"

    leftovers = sorted(p.name for p in state.parent.iterdir())
    assert leftovers == ["sandbox.json", "sandbox.json.lock"]
    document = json.loads(state.read_text())
    assert document["format"] == "finetune-bot-sandbox"


async def test_unreadable_state_file_is_a_provider_error(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    state.write_text("{not json")
    sandbox = SandboxProvider(ManualClock(), state_path=state)
    with pytest.raises(ProviderError) as raised:
        await sandbox.list_jobs()
    assert raised.value.kind is ProviderErrorKind.INVALID_RESPONSE


async def test_a_lost_create_answer_is_retried_to_the_same_job(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    # The test wrapper loses the answer after the sandbox made the job (a timeout the caller
    # saw): a retry with the same key finds that job instead of making a second.
    faulty = FaultyProvider(sandbox)
    file_id = await upload_chat(faulty, tmp_path)
    faulty.inject_fault(
        ProviderError(ProviderErrorKind.TIMEOUT), operation="create_job", after=True
    )
    with pytest.raises(ProviderError, match="did not answer in time"):
        await faulty.create_job(job_spec(file_id), idempotency_key="lost")
    [created] = await sandbox.list_jobs()
    retried = await faulty.create_job(job_spec(file_id), idempotency_key="lost")
    assert retried.id == created.id
    assert len(await sandbox.list_jobs()) == 1
    assert faulty.calls["create_job"] == 2


async def test_the_test_wrapper_injects_faults_and_counts_calls(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    faulty = FaultyProvider(sandbox)
    job_id = await start_job(faulty, tmp_path)
    faulty.inject_fault(
        ProviderError(ProviderErrorKind.RATE_LIMITED, retry_after=2), times=2, operation="get_job"
    )
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            await faulty.get_job(job_id)
        assert raised.value.kind is ProviderErrorKind.RATE_LIMITED
        assert raised.value.retry_after == 2
    await faulty.list_events_after(job_id, None)  # other operations are untouched
    assert (await faulty.get_job(job_id)).id == job_id

    faulty.inject_fault(ProviderError(ProviderErrorKind.SERVER), skip=1)
    await faulty.list_models()  # skipped
    with pytest.raises(ProviderError, match="internal error"):
        await faulty.list_models()
    await faulty.list_models()

    assert faulty.calls["get_job"] == 3
    assert faulty.calls["create_job"] == 1
    assert faulty.calls["upload_file"] == 1
    assert faulty.calls["list_models"] == 3
    assert faulty.calls["list_events_after"] == 1
    assert faulty.pending() == 0

    with pytest.raises(ValueError, match="unknown operation"):
        faulty.inject_fault(ProviderError(ProviderErrorKind.SERVER), operation="get_jobs")


def test_the_sandbox_has_no_test_hooks() -> None:
    # Counting calls and injecting faults is tests/fakes/faulty_provider.py's job.
    for hook in ("inject_fault", "clear_faults", "calls"):
        assert not hasattr(SandboxProvider(ManualClock()), hook), hook


async def test_fast_preset_finishes_a_job_within_twenty_seconds(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = SandboxProvider(clock, timing=FAST_TIMING)
    file_id = await upload_chat(sandbox, tmp_path, count=200)
    job = await sandbox.create_job(job_spec(file_id), idempotency_key="fast")
    clock.advance(20)
    done = await sandbox.get_job(job.id)
    assert done.status == "succeeded"
    assert done.finished_at is not None
    assert 10 <= (done.finished_at - job.created_at).total_seconds() <= 20
    assert len(metric_points(await all_events(sandbox, job.id))) <= FAST_TIMING.max_steps


async def test_upload_progress_and_simulated_parts(
    sandbox: SandboxProvider, tmp_path: Path
) -> None:
    path = write(tmp_path, "t.jsonl", [chat_line(n) for n in range(10)])
    size = path.stat().st_size
    heard: list[tuple[int, int]] = []
    small = await sandbox.upload_file(
        path, filename="t.jsonl", progress=lambda d, t: heard.append((d, t))
    )
    assert heard == [(size, size)]
    assert small.id not in sandbox.upload_parts

    sandbox.chunked_threshold = 100
    sandbox.part_bytes = size // 3 + 1
    heard.clear()
    big = await sandbox.upload_file(
        path, filename="t.jsonl", progress=lambda d, t: heard.append((d, t))
    )
    assert sandbox.upload_parts[big.id] == 3
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    assert heard[-1] == (size, size)
    assert len(heard) == 3
