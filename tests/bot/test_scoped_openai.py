"""Adapter tests: a team's tag-scoped view of a shared OpenAI-compatible account (the real SDK,
the fake server): another team's model is neither offered nor answered, whatever its name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.providers.openai.provider import OpenAIProvider
from handlers.model import Job, Platform, Role, Team
from handlers.replies import Tone
from handlers.scope import TEAM_KEY, SharedProviderDirectory
from handlers.service import Service
from tests.dbutil import open_store
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI, Route
from tests.world import FakeCharts, actor

API_KEY = "sk-test-scoped-0123456789"
BASE = "gpt-4o-mini-2024-07-18"
AZURE_STYLE = f"{BASE}.ft-0e208cf33a6a466994aff31a08aba678"
"""Azure names a fine-tuned model `<base>.ft-<id>`: it passes every base-model prefix test."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=API_KEY) as server:
        yield server
    assert server.errors == []


async def test_another_teams_model_named_like_a_base_is_never_offered_or_called(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = ManualClock()
    job = fake.add_job(status="succeeded", metadata={TEAM_KEY: "slack:T1", "ftbot": "default"})
    job["fine_tuned_model"] = AZURE_STYLE
    fake.add_model(AZURE_STYLE)
    async with (
        OpenAIProvider.openai(API_KEY, base_url=fake.base_url, max_retries=0) as provider,
        open_store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", clock=clock) as store,
    ):
        service = Service(
            store=store,
            watch_store=store,
            providers=SharedProviderDirectory(provider),
            clock=clock,
            charts=FakeCharts(),
            default_role=Role.OPERATOR,
        )
        await store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))
        state = await provider.get_job(job["id"])
        await store.add_job(Job(team_id="slack:T1", state=state), next_poll_at=None)
        offered = await service.fine_tunable_models(actor("T2"))
        assert BASE in offered
        assert AZURE_STYLE not in offered
        refused = await service.handle_text(f"try {AZURE_STYLE} hello", actor("T2"))
        assert refused.tone is Tone.ERROR
        assert fake.requests_to(Route.CHAT) == []
        # The owner still reaches it: ownership is the job's tag, not the name.
        assert AZURE_STYLE in await service.fine_tunable_models(actor("T1"))
        answered = await service.handle_text(f"try {AZURE_STYLE} hello", actor("T1"))
        assert answered.title == f"{AZURE_STYLE} answered", answered
        assert len(fake.requests_to(Route.CHAT)) == 1
