"""Team keys at rest in the SQL store: encrypted in the table and the database files, and a
ciphertext copied to another team's row is refused (the rows themselves, so SQLite only; the
same flows on the in-memory store are in tests/handlers/test_governance.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from handlers.governance import SETUP_REFUSED
from handlers.model import Role
from handlers.replies import Tone, Visibility
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from storage.store import SqlStore
from tests.handlers.test_governance import BAD_KEY, GOOD_KEY, FakeKeys, admin
from tests.world import World, actor, world


@pytest.fixture
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def w(tmp_path: Path, ring: None) -> AsyncIterator[World]:
    async with world(tmp_path, default_role=Role.VIEWER, keys=FakeKeys()) as built:
        yield built  # tests/world.py opens SQLite outside tests/handlers


async def test_setup_checks_shape_then_provider_then_stores_encrypted(
    w: World, tmp_path: Path
) -> None:
    def setup(key: str, provider: str = "openai") -> SetupRequest:
        return SetupRequest(provider=provider, api_key=Secret(key))

    wrong_shape = await w.service.handle(setup("pk-" + "x" * 30), admin())
    assert "not an OpenAI API key" in wrong_shape.title
    assert "pk-" not in wrong_shape.title
    azure = await w.service.handle(setup("12345", "azure"), admin())
    assert "not an Azure OpenAI key" in azure.title
    assert "12345" not in azure.title
    refused = await w.service.handle(setup(BAD_KEY), admin())
    assert refused.title == SETUP_REFUSED
    assert BAD_KEY not in refused.title
    assert await w.store.get_credentials("slack:T1") is None
    denied = await w.service.handle(setup(GOOD_KEY), actor(user="UV"))
    assert "needs the admin role" in denied.title

    saved = await w.service.handle(setup(GOOD_KEY), admin())
    assert saved.tone is Tone.SUCCESS
    assert saved.visibility is Visibility.EPHEMERAL
    stored = await w.store.get_credentials("slack:T1")
    assert stored is not None
    assert stored.api_key.reveal() == GOOD_KEY
    shown = await w.run("setup show", admin())
    assert stored.fingerprint in str(shown.table)
    assert GOOD_KEY not in str(shown)

    assert isinstance(w.store, SqlStore)
    async with w.store.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT secret FROM team_credentials"))).scalar()
        audit = (await conn.execute(text("SELECT arguments FROM audit"))).scalars().all()
    assert GOOD_KEY not in str(raw)
    assert str(raw).startswith("gAAAA")
    assert all(GOOD_KEY not in a and BAD_KEY not in a for a in audit)
    files = await asyncio.to_thread(lambda: [p.read_bytes() for p in tmp_path.glob("bot.db*")])
    assert files
    assert all(GOOD_KEY.encode() not in data for data in files)
    assert repr(stored).count(GOOD_KEY) == 0

    assert (await w.run("setup remove", admin())).tone is Tone.SUCCESS
    assert await w.store.get_credentials("slack:T1") is None


async def test_a_ciphertext_copied_to_another_team_is_refused(w: World) -> None:
    await w.service.handle(SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin("T1"))
    await w.service.handle(SetupRequest(provider="openai", api_key=Secret(GOOD_KEY)), admin("T2"))
    assert isinstance(w.store, SqlStore)
    async with w.store.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE team_credentials SET secret = (SELECT secret FROM team_credentials "
                "WHERE team_id = 'slack:T1') WHERE team_id = 'slack:T2'"
            )
        )
    assert await w.store.get_credentials("slack:T1") is not None
    with pytest.raises(crypto.SecretUnreadableError):
        await w.store.get_credentials("slack:T2")
