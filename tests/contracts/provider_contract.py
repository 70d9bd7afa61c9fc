"""Contract suite: what "behaves like a Provider" means, run unchanged on every provider entry.

Each test drives the port (handlers.ports.Provider) and the entry's controls only; see
tests/contracts/providers.py for the entries and tests/contracts/harness.py for the helpers.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from handlers.chat import ChatMessage
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import JobSpec, JobState
from handlers.profile import Capability
from tests.contracts.harness import (
    BROKEN_EXAMPLES,
    ProviderUnderTest,
    advance_until,
    assert_carries_unknown,
    assert_status,
    canonical,
    chat_examples,
    events_of,
    expect_error,
    expected_path,
    filed_points,
    listed_by,
    path,
    points,
    start,
    watch,
)

TRANSIENT = (ProviderErrorKind.SERVER, ProviderErrorKind.TIMEOUT, ProviderErrorKind.CONNECTION)


async def running(put: ProviderUnderTest, job_id: str) -> JobState:
    """Tick until the job runs and has reported at least one training step (a family
    without EVENTS reports none: running is enough)."""
    has_events = put.provider.profile.can(Capability.EVENTS)

    async def trained(state: JobState) -> bool:
        if canonical(state) != "running":
            return False
        return not has_events or bool(points(await events_of(put, job_id)))

    return await advance_until(put, job_id, trained)


# -- files ------------------------------------------------------------------------------------


async def test_an_upload_is_a_file_with_its_size_and_name_until_deleted(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    content = chat_examples(4)
    source = tmp_path / "local-name.jsonl"
    source.write_bytes(content)

    uploaded = await put.provider.upload_file(source, filename="team-train.jsonl")

    assert uploaded.id
    assert uploaded.bytes == len(content)
    assert uploaded.filename == "team-train.jsonl"
    assert await put.provider.file_content(uploaded.id) == content
    await put.provider.delete_file(uploaded.id)
    await expect_error(ProviderErrorKind.NOT_FOUND, put.provider.file_content(uploaded.id))
    await expect_error(ProviderErrorKind.NOT_FOUND, put.provider.delete_file(uploaded.id))


# -- creating exactly once --------------------------------------------------------------------


async def test_one_idempotency_key_is_one_job(put: ProviderUnderTest, tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(chat_examples(3))
    training = await put.provider.upload_file(source, filename="train.jsonl")
    spec = JobSpec(model=put.base_model, training_file=training.id, metadata={"team": "t1"})

    first = await put.provider.create_job(spec, idempotency_key="same")
    again = await put.provider.create_job(spec, idempotency_key="same")
    other = await put.provider.create_job(spec, idempotency_key="other")

    assert again.id == first.id
    assert other.id != first.id
    assert await put.jobs_at_provider() == 2
    listed = await put.provider.list_jobs(metadata=listed_by(put, {"team": "t1"}))
    assert sorted(j.id for j in listed) == sorted({first.id, other.id})


@pytest.mark.parametrize("took_effect", [False, True], ids=["lost-request", "lost-answer"])
@pytest.mark.parametrize("kind", TRANSIENT, ids=str)
async def test_a_transient_fault_on_create_still_makes_exactly_one_job(
    put: ProviderUnderTest, tmp_path: Path, kind: ProviderErrorKind, took_effect: bool
) -> None:
    """A caller may see the fault (retryable) or not (the provider retried); either way a
    retry with the same key ends with the one job."""
    source = tmp_path / "train.jsonl"
    source.write_bytes(chat_examples(3))
    training = await put.provider.upload_file(source, filename="train.jsonl")
    spec = JobSpec(model=put.base_model, training_file=training.id, metadata={"team": "t1"})
    put.fail_next(kind, operation="create_job", took_effect=took_effect)

    seen: list[ProviderError] = []
    state: JobState | None = None
    for _ in range(3):
        try:
            state = await put.provider.create_job(spec, idempotency_key="the-key")
            break
        except ProviderError as error:
            seen.append(error)

    assert state is not None
    assert all(e.kind is kind and e.retryable for e in seen), [e.kind for e in seen]
    assert await put.jobs_at_provider() == 1
    listed = await put.provider.list_jobs(metadata=listed_by(put, {"team": "t1"}))
    assert [j.id for j in listed] == [state.id]
    assert (await put.provider.get_job(state.id)).id == state.id


# -- watching a job to each end ---------------------------------------------------------------


async def test_a_job_runs_through_its_statuses_to_succeeded(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    assert_status(created, "validating", "queued")

    states = await watch(put, created.id)

    assert path(states) == expected_path(put, "validating", "queued", "running", "succeeded")
    done = states[-1]
    assert_status(done, "succeeded")
    assert done.fine_tuned_model
    assert done.error is None
    assert done.finished_at is not None
    assert all(s.fine_tuned_model is None for s in states[:-1])


async def test_a_job_on_a_broken_file_ends_failed_with_the_reason(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path, content=BROKEN_EXAMPLES)

    states = await watch(put, created.id)

    assert path(states) == expected_path(put, "validating", "failed")
    failed = states[-1]
    assert_status(failed, "failed")
    assert failed.error
    assert failed.fine_tuned_model is None
    assert failed.finished_at is not None


@pytest.mark.needs(Capability.CANCEL)
async def test_a_cancelled_job_ends_cancelled_and_stops_training(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    await running(put, created.id)

    answered = await put.provider.cancel_job(created.id)
    assert_status(answered, "cancelling", "cancelled")
    states = await watch(put, created.id)
    trained = points(await events_of(put, created.id))
    for _ in range(5):
        put.advance()

    assert path(states)[-1] == "cancelled"
    assert_status(await put.provider.get_job(created.id), "cancelled")
    assert points(await events_of(put, created.id)) == trained
    assert (await put.provider.get_job(created.id)).fine_tuned_model is None
    await expect_error(ProviderErrorKind.BAD_REQUEST, put.provider.cancel_job(created.id))


@pytest.mark.parametrize("end", ["succeeded", "failed"])
async def test_a_finished_job_never_changes_again(
    put: ProviderUnderTest, tmp_path: Path, end: str
) -> None:
    content = chat_examples(3) if end == "succeeded" else BROKEN_EXAMPLES
    created = await start(put, tmp_path, content=content)

    put.finish(created.id, as_=end)
    finished = await put.provider.get_job(created.id)
    history = await events_of(put, created.id)
    for _ in range(5):
        put.advance()

    assert_status(finished, end)
    assert await put.provider.get_job(created.id) == finished
    assert await events_of(put, created.id) == history
    await expect_error(ProviderErrorKind.BAD_REQUEST, put.provider.cancel_job(created.id))


# -- events and metrics -----------------------------------------------------------------------


@pytest.mark.needs(Capability.EVENTS)
async def test_events_after_a_cursor_come_oldest_first_each_once(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    polled = list(await put.provider.list_events_after(created.id, None))
    cursor = polled[-1].id if polled else None
    for _ in range(100):
        put.advance()
        page = await put.provider.list_events_after(created.id, cursor)
        assert not {e.id for e in page} & {e.id for e in polled}, "an event came twice"
        polled.extend(page)
        cursor = page[-1].id if page else cursor
        if (await put.provider.get_job(created.id)).terminal:
            break

    everything = await events_of(put, created.id)
    assert [e.id for e in polled] == [e.id for e in everything]
    assert len(everything) >= 4
    assert all(e.job_id == created.id for e in everything)
    times = [e.created_at for e in everything]
    assert times == sorted(times)
    assert times[0] < times[-1]
    middle = len(everything) // 2
    after_middle = await put.provider.list_events_after(created.id, everything[middle].id)
    assert [e.id for e in after_middle] == [e.id for e in everything[middle + 1 :]]
    assert await put.provider.list_events_after(created.id, everything[-1].id) == []


@pytest.mark.needs(Capability.LIVE_METRICS, Capability.CHECKPOINTS)
async def test_metrics_arrive_in_step_order_and_checkpoints_follow_them(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(100):
        put.advance()
        page = await put.provider.list_events_after(created.id, cursor)
        cursor = page[-1].id if page else cursor
        seen.extend(p.step for p in points(page))
        if (await put.provider.get_job(created.id)).terminal:
            break

    everything = points(await events_of(put, created.id))
    assert seen == [p.step for p in everything]
    assert len(seen) >= 2
    assert seen == sorted(set(seen)), f"steps out of order or repeated: {seen}"
    assert everything[-1].total_steps == seen[-1]
    assert all(p.train_loss is not None for p in everything)
    checkpoints = await put.provider.list_checkpoints(created.id)
    steps = [c.step for c in checkpoints]
    assert steps, "a finished job has checkpoints"
    assert steps == sorted(set(steps), reverse=True)  # newest first
    assert steps[0] == seen[-1]
    assert set(steps) <= set(seen)
    assert all(c.model_name and c.job_id == created.id for c in checkpoints)


@pytest.mark.needs(Capability.METRICS)
async def test_a_metrics_file_only_grows_in_step_order_and_ends_at_its_total(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    reads: list[list[int]] = [[p.step for p in await filed_points(put, created.id)]]
    for _ in range(100):
        put.advance()
        reads.append([p.step for p in await filed_points(put, created.id)])
        if (await put.provider.get_job(created.id)).terminal:
            break

    final = await filed_points(put, created.id)
    steps = [p.step for p in final]
    assert len(steps) >= 2
    assert steps == sorted(set(steps)), f"steps out of order or repeated: {steps}"
    for earlier, later in itertools.pairwise(reads):
        # Points may come late or all at once, but a read never loses a step it gave.
        assert set(earlier) <= set(later), (earlier, later)
    assert final[-1].total_steps == steps[-1]
    assert all(p.train_loss is not None for p in final)


@pytest.mark.needs(Capability.PAUSE, Capability.RESUME)
async def test_a_paused_job_stands_still_and_resumes_where_it_stopped(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path)
    await running(put, created.id)

    paused = await put.provider.pause_job(created.id)
    assert_status(paused, "pausing", "paused")
    await advance_until(put, created.id, _is("paused"))
    before = await events_of(put, created.id)
    for _ in range(5):
        put.advance()
    assert_status(await put.provider.get_job(created.id), "paused")
    assert await events_of(put, created.id) == before

    resumed = await put.provider.resume_job(created.id)
    assert_status(resumed, "queued", "running")
    states = await watch(put, created.id)

    assert path(states)[-1] == "succeeded"
    steps = [p.step for p in points(await events_of(put, created.id))]
    assert steps == sorted(set(steps)), f"a step repeated or went back after resume: {steps}"
    assert steps[-1] == points(await events_of(put, created.id))[-1].total_steps
    assert len(steps) > len(points(before))


def _is(status: str) -> Callable[[JobState], Awaitable[bool]]:
    async def ready(state: JobState) -> bool:
        return canonical(state) == status

    return ready


# -- statuses the provider newly invents -------------------------------------------------------


async def test_an_unknown_status_is_carried_as_live_not_a_crash(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    created = await start(put, tmp_path, metadata={"team": "t1"})
    await running(put, created.id)

    put.report_status(created.id, "awaiting_capacity")
    read = await put.provider.get_job(created.id)
    (listed,) = await put.provider.list_jobs(metadata=listed_by(put, {"team": "t1"}))
    put.report_status(created.id, None)

    assert_carries_unknown(read, "awaiting_capacity")
    assert_carries_unknown(listed, "awaiting_capacity")
    assert_status(await put.provider.get_job(created.id), "running")


# -- error kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["get_job", "cancel_job", "file_content", "chat"])
async def test_an_unknown_id_is_not_found(put: ProviderUnderTest, operation: str) -> None:
    await _not_found(put, operation)


@pytest.mark.needs(Capability.EVENTS)
async def test_an_unknown_id_has_no_events(put: ProviderUnderTest) -> None:
    await _not_found(put, "list_events_after")


@pytest.mark.needs(Capability.CHECKPOINTS)
async def test_an_unknown_id_has_no_checkpoints(put: ProviderUnderTest) -> None:
    await _not_found(put, "list_checkpoints")


@pytest.mark.needs(Capability.METRICS)
async def test_an_unknown_id_has_no_metrics_file(put: ProviderUnderTest) -> None:
    await _not_found(put, "metric_points")


async def _not_found(put: ProviderUnderTest, operation: str) -> None:
    provider = put.provider
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get_job": lambda: provider.get_job("ftjob-nope"),
        "cancel_job": lambda: provider.cancel_job("ftjob-nope"),
        "list_events_after": lambda: provider.list_events_after("ftjob-nope", None),
        "list_checkpoints": lambda: provider.list_checkpoints("ftjob-nope"),
        "metric_points": lambda: filed_points(put, "ftjob-nope"),
        "file_content": lambda: provider.file_content("file-nope"),
        "chat": lambda: provider.chat(
            "ft:no-such-model", (ChatMessage(role="user", content="hi"),)
        ),
    }
    error = await expect_error(ProviderErrorKind.NOT_FOUND, calls[operation]())
    assert not error.retryable


async def test_a_rate_limit_says_when_to_come_back(put: ProviderUnderTest, tmp_path: Path) -> None:
    created = await start(put, tmp_path)
    put.fail_next(ProviderErrorKind.RATE_LIMITED, operation="get_job", retry_after=7)

    error = await expect_error(ProviderErrorKind.RATE_LIMITED, put.provider.get_job(created.id))

    assert error.retry_after == 7
    assert error.retryable
    assert (await put.provider.get_job(created.id)).id == created.id  # one fault, then healthy


async def test_a_refused_key_is_auth(put: ProviderUnderTest) -> None:
    put.fail_next(ProviderErrorKind.AUTH, operation="list_jobs")

    error = await expect_error(ProviderErrorKind.AUTH, put.provider.list_jobs())

    assert not error.retryable
    assert error.message == "The provider rejected the API key. Ask an admin to check it."
    assert await put.provider.list_jobs() == []


@pytest.mark.parametrize("kind", TRANSIENT, ids=str)
async def test_a_transient_fault_on_a_read_is_its_retryable_kind(
    put: ProviderUnderTest, tmp_path: Path, kind: ProviderErrorKind
) -> None:
    created = await start(put, tmp_path)
    put.fail_next(kind, operation="get_job")

    error = await expect_error(kind, put.provider.get_job(created.id))

    assert error.retryable
    assert (await put.provider.get_job(created.id)).id == created.id


# -- listing by the bot's metadata ------------------------------------------------------------


@pytest.mark.needs(Capability.JOB_TAGS)
async def test_list_jobs_by_metadata_returns_only_the_matching_jobs(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    tags = [{"team": "a", "n": "0"}, {"team": "b", "n": "1"}, {"team": "a", "n": "2"}]
    made = [await start(put, tmp_path, key=f"k{i}", metadata=tag) for i, tag in enumerate(tags)]

    team_a = await put.provider.list_jobs(metadata={"team": "a"})
    one = await put.provider.list_jobs(metadata={"team": "a", "n": "2"})
    none = await put.provider.list_jobs(metadata={"team": "c"})

    assert sorted(j.id for j in team_a) == sorted([made[0].id, made[2].id])
    assert all(j.metadata["team"] == "a" for j in team_a)
    assert [j.id for j in one] == [made[2].id]
    assert tags[2].items() <= one[0].metadata.items()
    assert none == []
    assert len(await put.provider.list_jobs(limit=2)) == 2


# -- inference --------------------------------------------------------------------------------


@pytest.mark.needs(Capability.INFERENCE)
async def test_chat_answers_with_text_and_token_usage(
    put: ProviderUnderTest, tmp_path: Path
) -> None:
    question = (ChatMessage(role="user", content="What is fine-tuning?"),)

    base = await put.provider.chat(put.base_model, question)
    created = await start(put, tmp_path)
    tuned_model = (await watch(put, created.id))[-1].fine_tuned_model
    assert tuned_model is not None
    tuned = await put.provider.chat(tuned_model, question)

    for answer in (base, tuned):
        assert answer.content.strip()
        assert answer.prompt_tokens > 0
        assert answer.completion_tokens > 0
        assert answer.id
    assert tuned.model == tuned_model
