"""Together AI provider: the real together SDK against tests/fakes/together_server.py."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.app.config import Settings
from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.together import factory, tags
from bot.providers.together.profile import PROFILE, metric_point
from bot.providers.together.provider import JobDefaults, TogetherProvider
from handlers.chat import ChatMessage
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobSpec, JobState, Method, TeamCredentials
from handlers.ports import PriceEstimates
from handlers.profile import JobStatus
from handlers.scope import TEAM_KEY, TeamScopedProvider
from handlers.secrets import Secret
from handlers.starts import INTENT_METADATA_KEY
from tests.contracts.harness import chat_examples
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import Fault
from tests.fakes.together_server import BASE_MODELS, FakeTogether, Route

KEY = "tgp_v1_" + "unit0123456789" * 2
MODEL = BASE_MODELS[0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTogether]:
    clock = ManualClock()

    def tick() -> float:
        return clock.now().timestamp()

    async with FakeTogether(api_key=KEY, clock=tick) as server:
        yield server


@pytest.fixture
async def provider(fake: FakeTogether) -> AsyncIterator[TogetherProvider]:
    async with TogetherProvider.connect(
        KEY, base_url=fake.base_url, timeout=2.0, max_retries=0
    ) as built:
        yield built


async def upload(provider: TogetherProvider, tmp_path: Path, name: str = "train.jsonl") -> str:
    source = tmp_path / "local.jsonl"
    source.write_bytes(chat_examples(3))
    return (await provider.upload_file(source, filename=name)).id


async def finished(fake: FakeTogether, provider: TogetherProvider, job_id: str) -> JobState:
    for _ in range(50):
        state = await provider.get_job(job_id)
        if state.terminal:
            return state
        fake.advance()
    raise AssertionError(f"{job_id} never finished")


# -- statuses and metrics -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pending", JobStatus.QUEUED),
        ("queued", JobStatus.QUEUED),
        ("running", JobStatus.RUNNING),
        ("compressing", JobStatus.RUNNING),
        ("uploading", JobStatus.RUNNING),
        ("cancel_requested", JobStatus.CANCELLING),
        ("cancelled", JobStatus.CANCELLED),
        ("error", JobStatus.FAILED),
        ("user_error", JobStatus.FAILED),
        ("completed", JobStatus.SUCCEEDED),
    ],
)
def test_togethers_statuses_map_to_the_cores(raw: str, expected: JobStatus) -> None:
    assert PROFILE.status(raw) is expected


def test_a_status_together_newly_invents_stays_live() -> None:
    assert not PROFILE.status("awaiting_gpus").terminal


def test_a_metrics_row_becomes_a_point_under_togethers_names() -> None:
    row = {
        "train/global_step": 7,
        "train/loss": 0.5,
        "eval/loss": 0.7,
        "train/learning_rate": 1e-4,
    }

    point = metric_point(row, total_steps=20)

    assert point is not None
    assert (point.step, point.total_steps) == (7, 20)
    assert (point.train_loss, point.valid_loss) == (0.5, 0.7)
    assert metric_point({"train/loss": 0.5}) is None  # no step, no point


async def test_metrics_rows_arrive_as_metric_events_after_the_cursor(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    file_id = await upload(provider, tmp_path)
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=file_id), idempotency_key="m"
    )
    await finished(fake, provider, job.id)

    events = await provider.list_events_after(job.id, None)
    metrics = [e for e in events if e.type == "metrics"]

    assert [e.metrics.step for e in metrics if e.metrics] == [1, 2, 3]
    assert all(e.metrics and e.metrics.total_steps == 3 for e in metrics)
    assert fake.requests_to(Route.METRICS)
    after = await provider.list_events_after(job.id, metrics[0].id)
    assert [e.id for e in after] == [e.id for e in events[events.index(metrics[0]) + 1 :]]


# -- upload: the SDK's own flow ---------------------------------------------------------------


async def test_an_upload_goes_post_302_put_preprocess_under_the_wanted_name(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    source = tmp_path / "whatever-local.jsonl"
    source.write_bytes(chat_examples(5))
    seen: list[tuple[int, int]] = []

    uploaded = await provider.upload_file(
        source, filename="../team train.jsonl", progress=lambda d, t: seen.append((d, t))
    )

    routes = [r.route for r in fake.requests]
    assert routes == [Route.UPLOAD_FILE, Route.PRESIGNED_PUT, Route.PREPROCESS_FILE]
    form = fake.requests[0].form
    assert form["purpose"] == "fine-tune"
    assert form["file_name"] == "team_train.jsonl"  # no directory part reaches Together
    assert form["checksum"] == hashlib.sha256(chat_examples(5)).hexdigest()
    assert uploaded.filename == "team_train.jsonl"
    assert fake.file_contents[uploaded.id] == chat_examples(5)
    assert seen[-1] == (len(chat_examples(5)), len(chat_examples(5)))


# -- create: options, refusals, tags ------------------------------------------------------------


async def test_create_sends_togethers_fields_and_tags_the_suffix(
    fake: FakeTogether, tmp_path: Path
) -> None:
    defaults = JobDefaults(lora=True, lora_r=16, lora_alpha=32, n_checkpoints=2, n_evals=1)
    async with TogetherProvider.connect(
        KEY, base_url=fake.base_url + "/v1", max_retries=0, defaults=defaults
    ) as provider:
        file_id = await upload(provider, tmp_path)
        spec = JobSpec(
            model=MODEL,
            training_file=file_id,
            method=Method.DPO,
            hyperparameters=Hyperparameters(n_epochs=2, learning_rate_multiplier=2e-5, beta=0.3),
            suffix="support bot",
            seed=7,
            metadata={TEAM_KEY: "slack:T0123"},
        )
        state = await provider.create_job(spec, idempotency_key="intent-1")

    (sent,) = [r.json for r in fake.requests_to(Route.CREATE_JOB)]
    assert sent["n_epochs"] == 2
    assert sent["learning_rate"] == 2e-5
    assert sent["random_seed"] == 7
    assert sent["n_checkpoints"] == 2
    assert sent["n_evals"] == 1
    assert sent["training_method"]["method"] == "dpo"
    assert sent["training_method"]["dpo_beta"] == 0.3
    assert sent["training_type"] == {
        "type": "Lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.0,
        "lora_trainable_modules": "all-linear",
    }
    assert sent["suffix"] == f"support-bot-ftb-{tags.key_digest('intent-1')}-sT0123"
    assert state.suffix == "support-bot"
    assert state.metadata == {TEAM_KEY: "slack:T0123"}
    assert state.status is JobStatus.QUEUED
    assert state.provider_status == "pending"


async def test_a_starts_own_lora_checkpoint_eval_and_warmup_options_win_over_the_defaults(
    fake: FakeTogether, tmp_path: Path
) -> None:
    defaults = JobDefaults(lora=True, lora_r=16, lora_alpha=32, n_checkpoints=2, n_evals=1)
    async with TogetherProvider.connect(
        KEY, base_url=fake.base_url, max_retries=0, defaults=defaults
    ) as provider:
        file_id = await upload(provider, tmp_path)
        own = Hyperparameters(
            lora_r=32, lora_alpha=8, n_checkpoints=4, n_evals=3, warmup_ratio=0.25
        )
        await provider.create_job(
            JobSpec(model=MODEL, training_file=file_id, hyperparameters=own),
            idempotency_key="own-1",
        )
        await provider.create_job(
            JobSpec(model=MODEL, training_file=file_id, training_type="full"),
            idempotency_key="full-1",
        )

    lora, full = [r.json for r in fake.requests_to(Route.CREATE_JOB)]
    assert (lora["n_checkpoints"], lora["n_evals"], lora["warmup_ratio"]) == (4, 3, 0.25)
    assert (lora["training_type"]["lora_r"], lora["training_type"]["lora_alpha"]) == (32, 8)
    assert full["training_type"]["type"] == "Full"
    assert (full["n_checkpoints"], full["n_evals"]) == (2, 1)  # the deployment's defaults


@pytest.mark.parametrize(
    ("spec_change", "defaults", "named"),
    [
        ({"hyperparameters": Hyperparameters(beta=0.2)}, JobDefaults(), "beta"),
        ({}, JobDefaults(lora_r=512), "lora_r 512"),
        ({"model": "gpt-4o-mini-2024-07-18"}, JobDefaults(), "cannot fine-tune"),
    ],
    ids=["beta-on-supervised", "rank-above-limit", "model-not-fine-tunable"],
)
async def test_an_option_together_refuses_is_named_and_nothing_is_sent(
    fake: FakeTogether,
    tmp_path: Path,
    spec_change: dict[str, object],
    defaults: JobDefaults,
    named: str,
) -> None:
    async with TogetherProvider.connect(
        KEY, base_url=fake.base_url, max_retries=0, defaults=defaults
    ) as provider:
        file_id = await upload(provider, tmp_path)
        fields: dict[str, object] = {"model": MODEL, "training_file": file_id, **spec_change}
        spec = JobSpec(**fields)  # type: ignore[arg-type]
        with pytest.raises(ProviderError) as caught:
            await provider.create_job(spec, idempotency_key="k")

    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert named in caught.value.message
    assert fake.requests_to(Route.CREATE_JOB) == []
    assert fake.jobs == {}


async def test_one_team_on_a_shared_account_sees_only_its_jobs(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    file_id = await upload(provider, tmp_path)
    mine = TeamScopedProvider(provider, team_id="slack:TA", shared=True)
    theirs = TeamScopedProvider(provider, team_id="discord:1234567890", shared=True)
    spec = JobSpec(model=MODEL, training_file=file_id)
    made = await mine.create_job(spec, idempotency_key="a")
    other = await theirs.create_job(spec, idempotency_key="b")

    assert [j.id for j in await mine.list_jobs()] == [made.id]
    assert [j.id for j in await theirs.list_jobs()] == [other.id]
    found = await provider.list_jobs(metadata={INTENT_METADATA_KEY: "a"})
    assert [j.id for j in found] == [made.id]
    assert found[0].metadata[INTENT_METADATA_KEY] == "a"


@given(
    suffix=st.text(max_size=60),
    key=st.text(min_size=1, max_size=40),
    workspace=st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True),
)
def test_the_suffix_tag_fits_togethers_limit_and_reads_back(
    suffix: str, key: str, workspace: str
) -> None:
    team = f"discord:{workspace}"
    sent = tags.tagged_suffix(suffix, key=key, metadata={TEAM_KEY: team})

    own, digest, owner = tags.read_suffix(sent)

    assert len(sent) <= tags.MAX_SUFFIX
    assert (digest, owner) == (tags.key_digest(key), team)
    assert own is None or own in sent


# -- estimate, catalogue, limits ----------------------------------------------------------------


async def test_the_price_estimate_is_togethers_own(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    file_id = await upload(provider, tmp_path)
    spec = JobSpec(model=MODEL, training_file=file_id, hyperparameters=Hyperparameters(n_epochs=3))

    estimate = await provider.estimate_price(spec)
    fake.user_limit = 0.0
    refused = await provider.estimate_price(spec)

    tokens = len(chat_examples(3)) // 4 * 3
    assert estimate.train_tokens == tokens
    assert estimate.price == pytest.approx(tokens * fake.price_per_token)
    assert estimate.allowed_to_proceed is True
    assert refused.allowed_to_proceed is False
    (sent, _) = [r.json for r in fake.requests_to(Route.ESTIMATE_PRICE)]
    assert sent["n_epochs"] == 3
    assert sent["training_type"]["type"] == "Lora"


async def test_a_teams_view_reaches_the_estimate_only_where_the_family_has_one(
    provider: TogetherProvider, tmp_path: Path
) -> None:
    file_id = await upload(provider, tmp_path)
    spec = JobSpec(model=MODEL, training_file=file_id)
    sandbox = SandboxProvider(ManualClock())

    priced = await TeamScopedProvider(provider, team_id="slack:T1", shared=True).estimate_price(
        spec
    )
    with pytest.raises(ProviderError) as caught:
        await TeamScopedProvider(sandbox, team_id="slack:T1", shared=True).estimate_price(spec)

    assert priced.price is not None
    assert isinstance(provider, PriceEstimates)
    assert not isinstance(sandbox, PriceEstimates)
    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "cannot price a job itself" in caught.value.message


async def test_the_catalogue_and_a_models_limits(provider: TogetherProvider) -> None:
    models = [m.id for m in await provider.list_models()]
    lora = await provider.model_limits(MODEL, method=Method.SUPERVISED, training_type=None)
    full = await provider.model_limits(MODEL, method=Method.DPO, training_type="full")

    assert models == sorted(BASE_MODELS)
    assert lora.max_lora_rank == 64
    assert lora.max_epochs == 20
    assert (lora.min_batch_size, lora.max_batch_size) == (1, 64)
    assert (lora.min_learning_rate, lora.max_learning_rate) == (1e-7, 1.0)
    assert full.max_lora_rank is None
    assert full.max_batch_size == 16  # full training, DPO


# -- chat ---------------------------------------------------------------------------------------


async def test_a_tuned_model_without_an_endpoint_says_to_deploy_it(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    fake.serverless_tuned = False
    file_id = await upload(provider, tmp_path)
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=file_id), idempotency_key="c"
    )
    model = (await finished(fake, provider, job.id)).fine_tuned_model
    assert model is not None

    with pytest.raises(ProviderError) as caught:
        await provider.chat(model, (ChatMessage(role="user", content="hi"),))

    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "dedicated endpoint" in caught.value.message
    assert model in caught.value.message
    assert (await provider.chat(MODEL, (ChatMessage(role="user", content="hi"),))).content


# -- errors -------------------------------------------------------------------------------------


async def test_a_refused_key_tells_the_admin_to_check_the_together_key(
    fake: FakeTogether, provider: TogetherProvider
) -> None:
    fake.inject(Route.LIST_JOBS, Fault.error(403, "Forbidden"))

    with pytest.raises(ProviderError) as caught:
        await provider.list_jobs()

    assert caught.value.kind is ProviderErrorKind.AUTH
    assert "Ask an admin to check it" in caught.value.message
    assert "Together" in caught.value.detail


async def test_a_key_quoted_in_an_error_never_reaches_the_reply(
    fake: FakeTogether, provider: TogetherProvider
) -> None:
    fake.inject(Route.LIST_JOBS, Fault.error(400, f"bad request with key {KEY}"))

    with pytest.raises(ProviderError) as caught:
        await provider.list_jobs()

    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert KEY not in caught.value.message
    assert "bad request with key" in caught.value.message


@pytest.mark.parametrize(
    ("fault", "kind", "retry_after"),
    [
        (Fault.rate_limit(12), ProviderErrorKind.RATE_LIMITED, 12.0),
        (Fault.server_error(503), ProviderErrorKind.SERVER, None),
        (Fault.malformed(), ProviderErrorKind.INVALID_RESPONSE, None),
        (Fault.error(404, "Fine-tune job not found"), ProviderErrorKind.NOT_FOUND, None),
        (Fault.delay(8.0, commit=False), ProviderErrorKind.TIMEOUT, None),
    ],
    ids=["429", "5xx", "malformed", "404", "timeout"],
)
async def test_each_fault_is_its_kind(
    fake: FakeTogether,
    provider: TogetherProvider,
    tmp_path: Path,
    fault: Fault,
    kind: ProviderErrorKind,
    retry_after: float | None,
) -> None:
    file_id = await upload(provider, tmp_path)
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=file_id), idempotency_key="e"
    )
    fake.inject(Route.GET_JOB, fault)

    with pytest.raises(ProviderError) as caught:
        await provider.get_job(job.id)

    assert caught.value.kind is kind
    assert caught.value.retry_after == retry_after
    assert (await provider.get_job(job.id)).id == job.id


async def test_a_failed_jobs_reason_comes_from_its_events(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(b'{"messages": []}\n{broken\n')
    uploaded = await provider.upload_file(source, filename="bad.jsonl")
    job = await provider.create_job(
        JobSpec(model=MODEL, training_file=uploaded.id), idempotency_key="f"
    )

    failed = await finished(fake, provider, job.id)

    assert failed.status is JobStatus.FAILED
    assert failed.error == "Invalid training file: line 2 is not valid JSON."


# -- settings -----------------------------------------------------------------------------------


def test_the_deployment_needs_togethers_key() -> None:
    with pytest.raises(ConfigError) as caught:
        factory.check(Settings(provider="together"))

    assert "TOGETHER_API_KEY" in caught.value.message


async def test_the_base_url_setting_reaches_the_sdk(fake: FakeTogether) -> None:
    settings = Settings(
        provider="together", together_api_key=SecretStr(KEY), together_base_url=fake.base_url
    )
    provider = factory.build(settings, SystemClock())
    try:
        assert [m.id for m in await provider.list_models()] == sorted(BASE_MODELS)
    finally:
        await provider.aclose()


# -- a team's own key ---------------------------------------------------------------------------


def team_key(key: str, endpoint: str | None = None) -> TeamCredentials:
    return TeamCredentials(
        team_id="slack:T9", provider="together", api_key=Secret(key), endpoint=endpoint
    )


async def test_a_teams_own_key_is_checked_against_together_and_sent_nowhere_else(
    fake: FakeTogether,
) -> None:
    checker = factory.TogetherKeyChecker(factory.TeamProviderBuilder(base_url=fake.base_url))

    await checker.check(team_key(KEY))
    with pytest.raises(ProviderError) as refused:
        await checker.check(team_key("tgp_v1_" + "wrong0123456789" * 2))
    asked = len(fake.requests)
    with pytest.raises(ProviderError) as endpoint:
        await checker.check(team_key(KEY, endpoint="https://llm.example.com"))

    assert refused.value.kind is ProviderErrorKind.AUTH
    assert endpoint.value.kind is ProviderErrorKind.BAD_REQUEST
    assert "takes no endpoint" in endpoint.value.message
    assert len(fake.requests) == asked  # the key went nowhere
    assert PROFILE.accounts[0].key_shape.match(KEY)


@pytest.mark.parametrize("made", [False, True], ids=["lost-request", "lost-answer"])
async def test_the_sdks_retries_never_repeat_a_create(
    fake: FakeTogether, tmp_path: Path, made: bool
) -> None:
    """With the SDK's default retries on (as deployed), a failed create is sent once: the
    job is looked for by its tag, and only the caller's own retry may create again."""
    async with TogetherProvider.connect(KEY, base_url=fake.base_url, max_retries=2) as provider:
        file_id = await upload(provider, tmp_path)
        fake.inject(Route.CREATE_JOB, Fault.server_error(500, commit=made))
        spec = JobSpec(model=MODEL, training_file=file_id)
        state: JobState | None = None
        if made:  # the job exists: the lookup after the fault returns it
            state = await provider.create_job(spec, idempotency_key="once")
        else:
            with pytest.raises(ProviderError) as caught:
                await provider.create_job(spec, idempotency_key="once")
            assert caught.value.kind is ProviderErrorKind.SERVER

        assert len(fake.requests_to(Route.CREATE_JOB)) == 1
        assert len(fake.jobs) == (1 if made else 0)
        assert (state is not None) is made
        again = await provider.create_job(spec, idempotency_key="once")

    assert len(fake.jobs) == 1
    assert state is None or again.id == state.id


async def test_an_upload_answer_without_its_time_is_an_unreadable_answer(
    fake: FakeTogether, provider: TogetherProvider, tmp_path: Path
) -> None:
    fake.inject(Route.PREPROCESS_FILE, Fault(kind="status", status=200, body={"id": "file-1"}))

    with pytest.raises(ProviderError) as caught:
        await upload(provider, tmp_path)

    assert caught.value.kind is ProviderErrorKind.INVALID_RESPONSE
