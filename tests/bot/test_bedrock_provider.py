"""Tests: the Bedrock provider on aiobotocore against moto's S3 and the Bedrock fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.providers.bedrock.provider import BedrockProvider
from handlers.chat import ChatMessage
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import JobSpec
from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.clock import ManualClock

NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def _chat(*turns: str) -> str:
    roles = ["user", "assistant"] * len(turns)
    return json.dumps(
        {"messages": [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]}
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    clock = ManualClock()
    async with FakeBedrock(clock=lambda: clock.now().timestamp()) as running:
        yield running


@pytest.fixture
async def provider(fake: FakeBedrock) -> AsyncIterator[BedrockProvider]:
    async with BedrockProvider(
        fake.account(),
        endpoints=fake.endpoints(),
        timeout=5,
        max_attempts=1,
        multipart_threshold=6 * 2**20,
        part_bytes=5 * 2**20,
    ) as made:
        yield made


async def test_a_file_is_staged_once_by_its_hash_without_acls_and_deleted_whole(
    fake: FakeBedrock, provider: BedrockProvider, tmp_path: Path
) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text("".join(_chat(f"q{n}", f"a{n}") + "\n" for n in range(3)))
    first = await provider.upload_file(source, filename="t.jsonl")
    again = await provider.upload_file(source, filename="t.jsonl")
    job = await provider.create_job(
        JobSpec(model=NOVA, training_file=first.id), idempotency_key="k"
    )

    assert again.id == first.id
    keys = sorted(fake.objects("team-1/"))
    assert len([k for k in keys if k.startswith("team-1/files/")]) == 1
    assert any(k.startswith("team-1/converted/") for k in keys)
    # Bedrock trains on the converted form; the job names the file as it was staged.
    sent = fake.jobs[job.id]["trainingDataConfig"]["s3Uri"]
    assert sent.startswith("s3://team-bucket/team-1/converted/")
    assert job.training_file == first.id
    grants = fake.acl_grants(first.id.removeprefix("s3://team-bucket/"))
    assert all("AllUsers" not in str(g) for g in grants)
    await provider.delete_file(first.id)
    assert not [k for k in fake.objects("team-1/") if not k.startswith("team-1/output/")]


async def test_a_large_file_goes_up_in_parts_with_progress(
    provider: BedrockProvider, tmp_path: Path
) -> None:
    source = tmp_path / "big.jsonl"
    line = _chat("q" * 1000, "a") + "\n"
    source.write_text(line * (7 * 2**20 // len(line) + 1))
    seen: list[tuple[int, int]] = []

    uploaded = await provider.upload_file(
        source, filename="big.jsonl", progress=lambda d, t: seen.append((d, t))
    )

    assert uploaded.bytes == source.stat().st_size
    assert len(seen) >= 2
    assert seen[-1][0] == seen[-1][1] == uploaded.bytes
    assert await provider.file_content(uploaded.id) == source.read_bytes()


async def test_a_file_the_model_cannot_take_starts_nothing_and_names_the_lines(
    fake: FakeBedrock, provider: BedrockProvider, tmp_path: Path
) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text(_chat("q", "a") + "\n" + _chat("q", "a", "q2", "a2") + "\n")
    uploaded = await provider.upload_file(source, filename="t.jsonl")
    west = BedrockProvider(fake.account(region="us-west-2"), endpoints=fake.endpoints())

    async with west:
        with pytest.raises(ProviderError) as refused:
            await west.create_job(
                JobSpec(model=HAIKU, training_file=uploaded.id), idempotency_key="k"
            )
    with pytest.raises(ProviderError) as region:
        await provider.create_job(
            JobSpec(model=HAIKU, training_file=uploaded.id), idempotency_key="k"
        )

    assert refused.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "line 2:" in refused.value.detail
    assert "us-west-2" in region.value.detail
    assert fake.jobs == {}


async def test_a_completed_job_has_its_step_wise_metrics_and_a_model_without_deployment_says_so(
    fake: FakeBedrock, provider: BedrockProvider, tmp_path: Path
) -> None:
    fake.deploy_on_completion = False
    source = tmp_path / "t.jsonl"
    source.write_text(_chat("q", "a") + "\n")
    uploaded = await provider.upload_file(source, filename="t.jsonl")
    job = await provider.create_job(
        JobSpec(model=NOVA, training_file=uploaded.id), idempotency_key="k"
    )
    fake.advance(3)
    running = await provider.get_job(job.id)
    early = await provider.metric_points(job.id)

    fake.finish_job(job.id, "succeeded")
    done = await provider.get_job(job.id)
    points = await provider.metric_points(job.id)

    assert running.provider_status == "InProgress: training"
    assert early == []
    assert [p.step for p in points] == [1, 2, 3]
    assert all(p.total_steps == 3 and p.train_loss is not None for p in points)
    assert points[-1].valid_loss is not None
    assert done.fine_tuned_model
    with pytest.raises(ProviderError) as refused:
        await provider.chat(done.fine_tuned_model, (ChatMessage(role="user", content="hi"),))
    assert "on-demand deployment" in refused.value.detail
    assert "Provisioned Throughput" in refused.value.detail


async def test_an_output_location_it_cannot_read_says_so_with_bedrocks_final_losses(
    fake: FakeBedrock, provider: BedrockProvider, tmp_path: Path
) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text(_chat("q", "a") + "\n")
    uploaded = await provider.upload_file(source, filename="t.jsonl")
    job = await provider.create_job(
        JobSpec(model=NOVA, training_file=uploaded.id), idempotency_key="k"
    )
    fake.finish_job(job.id, "succeeded")
    gone = replace(fake.account(), bucket="no-such-bucket")

    async with BedrockProvider(gone, endpoints=fake.endpoints(), max_attempts=1) as elsewhere:
        with pytest.raises(ProviderError) as unread:
            await elsewhere.metric_points(job.id)

    detail = unread.value.detail
    assert f"s3://no-such-bucket/team-1/output/{job.id}/" in detail
    assert "s3:GetObject" in detail
    assert "Bedrock reports a final training loss 0.4 and validation loss 0.44" in detail
