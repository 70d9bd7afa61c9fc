"""Vertex AI's provider beyond the contract suite: preference tuning with its options, every
JOB_STATE_* and detail state as the core shows it, options Gemini refuses, paging by page
token, and the ETA and trained tokens from Vertex's step counts and data statistics. The real
google-genai and google-cloud-storage against the fake service and gcp-storage-emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.providers.vertex.provider import VertexProvider
from bot.providers.vertex.staging import Bucket, Staging
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobSpec, Method
from handlers.profile import JobStatus
from tests.fakes.clock import ManualClock
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator, gcs_reader
from tests.fakes.google_accounts import static_token
from tests.fakes.vertex_server import BASE_MODELS, STEPS_PER_EPOCH, FakeVertex, Route
from tests.world import write_dataset

TOKEN = "ya29.provider-0123456789abcdefghij"
BUCKET = "provider-bucket"


@dataclass(frozen=True, slots=True, kw_only=True)
class Vertex:
    provider: VertexProvider
    fake: FakeVertex
    clock: ManualClock


@pytest.fixture(scope="module")
def storage_url() -> Iterator[str]:
    with gcs_emulator(BUCKET) as url:
        yield url


@pytest.fixture
async def vertex(storage_url: str) -> AsyncIterator[Vertex]:
    clock = ManualClock()
    storage = gcs_client(storage_url)
    staging = Staging(storage, Bucket(name=BUCKET, prefix="t/"))
    async with (
        FakeVertex(
            token=TOKEN, read=gcs_reader(storage), clock=lambda: clock.now().timestamp()
        ) as fake,
        VertexProvider.connect(
            credentials=static_token(TOKEN),
            project="acme-ml",
            location="us-central1",
            staging=staging,
            base_url=fake.base_url,
            timeout=5,
        ) as provider,
    ):
        yield Vertex(provider=provider, fake=fake, clock=clock)
        assert fake.errors == []


def _tick(v: Vertex) -> None:
    v.clock.advance(60)
    v.fake.advance()


def _preference(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
                "preferred_output": [{"role": "assistant", "content": f"Good {i}."}],
                "non_preferred_output": [{"role": "assistant", "content": f"Bad {i}."}],
            }
        )
        + "\n"
        for i in range(n)
    )


async def test_preference_tuning_with_beta_adapter_size_and_epochs(
    vertex: Vertex, tmp_path: Path
) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(_preference(12))
    uploaded = await vertex.provider.upload_file(path, filename="prefs.jsonl")
    spec = JobSpec(
        model=BASE_MODELS[0],
        training_file=uploaded.id,
        method=Method.DPO,
        hyperparameters=Hyperparameters(n_epochs=2, beta=0.2, lora_r=4),
        suffix="prefs",
        metadata={"team": "t1"},
    )
    created = await vertex.provider.create_job(spec, idempotency_key="dpo-1")
    sent = vertex.fake.jobs[created.id]
    assert "supervisedTuningSpec" not in sent
    assert sent["preferenceOptimizationSpec"]["hyperParameters"] == {
        "epochCount": 2,
        "adapterSize": "ADAPTER_SIZE_FOUR",
        "beta": 0.2,
    }
    assert created.method == "dpo"
    assert created.hyperparameters.lora_r == 4
    assert created.hyperparameters.beta == 0.2
    assert created.suffix == "prefs"
    assert created.metadata == {"team": "t1"}
    for _ in range(20):
        _tick(vertex)
        state = await vertex.provider.get_job(created.id)
        if state.terminal:
            break
    assert state.status is JobStatus.SUCCEEDED, state
    stats = vertex.fake.jobs[created.id]["tuningDataStats"]["preferenceOptimizationDataStats"]
    assert state.trained_tokens == int(stats["totalBillableTokenCount"]) * 2
    assert state.fine_tuned_model == vertex.fake.jobs[created.id]["tunedModel"]["endpoint"]


async def test_every_state_and_detail_state_as_the_core_shows_it(
    vertex: Vertex, tmp_path: Path
) -> None:
    uploaded = await vertex.provider.upload_file(
        write_dataset(tmp_path / "t.jsonl"), filename="t.jsonl"
    )
    job = await vertex.provider.create_job(
        JobSpec(model=BASE_MODELS[0], training_file=uploaded.id), idempotency_key="s"
    )
    assert (job.status, job.provider_status) == (JobStatus.QUEUED, "JOB_STATE_QUEUED")
    seen = []
    for _ in range(4):
        _tick(vertex)
        state = await vertex.provider.get_job(job.id)
        seen.append(f"{state.status} ({state.provider_status})")
    assert seen == [
        "queued (JOB_STATE_PENDING, waiting for quota)",
        "queued (JOB_STATE_PENDING, processing the dataset)",
        "running (JOB_STATE_RUNNING, tuning)",
        "running (JOB_STATE_RUNNING, tuning)",
    ]
    running = await vertex.provider.get_job(job.id)
    # One step of three epochs' done a minute after it started: the rest at that pace.
    assert running.estimated_finish is not None
    total = 3 * STEPS_PER_EPOCH
    assert (running.estimated_finish - vertex.clock.now()).total_seconds() == 60 * (total - 1)
    expected = {
        "JOB_STATE_UPDATING": (JobStatus.RUNNING, None),
        "JOB_STATE_CANCELLING": (JobStatus.CANCELLING, None),
        "JOB_STATE_CANCELLED": (JobStatus.CANCELLED, None),
        "JOB_STATE_SUCCEEDED": (JobStatus.SUCCEEDED, None),
        "JOB_STATE_PARTIALLY_SUCCEEDED": (JobStatus.SUCCEEDED, "Warning: Vertex AI reports"),
        "JOB_STATE_FAILED": (JobStatus.FAILED, "Vertex AI reported the job as JOB_STATE_FAILED"),
        "JOB_STATE_EXPIRED": (JobStatus.FAILED, "Vertex AI reported the job as JOB_STATE_EXPIRED"),
        "JOB_STATE_PAUSED": (JobStatus.PAUSED, None),
        "JOB_STATE_QUEUED": (JobStatus.QUEUED, None),
    }
    for raw, (status, error) in expected.items():
        vertex.fake.reported_status[job.id] = raw
        state = await vertex.provider.get_job(job.id)
        assert state.status is status, raw
        assert state.provider_status.startswith(raw)
        assert (state.error or "").startswith(error or ""), (raw, state.error)
        if error is None:
            assert state.error is None, raw


async def test_options_gemini_does_not_take_are_refused_and_nothing_is_created(
    vertex: Vertex, tmp_path: Path
) -> None:
    uploaded = await vertex.provider.upload_file(
        write_dataset(tmp_path / "t.jsonl"), filename="t.jsonl"
    )
    cases = {
        "adapter size": JobSpec(
            model=BASE_MODELS[0],
            training_file=uploaded.id,
            hyperparameters=Hyperparameters(lora_r=3),
        ),
        "seed": JobSpec(model=BASE_MODELS[0], training_file=uploaded.id, seed=7),
        "preference tuning only": JobSpec(
            model=BASE_MODELS[0],
            training_file=uploaded.id,
            hyperparameters=Hyperparameters(beta=0.1),
        ),
        "batch_size": JobSpec(
            model=BASE_MODELS[0],
            training_file=uploaded.id,
            hyperparameters=Hyperparameters(batch_size=8),
        ),
    }
    for words, spec in cases.items():
        with pytest.raises(ProviderError) as caught:
            await vertex.provider.create_job(spec, idempotency_key=words)
        assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
        assert words in caught.value.message, caught.value.message
    assert vertex.fake.jobs == {}


async def test_listing_walks_pages_by_page_token(vertex: Vertex, tmp_path: Path) -> None:
    uploaded = await vertex.provider.upload_file(
        write_dataset(tmp_path / "t.jsonl"), filename="t.jsonl"
    )
    for i in range(57):
        vertex.clock.advance(1)
        await vertex.provider.create_job(
            JobSpec(model=BASE_MODELS[0], training_file=uploaded.id, metadata={"n": str(i)}),
            idempotency_key=f"k{i}",
        )
    listed = await vertex.provider.list_jobs(limit=100)
    assert [j.metadata["n"] for j in listed] == [str(i) for i in reversed(range(57))]
    tokens = [r.query.get("pageToken") for r in vertex.fake.requests_to(Route.LIST_JOBS)]
    assert "50" in tokens
    assert [j.metadata["n"] for j in await vertex.provider.list_jobs(metadata={"n": "3"})] == ["3"]
