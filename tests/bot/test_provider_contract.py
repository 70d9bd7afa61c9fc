"""Adapter tests: the OpenAI provider trusts the server only as far as openai-openapi.yml says:
empty choice lists, cursors that never advance, endless lists and file-less uploads end in a
bounded number of requests and one clear ProviderAnswerError (the real SDK, the fake server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.providers.openai.provider import MAX_PAGES, OpenAIProvider
from handlers.chat import ChatMessage
from handlers.errors import FineTuneError, ProviderAnswerError, ProviderErrorKind
from handlers.model import Job, Platform, Role, Team
from handlers.replies import Tone
from handlers.scope import SharedProviderDirectory
from handlers.service import Service
from tests.bot.test_uploads import big_file
from tests.dbutil import open_store
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI, Route
from tests.world import FakeCharts, actor

API_KEY = "sk-test-contract-0123456789"
MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=API_KEY) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def provider(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    async with OpenAIProvider.openai(
        API_KEY, base_url=fake.base_url, timeout=5, max_retries=0, max_scan_pages=4
    ) as built:
        yield built


async def answer_error(call: Awaitable[object]) -> ProviderAnswerError:
    with pytest.raises(ProviderAnswerError) as caught:
        await call
    error = caught.value
    assert isinstance(error, FineTuneError)  # adapters show its message as it is
    assert error.kind is ProviderErrorKind.INVALID_RESPONSE
    assert error.message.startswith("The provider's answer could not be used: ")
    assert API_KEY not in error.message
    return error


async def test_a_chat_answer_without_choices_is_a_clear_error(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    fake.add_model(MODEL, owned_by="system")
    fake.empty_choices = True
    error = await answer_error(provider.chat(MODEL, (ChatMessage(role="user", content="hi"),)))
    assert f"{MODEL} sent a chat completion with no choices" in error.message
    assert len(fake.requests_to(Route.CHAT)) == 1


def _stuck_lists(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> dict[str, tuple[str, Callable[[], Awaitable[object]]]]:
    """Each paged read of the provider, with the route it pages and what its error names."""
    job = fake.add_job(status="running", metadata={"ftbot": "default"})
    fake.add_events(job["id"], [f"Step {i}" for i in range(3)])
    fake.add_checkpoint(job["id"], 10)
    fake.add_file("train.jsonl")
    fake.add_model(MODEL, owned_by="system")
    fake.chat_completions["chatcmpl-x"] = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": fake.now(),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "ok", "refusal": None},
            }
        ],
        "metadata": {},
        "_messages": [{"role": "user", "content": "hi"}],
    }
    return {
        "checkpoints": (
            Route.LIST_CHECKPOINTS,
            lambda: provider.list_checkpoints(job["id"]),
        ),
        "events": (Route.LIST_EVENTS, lambda: provider.list_events_after(job["id"], None)),
        "fine-tuning jobs": (Route.LIST_JOBS, lambda: provider.list_jobs(limit=5)),
        "files": (Route.LIST_FILES, provider.list_files),
        "models": (Route.LIST_MODELS, provider.list_models),
        "stored chat completions": (Route.LIST_CHAT, provider.list_stored_completions),
        "messages of stored completion": (Route.CHAT_MESSAGES, provider.list_stored_completions),
    }


@pytest.mark.parametrize(
    "what",
    [
        "checkpoints",
        "events",
        "fine-tuning jobs",
        "files",
        "models",
        "stored chat completions",
        "messages of stored completion",
    ],
)
async def test_a_cursor_that_does_not_advance_stops_every_list(
    fake: FakeOpenAI, provider: OpenAIProvider, what: str
) -> None:
    route, call = _stuck_lists(fake, provider)[what]
    fake.stuck_cursor.add(route)
    error = await answer_error(call())
    assert f"the {what}" in error.message
    assert "has_more=true" in error.message
    assert "again" in error.message
    # The first page, then the same cursor once more: never 10,000 requests.
    assert len(fake.requests_to(route)) == 2


async def test_stored_completions_a_filter_rejecting_everything_ends_at_the_scan_cap(
    fake: FakeOpenAI, provider: OpenAIProvider
) -> None:
    """A compatible server that ignores the metadata filter and holds many other completions:
    the scan stops at its page cap with nothing found, it does not walk forever."""
    fake.ignore_metadata_filter = True
    for i in range(60):
        fake.chat_completions[f"chatcmpl-{i:03d}"] = {
            "id": f"chatcmpl-{i:03d}",
            "object": "chat.completion",
            "created": fake.now(),
            "model": MODEL,
            "choices": [],
            "metadata": {"ftbot_team": "slack:T1"},
            "_messages": [],
        }
    found = await provider.list_stored_completions(metadata={"ftbot_team": "slack:T2"}, limit=5)
    assert found == []
    assert len(fake.requests_to(Route.LIST_CHAT)) == 4  # max_scan_pages
    assert fake.requests_to(Route.CHAT_MESSAGES) == []


async def test_a_list_longer_than_the_page_cap_is_a_clear_error(fake: FakeOpenAI) -> None:
    job = fake.add_job(status="running")
    for step in range(30):  # the fake pages checkpoints 10 at a time: three pages
        fake.add_checkpoint(job["id"], step)
    async with OpenAIProvider.openai(
        API_KEY, base_url=fake.base_url, timeout=5, max_retries=0, max_pages=2
    ) as provider:
        error = await answer_error(provider.list_checkpoints(job["id"]))
    assert "the checkpoints of" in error.message
    assert "still had more after 2 pages" in error.message
    assert len(fake.requests_to(Route.LIST_CHECKPOINTS)) == 2
    assert MAX_PAGES == 100  # the default cap


async def test_a_completed_upload_without_its_file_is_cancelled_and_named(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    path = big_file(tmp_path, 2 << 20)
    fake.upload_without_file = True
    async with OpenAIProvider.openai(
        API_KEY,
        base_url=fake.base_url,
        timeout=5,
        max_retries=0,
        chunked_threshold=1 << 20,
        part_bytes=512 << 10,
    ) as provider:
        error = await answer_error(provider.upload_file(path, filename="big.jsonl"))
    (upload_id,) = fake.uploads
    assert f"upload {upload_id} of big.jsonl came back completed" in error.message
    assert "file: null" in error.message
    assert "upload the file again" in error.message
    (cancel,) = fake.requests_to(Route.CANCEL_UPLOAD)
    assert cancel.path == f"/uploads/{upload_id}/cancel"


async def test_the_user_gets_the_reply_not_something_went_wrong(
    fake: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path
) -> None:
    """Through the service: an empty choice list and an endless checkpoint list are each one
    plain reply naming what the provider sent, after a bounded number of requests."""
    clock = ManualClock()
    fake.add_model(MODEL, owned_by="system")
    async with open_store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", clock=clock) as store:
        service = Service(
            store=store,
            watch_store=store,
            providers=SharedProviderDirectory(provider),
            clock=clock,
            charts=FakeCharts(),
            default_role=Role.OPERATOR,
        )
        fake.empty_choices = True
        answered = await service.handle_text(f"try {MODEL} hello", actor())
        assert answered.tone is Tone.ERROR
        assert answered.title == (
            f"The provider's answer could not be used: {MODEL} sent a chat completion with no "
            "choices in it."
        )
        job = fake.add_job(status="running")
        fake.add_checkpoint(job["id"], 10)
        state = await provider.get_job(job["id"])
        await store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))
        await store.add_job(Job(team_id="slack:T1", state=state), next_poll_at=None)
        fake.stuck_cursor.add(Route.LIST_CHECKPOINTS)
        listed = await service.handle_text(f"checkpoints {job['id']}", actor())
        assert listed.tone is Tone.ERROR
        assert "has_more=true" in listed.title
        assert "Something went wrong" not in listed.title
        assert len(fake.requests_to(Route.LIST_CHECKPOINTS)) == 2
