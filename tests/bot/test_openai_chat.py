"""Chat completions, stored completions and file content through the real SDK against the
fake OpenAI server (shaped by openai-openapi.yml), with faults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.providers.openai.provider import OpenAIProvider
from handlers.chat import ChatMessage
from handlers.errors import ProviderError, ProviderErrorKind
from tests.bot.test_openai_provider import fake, provider
from tests.fakes.openai_server import FakeOpenAI, Fault, Route

__all__ = ["fake", "provider"]
MODEL = "gpt-4.1-mini-2025-04-14"


async def test_chat_answers_with_usage_and_latency(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.add_model(MODEL, owned_by="system")
    result = await provider.chat(
        MODEL,
        (ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")),
        max_tokens=50,
    )
    assert result.content == "echo: hi"
    assert result.model == MODEL
    assert result.completion_tokens > 0
    assert result.prompt_tokens > 0
    assert result.latency_s >= 0
    (sent,) = fake.requests_to(Route.CHAT)
    assert sent.json["max_completion_tokens"] == 50
    assert sent.json["store"] is False
    assert not fake.chat_completions, "nothing is stored without store=true"


async def test_unknown_model_and_faults_are_named(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    prompt = (ChatMessage(role="user", content="hi"),)
    with pytest.raises(ProviderError) as unknown:
        await provider.chat("ft:nope", prompt)
    assert unknown.value.kind is ProviderErrorKind.NOT_FOUND
    fake.add_model(MODEL, owned_by="system")
    fake.inject(Route.CHAT, Fault.server_error(500))
    with pytest.raises(ProviderError) as failed:
        await provider.chat(MODEL, prompt)
    assert failed.value.kind is ProviderErrorKind.SERVER
    fake.inject(Route.LIST_CHAT, Fault.rate_limit(1))
    with pytest.raises(ProviderError) as limited:
        await provider.list_stored_completions(model=MODEL)
    assert limited.value.kind is ProviderErrorKind.RATE_LIMITED


async def test_stored_completions_filtered_with_their_messages(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.add_model(MODEL, owned_by="system")
    fake.add_model("gpt-4o-2024-08-06", owned_by="system")
    for i in range(25):
        await provider.chat(
            MODEL,
            (ChatMessage(role="user", content=f"question {i}"),),
            store=True,
            metadata={"app": "support" if i % 5 else "sales"},
        )
    await provider.chat(
        "gpt-4o-2024-08-06", (ChatMessage(role="user", content="other"),), store=True
    )
    found = await provider.list_stored_completions(
        model=MODEL, metadata={"app": "support"}, limit=100
    )
    assert len(found) == 20, "paged past the default 20 and filtered"
    assert found[0].messages == (ChatMessage(role="user", content="question 24"),)
    assert found[0].answer == "echo: question 24"
    assert dict(found[0].metadata) == {"app": "support"}
    listed = fake.requests_to(Route.LIST_CHAT)
    assert listed[0].query["order"] == "desc"
    assert listed[0].query["metadata[app]"] == "support"
    capped = await provider.list_stored_completions(model=MODEL, limit=3)
    assert [c.messages[0].content for c in capped] == ["question 24", "question 23", "question 22"]
    future = datetime.fromtimestamp(fake.now() + 10, UTC)
    assert await provider.list_stored_completions(model=MODEL, since=future) == []


async def test_file_content_round_trips(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    file = fake.add_file("valid.jsonl", b'{"messages": []}\n')
    assert await provider.file_content(file["id"]) == b'{"messages": []}\n'
