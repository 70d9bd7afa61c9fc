"""Adapter tests: OpenAIProvider, real openai SDK, against the fake OpenAI API on loopback."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.providers.openai.provider import IDEMPOTENCY_METADATA_KEY, OpenAIProvider
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobSpec, Method
from tests.fakes.openai_server import FakeOpenAI, Fault, Route

API_KEY = "sk-test-0123456789abcdefSECRET"
TIMEOUT = 2.0  # generous: a loaded CI machine must not turn a normal call into a timeout


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=API_KEY) as server:
        yield server
    assert server.errors == []
    assert server.pending_faults() == 0


@pytest.fixture
async def provider(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    async with OpenAIProvider.openai(
        API_KEY, base_url=fake.base_url, timeout=TIMEOUT, max_retries=0, create_retry_delay=0
    ) as built:
        yield built


def spec(fake: FakeOpenAI, **overrides: object) -> JobSpec:
    training = fake.add_file("train.jsonl")
    values: dict[str, object] = {
        "model": "gpt-4o-mini-2024-07-18",
        "training_file": training["id"],
    }
    values.update(overrides)
    return JobSpec(**values)  # type: ignore[arg-type]


async def expect(kind: ProviderErrorKind, call: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.kind is kind, caught.value.detail
    assert API_KEY not in str(caught.value)
    assert API_KEY not in caught.value.detail
    return caught.value


# -- construction -----------------------------------------------------------------------------


async def test_labels_name_the_provider(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    assert provider.label == f"OpenAI-compatible (127.0.0.1:{fake.port})"
    assert provider.is_simulation is False
    async with OpenAIProvider.openai(API_KEY) as real:
        assert real.label == "OpenAI"


# -- files ------------------------------------------------------------------------------------


async def test_file_upload_list_get_delete(
    fake: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path
) -> None:
    path = tmp_path / "local-name.jsonl"
    path.write_bytes(b'{"messages": []}\n' * 3)

    uploaded = await provider.upload_file(path, filename="team-train.jsonl")

    assert uploaded.filename == "team-train.jsonl"
    assert uploaded.bytes == path.stat().st_size
    assert uploaded.purpose == "fine-tune"
    assert uploaded.created_at.tzinfo is UTC
    form = fake.requests_to(Route.UPLOAD_FILE)[0].form
    assert form["purpose"] == "fine-tune"
    assert form["file"].startswith("team-train.jsonl")
    assert fake.file_contents[uploaded.id] == path.read_bytes()

    assert [f.id for f in await provider.list_files()] == [uploaded.id]
    assert fake.requests_to(Route.LIST_FILES)[0].query["purpose"] == "fine-tune"
    assert (await provider.get_file(uploaded.id)).filename == "team-train.jsonl"

    await provider.delete_file(uploaded.id)
    await expect(ProviderErrorKind.NOT_FOUND, provider.get_file(uploaded.id))


# -- job creation -----------------------------------------------------------------------------


async def test_create_sends_method_hyperparameters_and_options(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    validation = fake.add_file("valid.jsonl")
    job_spec = spec(
        fake,
        validation_file=validation["id"],
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5),
        suffix="support-bot",
        seed=7,
        metadata={"team": "slack:T1"},
    )

    state = await provider.create_job(job_spec, idempotency_key="idem-1")

    body = fake.requests_to(Route.CREATE_JOB)[0].json
    assert body["model"] == "gpt-4o-mini-2024-07-18"
    assert body["training_file"] == job_spec.training_file
    assert body["validation_file"] == validation["id"]
    assert body["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 3, "learning_rate_multiplier": 0.5}},
    }
    assert "hyperparameters" not in body
    assert body["suffix"] == "support-bot"
    assert body["seed"] == 7
    assert body["metadata"] == {"team": "slack:T1", IDEMPOTENCY_METADATA_KEY: "idem-1"}

    assert state.id in fake.jobs
    assert state.provider_status == "validating_files"
    assert state.method == "supervised"
    assert state.hyperparameters == Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5)
    assert state.suffix == "support-bot"
    assert state.seed == 7
    assert state.validation_file == validation["id"]
    assert state.metadata["team"] == "slack:T1"
    assert state.created_at.tzinfo is UTC


async def test_create_dpo_omits_unset_hyperparameters(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job_spec = spec(fake, method=Method.DPO, hyperparameters=Hyperparameters(beta=0.2))

    state = await provider.create_job(job_spec, idempotency_key="idem-dpo")

    body = fake.requests_to(Route.CREATE_JOB)[0].json
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    for absent in ("suffix", "seed", "validation_file"):
        assert absent not in body
    assert state.method == "dpo"
    assert state.hyperparameters == Hyperparameters(beta=0.2)  # the rest came back "auto"


async def test_create_twice_with_one_key_makes_one_job(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job_spec = spec(fake)
    first = await provider.create_job(job_spec, idempotency_key="idem-same")
    second = await provider.create_job(job_spec, idempotency_key="idem-same")

    assert second.id == first.id
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1
    assert len(fake.jobs) == 1
    lookup = fake.requests_to(Route.LIST_JOBS)[-1]
    assert lookup.query[f"metadata[{IDEMPOTENCY_METADATA_KEY}]"] == "idem-same"


async def test_create_after_timeout_finds_the_job_instead_of_making_another(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.CREATE_JOB, Fault.delay(TIMEOUT * 4))  # created, but the answer is late

    state = await provider.create_job(spec(fake), idempotency_key="idem-timeout")

    assert list(fake.jobs) == [state.id]
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1


async def test_create_after_500_that_did_create_finds_the_job(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.CREATE_JOB, Fault.server_error(502, commit=True))

    state = await provider.create_job(spec(fake), idempotency_key="idem-502")

    assert list(fake.jobs) == [state.id]
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1


async def test_create_after_500_that_did_not_create_tries_again_once(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.CREATE_JOB, Fault.server_error())

    state = await provider.create_job(spec(fake), idempotency_key="idem-500")

    assert list(fake.jobs) == [state.id]
    assert len(fake.requests_to(Route.CREATE_JOB)) == 2


async def test_create_gives_up_after_bounded_attempts(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.CREATE_JOB, Fault.server_error(), times=5)

    await expect(ProviderErrorKind.SERVER, provider.create_job(spec(fake), idempotency_key="k"))

    assert len(fake.requests_to(Route.CREATE_JOB)) == 3
    assert fake.pending_faults(Route.CREATE_JOB) == 2
    assert fake.jobs == {}
    fake.clear_faults()


async def test_create_connection_reset_does_not_duplicate(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.CREATE_JOB, Fault.reset(commit=True))

    state = await provider.create_job(spec(fake), idempotency_key="idem-reset")

    assert list(fake.jobs) == [state.id]
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1


async def test_create_is_not_retried_by_the_sdk(fake: FakeOpenAI) -> None:
    async with OpenAIProvider.openai(
        API_KEY, base_url=fake.base_url, timeout=TIMEOUT, max_retries=5, create_attempts=1
    ) as retrying:
        fake.inject(Route.CREATE_JOB, Fault.rate_limit(retry_after_ms=1), times=3)
        error = await expect(
            ProviderErrorKind.RATE_LIMITED, retrying.create_job(spec(fake), idempotency_key="k")
        )
    assert error.retry_after == pytest.approx(0.001)
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1
    assert fake.pending_faults(Route.CREATE_JOB) == 2
    fake.clear_faults()


async def test_create_bad_request_carries_the_api_message(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job_spec = JobSpec(model="gpt-4o-mini-2024-07-18", training_file="file-missing")

    error = await expect(
        ProviderErrorKind.BAD_REQUEST, provider.create_job(job_spec, idempotency_key="k")
    )

    assert "invalid training_file: file-missing" in error.detail
    assert "file-missing" in str(error)
    assert len(fake.requests_to(Route.CREATE_JOB)) == 1


# -- job reads and controls -------------------------------------------------------------------


async def test_get_job_maps_every_field(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    job = fake.add_job(
        status="failed",
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": 4,
                    "batch_size": "auto",
                    "learning_rate_multiplier": 1.8,
                }
            },
        },
        created_at=1_700_000_000,
        finished_at=1_700_000_600,
        estimated_finish=1_700_000_500,
        trained_tokens=5768,
        error={"code": "invalid_file", "message": "Bad line 3", "param": "training_file"},
        metadata={"team": "t"},
        usage_metrics={"tokens": 1},
    )

    state = await provider.get_job(job["id"])

    assert state.status == "failed"
    assert state.terminal
    assert state.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert state.finished_at == datetime.fromtimestamp(1_700_000_600, tz=UTC)
    assert state.estimated_finish == datetime.fromtimestamp(1_700_000_500, tz=UTC)
    assert state.trained_tokens == 5768
    assert state.error == "Bad line 3"
    assert state.hyperparameters == Hyperparameters(n_epochs=4, learning_rate_multiplier=1.8)
    assert state.metadata == {"team": "t"}


async def test_list_jobs_filters_by_metadata(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    mine = fake.add_job(metadata={"team": "a"})
    fake.add_job(metadata={"team": "b"})
    newer = fake.add_job(metadata={"team": "a"})

    jobs = await provider.list_jobs(metadata={"team": "a"}, limit=5)

    assert [j.id for j in jobs] == [newer["id"], mine["id"]]
    query = fake.requests_to(Route.LIST_JOBS)[0].query
    assert query["metadata[team]"] == "a"
    assert query["limit"] == "5"
    assert len(await provider.list_jobs()) == 3


async def test_pause_resume_cancel(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    job = fake.add_job(status="running")

    assert (await provider.pause_job(job["id"])).status == "paused"
    assert (await provider.get_job(job["id"])).status == "paused"
    assert (await provider.resume_job(job["id"])).status == "running"
    cancelled = await provider.cancel_job(job["id"])

    assert cancelled.status == "cancelled"
    assert cancelled.finished_at is not None
    await expect(ProviderErrorKind.BAD_REQUEST, provider.cancel_job(job["id"]))


# -- events and checkpoints -------------------------------------------------------------------


async def test_events_after_a_cursor_span_pages_and_come_back_oldest_first(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job = fake.add_job(status="running")
    events = fake.add_events(job["id"], [f"event {n}" for n in range(25)])
    cursor = events[6]["id"]

    newer = await provider.list_events_after(job["id"], cursor, limit=5)

    assert [e.message for e in newer] == [f"event {n}" for n in range(7, 25)]
    assert all(e.job_id == job["id"] for e in newer)
    pages = fake.requests_to(Route.LIST_EVENTS)
    assert [p.query.get("after") for p in pages] == [
        None,
        events[20]["id"],
        events[15]["id"],
        events[10]["id"],
    ]
    assert all(p.query["limit"] == "5" for p in pages)


async def test_events_without_cursor_are_all_oldest_first(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job = fake.add_job(status="running")
    events = fake.add_events(
        job["id"],
        [
            "Validating training file",
            {
                "type": "metrics",
                "message": "Step 1/10: training loss=1.25",
                "data": {"step": 1, "total_steps": 10, "train_loss": 1.25, "nested": {"x": 1}},
            },
            {"level": "warn", "message": "Slow", "type": "moderation_checks"},
        ],
    )

    everything = await provider.list_events_after(job["id"], None, limit=2)

    assert [e.id for e in everything] == [e["id"] for e in events]
    metrics = everything[1]
    assert metrics.is_metrics
    assert metrics.data == {"step": 1, "total_steps": 10, "train_loss": 1.25}
    assert everything[2].level == "warn"
    assert everything[2].type == "moderation_checks"
    assert await provider.list_events_after(job["id"], events[-1]["id"]) == []
    unknown = await provider.list_events_after(job["id"], "ftevent-gone")
    assert len(unknown) == 3


async def test_checkpoints_follow_pages(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    job = fake.add_job(status="succeeded")
    for step in range(1, 13):
        fake.add_checkpoint(job["id"], step * 10, {"train_loss": 1.0 / step})

    checkpoints = await provider.list_checkpoints(job["id"])

    assert [c.step for c in checkpoints] == [s * 10 for s in range(12, 0, -1)]
    assert checkpoints[0].metrics["train_loss"] == pytest.approx(1 / 12)
    assert checkpoints[0].model_name.endswith("ckpt-step-120")
    assert checkpoints[0].job_id == job["id"]
    assert len(fake.requests_to(Route.LIST_CHECKPOINTS)) == 2  # default page size is 10


# -- models -----------------------------------------------------------------------------------


async def test_models_list(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    job = fake.add_job(status="running", user_provided_suffix="bot")
    fake.set_status(job["id"], "succeeded")
    name = fake.jobs[job["id"]]["fine_tuned_model"]

    models = {m.id: m for m in await provider.list_models()}
    assert models[name].owned_by == "org-fake"
    assert models[name].created_at.tzinfo is UTC


# -- errors -----------------------------------------------------------------------------------


async def test_wrong_key_is_auth_and_the_key_never_shows(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-0123456789"
    caplog.set_level(logging.DEBUG)
    async with OpenAIProvider.openai(wrong, base_url=fake.base_url, max_retries=0) as bad:
        error = await expect(ProviderErrorKind.AUTH, bad.list_jobs())
    assert wrong not in str(error)
    assert wrong not in error.detail
    assert wrong not in caplog.text
    assert fake.requests[0].headers["authorization"] == "<redacted>"


async def test_key_echoed_by_the_api_is_scrubbed(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.inject(Route.LIST_JOBS, Fault.error(400, f"Bad key {API_KEY} in body"))

    error = await expect(ProviderErrorKind.BAD_REQUEST, provider.list_jobs())

    assert "Bad key" in error.detail


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.error(401, "Incorrect API key provided"), ProviderErrorKind.AUTH),
        (Fault.error(403, "Not allowed"), ProviderErrorKind.PERMISSION),
        (Fault.error(409, "Conflict"), ProviderErrorKind.BAD_REQUEST),
        (Fault.error(422, "Unprocessable"), ProviderErrorKind.BAD_REQUEST),
        (Fault.server_error(500), ProviderErrorKind.SERVER),
        (Fault.server_error(503), ProviderErrorKind.SERVER),
        (Fault.quota(), ProviderErrorKind.QUOTA),
        (Fault.delay(TIMEOUT * 4, commit=False), ProviderErrorKind.TIMEOUT),
        (Fault.reset(), ProviderErrorKind.CONNECTION),
        (Fault.malformed(), ProviderErrorKind.INVALID_RESPONSE),
    ],
    ids=lambda v: v.kind if isinstance(v, Fault) else str(v),
)
async def test_faults_map_to_kinds(
    fake: FakeOpenAI, provider: OpenAIProvider, fault: Fault, kind: ProviderErrorKind
) -> None:
    job = fake.add_job(status="running")
    fake.inject(Route.GET_JOB, fault)

    error = await expect(kind, provider.get_job(job["id"]))

    assert error.retryable is (kind in {"server", "timeout", "connection", "rate_limited"})
    assert (await provider.get_job(job["id"])).id == job["id"]  # one fault, then healthy


async def test_object_missing_required_fields_is_invalid_response(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    job = fake.add_job()
    del job["status"]
    fake.add_events(job["id"], [{"created_at": "yesterday"}])

    await expect(ProviderErrorKind.INVALID_RESPONSE, provider.get_job(job["id"]))
    await expect(ProviderErrorKind.INVALID_RESPONSE, provider.list_events_after(job["id"], None))


async def test_not_found_job(provider: OpenAIProvider) -> None:
    await expect(ProviderErrorKind.NOT_FOUND, provider.get_job("ftjob-nope"))
    await expect(ProviderErrorKind.NOT_FOUND, provider.list_events_after("ftjob-nope", None))


async def test_rate_limit_carries_retry_after(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    job = fake.add_job()
    fake.inject(Route.GET_JOB, Fault.rate_limit(7))
    fake.inject(Route.LIST_EVENTS, Fault.rate_limit(30, retry_after_ms=250))

    seconds = await expect(ProviderErrorKind.RATE_LIMITED, provider.get_job(job["id"]))
    millis = await expect(
        ProviderErrorKind.RATE_LIMITED, provider.list_events_after(job["id"], None)
    )

    assert seconds.retry_after == 7
    assert millis.retry_after == pytest.approx(0.25)  # retry-after-ms wins


async def test_sdk_retries_reads_after_a_short_retry_after(fake: FakeOpenAI) -> None:
    job = fake.add_job()
    fake.inject(Route.GET_JOB, Fault.rate_limit(None, retry_after_ms=5), times=2)
    async with OpenAIProvider.openai(
        API_KEY, base_url=fake.base_url, timeout=TIMEOUT, max_retries=2
    ) as retrying:
        state = await retrying.get_job(job["id"])
    assert state.id == job["id"]
    assert [r.fault for r in fake.requests_to(Route.GET_JOB)] == ["status", "status", None]


async def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with OpenAIProvider.openai(
        API_KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=TIMEOUT, max_retries=0
    ) as nowhere:
        await expect(ProviderErrorKind.CONNECTION, nowhere.list_models())
