"""The Azure OpenAI family: the real openai SDK's AsyncAzureOpenAI against the fake OpenAI
server in Azure mode, for what differs from OpenAI (the routes and api-version, api-key or an
Entra ID token, the training tier, `pending`, the deployment a fine-tuned model needs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from pydantic import SecretStr

from bot.app.config import Settings
from bot.infra.clock import SystemClock
from bot.providers.azure.profile import PROFILE
from bot.providers.azure.provider import AzureOpenAIProvider
from bot.providers.registry import family
from handlers.chat import ChatMessage
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import JobSpec
from handlers.profile import JobStatus
from tests.fakes.openai_server import FakeOpenAI, Route

KEY = "0123456789abcdef" * 2
TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "e30abcdefghij" + "." + "c2lnbmF0dXJlXzEyMzQ"
VERSION = "2024-10-21"
TIMEOUT = 2.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY, ad_token=TOKEN, azure=True) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def azure(fake: FakeOpenAI) -> AsyncIterator[AzureOpenAIProvider]:
    async with AzureOpenAIProvider.connect(
        fake.azure_endpoint, KEY, api_version=VERSION, timeout=TIMEOUT, max_retries=0
    ) as built:
        yield built


def _spec(fake: FakeOpenAI, **overrides: object) -> JobSpec:
    training = fake.add_file("train.jsonl", b'{"messages": []}\n' * 3)
    values: dict[str, object] = {
        "model": "gpt-4o-mini-2024-07-18",
        "training_file": training["id"],
    }
    values.update(overrides)
    return JobSpec(**values)  # type: ignore[arg-type]


async def test_every_request_goes_to_the_resource_with_its_api_version_and_key(
    fake: FakeOpenAI, azure: AzureOpenAIProvider
) -> None:
    assert (azure.label, azure.profile) == ("Azure OpenAI", PROFILE)
    job = await azure.create_job(_spec(fake), idempotency_key="k1")
    await azure.get_job(job.id)
    for request in fake.requests:
        assert request.query["api-version"] == VERSION, request.route
        assert request.headers["api-key"] == "<redacted>"
        assert "authorization" not in request.headers
    created = fake.requests_to(Route.CREATE_JOB)[0].json
    assert created["trainingType"] == "globalstandard"


async def test_a_validated_job_is_pending_which_is_queued(
    fake: FakeOpenAI, azure: AzureOpenAIProvider
) -> None:
    job = await azure.create_job(_spec(fake), idempotency_key="k1")
    assert job.status is JobStatus.VALIDATING
    fake.advance()
    waiting = await azure.get_job(job.id)
    assert (waiting.status, waiting.provider_status) == (JobStatus.QUEUED, "pending")
    assert waiting.shown_status == "queued (pending)"


async def test_the_training_tier_is_the_one_given(fake: FakeOpenAI) -> None:
    async with AzureOpenAIProvider.connect(
        fake.azure_endpoint, KEY, training_type="developer", timeout=TIMEOUT, max_retries=0
    ) as developer:
        await developer.create_job(_spec(fake), idempotency_key="k1")
    assert fake.requests_to(Route.CREATE_JOB)[0].json["trainingType"] == "developer"


async def test_an_entra_token_goes_as_a_bearer_token_and_is_scrubbed(fake: FakeOpenAI) -> None:
    async with AzureOpenAIProvider.connect(
        fake.azure_endpoint, TOKEN, timeout=TIMEOUT, max_retries=0
    ) as entra:
        assert await entra.list_models()
        request = fake.requests_to(Route.LIST_MODELS)[0]
        assert request.headers["authorization"] == "<redacted>"
        assert "api-key" not in request.headers
        assert entra._scrub(f"token {TOKEN} leaked") == "token *** leaked"


async def test_a_wrong_key_is_an_auth_error(fake: FakeOpenAI) -> None:
    async with AzureOpenAIProvider.connect(
        fake.azure_endpoint, "f" * 32, timeout=TIMEOUT, max_retries=0
    ) as wrong:
        with pytest.raises(ProviderError) as caught:
            await wrong.list_models()
    assert caught.value.kind is ProviderErrorKind.AUTH
    assert "f" * 32 not in str(caught.value)


async def test_a_fine_tuned_model_answers_only_once_deployed(
    fake: FakeOpenAI, azure: AzureOpenAIProvider
) -> None:
    job = fake.add_job(status="running")
    tuned = fake.finish_job(job["id"], "succeeded")["fine_tuned_model"]
    assert PROFILE.is_tuned_model(tuned)
    assert PROFILE.tuned_base(tuned) == "gpt-4o-mini-2024-07-18"
    hello = [ChatMessage(role="user", content="hello")]
    with pytest.raises(ProviderError) as caught:
        await azure.chat(tuned, hello)
    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert f"{tuned} has no deployment" in caught.value.message
    assert "deployment name" in caught.value.message
    fake.deploy(tuned)
    answer = await azure.chat(tuned, hello)
    assert answer.content == "echo: hello"
    assert fake.requests_to(Route.AZURE_CHAT)[-1].path == f"/deployments/{tuned}/chat/completions"


async def test_a_base_model_without_a_deployment_is_not_found(
    fake: FakeOpenAI, azure: AzureOpenAIProvider
) -> None:
    fake.deployments.clear()
    with pytest.raises(ProviderError) as caught:
        await azure.chat("gpt-4o-mini-2024-07-18", [ChatMessage(role="user", content="hi")])
    assert caught.value.kind is ProviderErrorKind.NOT_FOUND


def test_training_ends_by_model_no_earlier_than() -> None:
    assert PROFILE.model_end("gpt-4o-mini-2024-07-18") == date(2027, 4, 1)
    assert PROFILE.model_end("gpt-4.1-nano-2025-04-14") == date(2027, 4, 14)
    assert PROFILE.model_end("o4-mini-2025-04-16") == date(2027, 4, 16)
    assert PROFILE.model_end("gpt-35-turbo-0125") is None
    assert PROFILE.model_end_line("gpt-4o-2024-08-06") == (
        "Training gpt-4o-2024-08-06 at Azure OpenAI ends no earlier than 2027-04-01."
    )
    assert PROFILE.first_end == date(2027, 4, 1)


async def test_finetune_bot_provider_azure_selects_the_azure_family() -> None:
    settings = Settings(
        provider="azure",
        azure_openai_endpoint="https://acme.openai.azure.com",
        azure_openai_api_key=SecretStr(KEY),
        azure_openai_training_type="developer",
    )
    entry = family(settings.provider)
    assert entry.name == "azure"
    assert family("openai").settings_names == ("openai",)
    built = entry.load().build(settings, SystemClock())
    try:
        assert isinstance(built, AzureOpenAIProvider)
        assert built.profile is PROFILE
    finally:
        await built.aclose()  # type: ignore[attr-defined]
    missing = Settings(provider="azure", azure_openai_endpoint="https://acme.openai.azure.com")
    with pytest.raises(ConfigError, match="AZURE_OPENAI_API_KEY is not set"):
        entry.load().check(missing)
    token = Settings(
        provider="azure",
        azure_openai_endpoint="https://acme.openai.azure.com",
        azure_openai_ad_token=SecretStr(TOKEN),
    )
    entry.load().check(token)
