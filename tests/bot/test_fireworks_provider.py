"""Fireworks AI provider: the real fireworks-ai SDK against tests/fakes/fireworks_server.py, for
what the contract suite does not ask: the signed-URL upload, a refused dataset, DPO, no seed,
the team's tag, gone and paused jobs, paging, the account of a team's key, and the faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.providers.fireworks import factory
from bot.providers.fireworks.provider import FireworksProvider
from handlers.chat import ChatMessage
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobSpec, Method, TeamCredentials
from handlers.profile import JobStatus
from handlers.scope import TEAM_KEY
from handlers.secrets import Secret
from tests.contracts.harness import chat_examples
from tests.fakes.clock import ManualClock
from tests.fakes.fireworks_server import BASE_MODELS, FakeFireworks, Fault, Route

KEY = "fw_" + "unit0123456789" * 2
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
        KEY,
        account_id=ACCOUNT,
        base_url=fake.base_url,
        timeout=2.0,
        max_retries=0,
        ready_delay_s=0,
    ) as built:
        yield built


async def upload(provider: FireworksProvider, tmp_path: Path, content: bytes | None = None) -> str:
    source = tmp_path / "local.jsonl"
    source.write_bytes(chat_examples(3) if content is None else content)
    return (await provider.upload_file(source, filename="train.jsonl")).id


async def test_a_large_file_goes_by_the_signed_url_then_validate(
    fake: FakeFireworks, tmp_path: Path
) -> None:
    async with FireworksProvider.connect(
        KEY,
        account_id=ACCOUNT,
        base_url=fake.base_url,
        max_retries=0,
        direct_upload_limit=10,
        ready_delay_s=0,
    ) as provider:
        dataset = await upload(provider, tmp_path)
        assert await provider.file_content(dataset) == chat_examples(3)
    assert fake.requests_to(Route.UPLOAD_DATASET) == []
    assert len(fake.requests_to(Route.SIGNED_PUT)) == 1
    assert len(fake.requests_to(Route.VALIDATE_UPLOAD)) == 1
    assert fake.datasets[dataset]["state"] == "READY"


async def test_a_small_file_goes_direct(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    await upload(provider, tmp_path)
    assert len(fake.requests_to(Route.UPLOAD_DATASET)) == 1
    assert fake.requests_to(Route.SIGNED_PUT) == []


async def test_a_refused_dataset_is_fireworks_message_and_is_deleted(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    with pytest.raises(ProviderError) as caught:
        await upload(provider, tmp_path, content=chat_examples(2))
    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "at least 3 examples" in caught.value.message
    assert fake.datasets == {}
    assert fake.jobs == {}


async def test_a_seed_is_refused_by_name_and_nothing_is_created(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path)
    with pytest.raises(ProviderError) as caught:
        await provider.create_job(
            JobSpec(model=MODEL, training_file=dataset, seed=7), idempotency_key="k"
        )
    assert "seed" in caught.value.message
    assert "Fireworks" in caught.value.message
    assert fake.jobs == {}


async def test_a_supervised_job_sends_what_the_start_carries_and_is_tagged(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path)
    spec = JobSpec(
        model=MODEL,
        training_file=dataset,
        suffix="support",
        hyperparameters=Hyperparameters(
            n_epochs=2,
            batch_size=16,
            learning_rate_multiplier=2e-4,
            lora_r=16,
            warmup_steps=30,
            context_length=8192,
        ),
        metadata={TEAM_KEY: "slack:T1"},
    )
    job = await provider.create_job(spec, idempotency_key="one")
    again = await provider.create_job(spec, idempotency_key="one")

    (sent,) = [r.json for r in fake.requests_to(Route.CREATE_JOB)][:1]
    assert sent["epochs"] == 2
    assert sent["batchSizeSamples"] == 16
    assert sent["learningRate"] == 2e-4
    assert sent["loraRank"] == 16
    assert sent["learningRateWarmupSteps"] == 30
    assert sent["maxContextLength"] == 8192
    # What the job says it trains with comes back for a replay.
    hp = job.hyperparameters
    assert (hp.lora_r, hp.warmup_steps, hp.context_length) == (16, 30, 8192)
    assert sent["dataset"] == f"accounts/{ACCOUNT}/datasets/{dataset}"
    assert "seed" not in str(sent).lower()
    assert again.id == job.id
    assert len(fake.jobs) == 1
    assert job.suffix == "support"
    assert job.metadata == {TEAM_KEY: "slack:T1"}
    assert job.status is JobStatus.VALIDATING
    assert [j.id for j in await provider.list_jobs(metadata={TEAM_KEY: "slack:T1"})] == [job.id]
    assert await provider.list_jobs(metadata={TEAM_KEY: "slack:T2"}) == []


async def test_a_dpo_job_has_its_own_id_and_beta(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path)
    spec = JobSpec(
        model=MODEL,
        training_file=dataset,
        method=Method.DPO,
        hyperparameters=Hyperparameters(
            beta=0.3, n_epochs=1, lora_r=8, warmup_steps=5, context_length=4096
        ),
    )
    job = await provider.create_job(spec, idempotency_key="dpo")

    assert job.id.startswith("dpo:")
    assert job.method == Method.DPO.value
    assert job.hyperparameters.beta == 0.3
    assert job.model == MODEL
    (sent,) = [r.json for r in fake.requests_to(Route.CREATE_DPO)]
    assert sent["lossConfig"] == {"method": "DPO", "dpo": {"beta": 0.3}}
    config = sent["trainingConfig"]
    assert (config["loraRank"], config["learningRateWarmupSteps"]) == (8, 5)
    assert config["maxContextLength"] == 4096
    assert (job.hyperparameters.lora_r, job.hyperparameters.context_length) == (8, 4096)
    for _ in range(20):
        fake.advance()
    done = await provider.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.fine_tuned_model == f"accounts/{ACCOUNT}/models/{job.id.removeprefix('dpo:')}"
    cancelled = await provider.create_job(
        JobSpec(model=MODEL, training_file=dataset, method=Method.DPO), idempotency_key="dpo2"
    )
    assert (await provider.cancel_job(cancelled.id)).status is JobStatus.CANCELLING


async def test_beta_on_a_supervised_job_is_refused(
    provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path)
    with pytest.raises(ProviderError) as caught:
        await provider.create_job(
            JobSpec(model=MODEL, training_file=dataset, hyperparameters=Hyperparameters(beta=1)),
            idempotency_key="b",
        )
    assert "beta" in caught.value.message


@pytest.mark.parametrize(
    "state", ["JOB_STATE_DELETING", "JOB_STATE_DELETED", "JOB_STATE_ARCHIVED"]
)
async def test_a_deleting_job_is_gone(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path, state: str
) -> None:
    dataset = await upload(provider, tmp_path)
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=dataset), idempotency_key="g"
    )
    fake.reported_status[job.id] = state
    with pytest.raises(ProviderError) as caught:
        await provider.get_job(job.id)
    assert caught.value.kind is ProviderErrorKind.NOT_FOUND
    assert await provider.list_jobs() == []


async def test_a_paused_or_failed_job_carries_fireworks_message(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path, content=b"{}\n{not json\n{}\n")
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=dataset), idempotency_key="f"
    )
    fake.advance(2)
    failed = await provider.get_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == "Dataset validation failed: line 2 is not valid JSON"

    good = await upload(provider, tmp_path)
    paused = await provider.create_job(
        JobSpec(model=MODEL, training_file=good), idempotency_key="p"
    )
    fake.jobs[paused.id]["state"] = "JOB_STATE_PAUSED"
    fake.jobs[paused.id]["status"] = {"code": "OK", "message": "account suspended"}
    read = await provider.get_job(paused.id)
    assert read.status is JobStatus.PAUSED
    assert read.error == "account suspended"


async def test_a_list_reads_every_page(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    dataset = await upload(provider, tmp_path)
    for n in range(205):
        fake.jobs[f"j{n:03d}"] = {
            **fake.jobs.get("x", {}),
            "id": f"j{n:03d}",
            "kind": "supervisedFineTuningJobs",
            "name": f"accounts/{ACCOUNT}/supervisedFineTuningJobs/j{n:03d}",
            "dataset": f"accounts/{ACCOUNT}/datasets/{dataset}",
            "baseModel": MODEL,
            "state": "JOB_STATE_RUNNING",
            "createTime": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
        }
    listed = await provider.list_jobs(limit=1000)
    assert len(listed) == 205
    assert listed[0].id == "j204"
    assert len(fake.requests_to(Route.LIST_JOBS)) == 2


async def test_a_teams_key_finds_its_own_account(fake: FakeFireworks, tmp_path: Path) -> None:
    build = factory.TeamProviderBuilder(base_url=fake.base_url)
    credentials = TeamCredentials(team_id="slack:T1", provider="fireworks", api_key=Secret(KEY))
    await factory.FireworksKeyChecker(build).check(credentials)
    async with build(credentials) as provider:
        assert await provider.account_id() == ACCOUNT
    wrong = TeamCredentials(
        team_id="slack:T1", provider="fireworks", api_key=Secret("fw_" + "x" * 20)
    )
    with pytest.raises(ProviderError) as caught:
        await factory.FireworksKeyChecker(build).check(wrong)
    assert caught.value.kind is ProviderErrorKind.AUTH


async def test_another_accounts_resources_are_an_auth_error_naming_the_account(
    fake: FakeFireworks,
) -> None:
    async with FireworksProvider.connect(
        KEY, account_id="someone-else", base_url=fake.base_url, max_retries=0
    ) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.list_jobs()
    assert caught.value.kind is ProviderErrorKind.AUTH
    assert "account id" in caught.value.detail


async def test_faults_are_their_kinds(fake: FakeFireworks, provider: FireworksProvider) -> None:
    fake.inject(Route.LIST_JOBS, Fault.malformed())
    with pytest.raises(ProviderError) as caught:
        await provider.list_jobs()
    assert caught.value.kind is ProviderErrorKind.INVALID_RESPONSE
    fake.inject(Route.LIST_JOBS, Fault.server_error(503))
    with pytest.raises(ProviderError) as caught:
        await provider.list_jobs()
    assert caught.value.kind is ProviderErrorKind.SERVER
    fake.inject(Route.GET_JOB, Fault.rate_limit(12))
    with pytest.raises(ProviderError) as caught:
        await provider.get_job("nope")
    assert caught.value.kind is ProviderErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 12


async def test_an_undeployed_tuned_model_says_to_deploy_it(
    fake: FakeFireworks, provider: FireworksProvider, tmp_path: Path
) -> None:
    fake.require_deployment = True
    dataset = await upload(provider, tmp_path)
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=dataset), idempotency_key="c"
    )
    fake.advance(20)
    model = (await provider.get_job(job.id)).fine_tuned_model
    assert model is not None
    question = (ChatMessage(role="user", content="hi"),)
    with pytest.raises(ProviderError) as caught:
        await provider.chat(model, question)
    assert "on-demand deployment" in caught.value.message
    assert "GPU-second" in caught.value.message
    fake.deployed.add(model)
    assert (await provider.chat(model, question)).content
