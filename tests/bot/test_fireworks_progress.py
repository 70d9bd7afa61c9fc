"""Fireworks AI: a job's progress, metrics file, estimated cost and resume, through the real
fireworks-ai SDK against tests/fakes/fireworks_server.py; the metrics file's reader on its own
for the shapes the fake does not write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.providers.fireworks.metrics import read_metrics_file
from bot.providers.fireworks.provider import FireworksProvider
from handlers.errors import ProviderError
from handlers.model import Hyperparameters, JobSpec, Method
from handlers.profile import JobStatus
from tests.contracts.harness import chat_examples
from tests.fakes.clock import ManualClock
from tests.fakes.fireworks_server import BASE_MODELS, FakeFireworks, Fault, Route

KEY = "fw_" + "prog0123456789" * 2
ACCOUNT = "acme"
MODEL = BASE_MODELS[0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeFireworks]:
    clock = ManualClock()
    async with FakeFireworks(
        api_key=KEY, account=ACCOUNT, clock=lambda: clock.now().timestamp()
    ) as server:
        yield server


@pytest.fixture
async def provider(fake: FakeFireworks) -> AsyncIterator[FireworksProvider]:
    async with FireworksProvider.connect(
        KEY, account_id=ACCOUNT, base_url=fake.base_url, max_retries=0, ready_delay_s=0
    ) as built:
        yield built


async def _job(
    provider: FireworksProvider, tmp_path: Path, *, method: Method = Method.SUPERVISED
) -> str:
    source = tmp_path / "train.jsonl"
    source.write_bytes(chat_examples(40))
    uploaded = await provider.upload_file(source, filename="train.jsonl")
    spec = JobSpec(
        model=MODEL,
        training_file=uploaded.id,
        method=method,
        hyperparameters=Hyperparameters(n_epochs=2, beta=0.2 if method is Method.DPO else None),
    )
    return (await provider.create_job(spec, idempotency_key=f"k-{method.value}")).id


async def _until(
    fake: FakeFireworks, provider: FireworksProvider, job_id: str, status: str
) -> None:
    for _ in range(30):
        if (await provider.get_job(job_id)).status == status:
            return
        fake.advance()
    raise AssertionError(f"{job_id} never {status}")


async def test_the_metrics_file_grows_with_the_job_and_its_total_comes_from_the_progress(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path)
    assert await provider.metric_points(job_id) == []  # no file before training runs
    await _until(fake, provider, job_id, JobStatus.RUNNING)
    fake.advance(3)  # 30 percent: three steps in the file
    running = await provider.metric_points(job_id)
    assert [p.step for p in running] == [1, 2, 3]
    assert {p.total_steps for p in running} == {10}  # step 3 at 30 percent
    assert all(p.train_loss is not None for p in running)
    assert fake.jobs[job_id]["jobProgress"]["percent"] == 30
    # jobProgress.epoch counts from 0; the last point carries it, counted from 1.
    assert fake.jobs[job_id]["jobProgress"]["epoch"] == 0
    assert [p.epoch for p in running] == [None, None, 1]

    await _until(fake, provider, job_id, JobStatus.SUCCEEDED)
    done = await provider.metric_points(job_id)
    assert [p.step for p in done] == list(range(1, 11))
    # A later read extends an earlier one; a finished job is in no epoch.
    assert done[:3] == [replace(p, epoch=None) for p in running]
    assert done[-1].total_steps == 10
    assert {p.epoch for p in done} == {None}


async def test_a_dpo_jobs_file_is_found_through_its_endpoint(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path, method=Method.DPO)
    assert job_id.startswith("dpo:")
    assert await provider.metric_points(job_id) == []
    await _until(fake, provider, job_id, JobStatus.SUCCEEDED)
    points = await provider.metric_points(job_id)
    assert [p.step for p in points] == list(range(1, 11))
    assert points[-1].total_steps == 10  # finished: its last step
    assert fake.requests_to(Route.DPO_METRICS_ENDPOINT)


async def test_an_expired_or_missing_file_is_no_points_and_a_broken_one_an_error(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path)
    await _until(fake, provider, job_id, JobStatus.RUNNING)
    fake.advance()
    fake.metrics.pop(job_id)  # the signed URL now answers 404
    assert await provider.metric_points(job_id) == []
    fake.metrics[job_id] = []
    fake.inject(Route.METRICS_FILE, Fault.server_error())
    with pytest.raises(ProviderError):
        await provider.metric_points(job_id)


async def test_the_estimated_cost_on_the_job_is_read_in_dollars(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path)
    money = fake.jobs[job_id]["estimatedCost"]
    expected = int(money["units"]) + money["nanos"] / 1e9
    assert expected > 0
    assert (await provider.get_job(job_id)).provider_cost == pytest.approx(expected)
    money["currencyCode"] = "EUR"  # a currency the core does not count in
    assert (await provider.get_job(job_id)).provider_cost is None


async def test_a_job_fireworks_paused_resumes_where_it_stopped(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path)
    await _until(fake, provider, job_id, JobStatus.RUNNING)
    fake.advance(2)
    fake.pause_at_fireworks(job_id, "Account suspended: add a payment method")
    paused = await provider.get_job(job_id)
    assert paused.status is JobStatus.PAUSED
    assert paused.error == "Account suspended: add a payment method"
    fake.advance(3)
    assert len(await provider.metric_points(job_id)) == 2  # a paused job does not train

    resumed = await provider.resume_job(job_id)
    assert resumed.status is JobStatus.QUEUED  # RE_QUEUEING
    assert resumed.provider_status == "JOB_STATE_RE_QUEUEING"
    await _until(fake, provider, job_id, JobStatus.SUCCEEDED)
    steps = [p.step for p in await provider.metric_points(job_id)]
    assert steps == list(range(1, 11))


async def test_resuming_a_job_that_is_not_paused_is_refused_with_fireworks_message(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    job_id = await _job(provider, tmp_path)
    with pytest.raises(ProviderError) as caught:
        await provider.resume_job(job_id)
    assert "only a paused job can be resumed" in caught.value.message
    assert fake.jobs[job_id]["state"] == "JOB_STATE_CREATING"


# -- the reader, for shapes the fake does not write ---------------------------------------------


def _lines(*records: object) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_numbers_beside_the_step_or_under_data_read_the_same() -> None:
    nested = _lines({"step": 1, "data": {"train/loss": 1.5, "train/mean_token_accuracy": 0.4}})
    flat = _lines({"step": 1, "loss": 1.5, "mean_token_accuracy": 0.4})
    assert read_metrics_file(nested, percent=50, finished=False) == read_metrics_file(
        flat, percent=50, finished=False
    )
    (point,) = read_metrics_file(nested, percent=50, finished=False)
    assert (point.train_loss, point.train_accuracy, point.total_steps) == (1.5, 0.4, 2)


def test_a_training_and_an_evaluation_line_of_one_step_are_one_point() -> None:
    content = _lines(
        {"step": 2, "data": {"train/loss": 1.0}},
        {"step": 1, "data": {"train/loss": 2.0}},
        {"step": 2, "data": {"eval/loss": 1.2, "eval/mean_token_accuracy": 0.7}},
    )
    first, second = read_metrics_file(content, percent=None, finished=True)
    assert (first.step, second.step) == (1, 2)
    assert (second.train_loss, second.valid_loss, second.valid_accuracy) == (1.0, 1.2, 0.7)
    assert second.total_steps == 2


def test_lines_that_are_not_step_objects_are_skipped_and_an_empty_file_is_no_points() -> None:
    content = b'not json\n[1, 2]\n{"loss": 1}\n{"step": -1, "loss": 1}\n\n' + _lines(
        {"step": 3, "loss": "0.5", "total_steps": 12}
    )
    (point,) = read_metrics_file(content, percent=10, finished=False)
    assert (point.step, point.train_loss, point.total_steps) == (3, 0.5, 12)
    assert read_metrics_file(b"", percent=None, finished=False) == []
    (early,) = read_metrics_file(_lines({"step": 0, "loss": 3.0}), percent=0, finished=False)
    assert early.total_steps is None  # no progress yet: no total to show
