"""Bad input at Azure OpenAI and Nebius Token Factory, through the core with the real SDKs
against the fakes: a wrong key or endpoint is one message to the admin and nothing is stored;
an option the family does not take is one reply naming it, the family and what it takes, and
nothing is created at the provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.governance import SETUP_REFUSED
from handlers.model import Actor
from handlers.replies import Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.e2e.test_migration_azure_nebius import (
    AZURE_KEY,
    LLAMA,
    NEBIUS_KEY,
    OPENAI_KEY,
    Fakes,
    _world,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.world import World, actor, write_dataset

pytestmark = pytest.mark.e2e
TEAM = "slack:T1"


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeOpenAI(api_key=AZURE_KEY, azure=True, first_id=1000) as azure,
        FakeOpenAI(api_key=NEBIUS_KEY, first_id=2000) as nebius,
    ):
        nebius.add_model(LLAMA, owned_by="system")
        yield Fakes(openai, azure, nebius)


async def _setup(w: World, **fields: object) -> str:
    reply = await w.service.handle(SetupRequest(**fields), admin())  # type: ignore[arg-type]
    return plain(reply.title) if reply.tone is not Tone.SUCCESS else "stored"


async def test_a_wrong_azure_key_or_endpoint_is_one_message_and_nothing_is_stored(
    tmp_path: Path, fakes: Fakes
) -> None:
    async with _world(tmp_path, fakes) as w:
        wrong_key = await _setup(
            w, provider="azure", api_key=Secret("f" * 32), endpoint=fakes.azure.azure_endpoint
        )
        wrong_endpoint = await _setup(
            w, provider="azure", api_key=Secret(AZURE_KEY), endpoint=fakes.nebius.azure_endpoint
        )
        assert wrong_key == wrong_endpoint == SETUP_REFUSED
        assert "f" * 32 not in wrong_key
        no_endpoint = await _setup(w, provider="azure", api_key=Secret(AZURE_KEY))
        assert "endpoint" in no_endpoint.lower()
        assert await w.store.list_credentials(TEAM) == []
        assert (
            await _setup(
                w, provider="azure", api_key=Secret(AZURE_KEY), endpoint=fakes.azure.azure_endpoint
            )
            == "stored"
        )
        [stored] = await w.store.list_credentials(TEAM)
        assert (stored.family, stored.api_version) == ("azure", "2025-04-01-preview")


async def test_a_wrong_nebius_key_is_one_message_and_nothing_is_stored(
    tmp_path: Path, fakes: Fakes
) -> None:
    async with _world(tmp_path, fakes) as w:
        wrong = await _setup(w, provider="nebius", api_key=Secret("nebius-" + "x" * 30))
        assert wrong == SETUP_REFUSED
        assert await w.store.list_credentials(TEAM) == []
        with_endpoint = await _setup(
            w, provider="nebius", api_key=Secret(NEBIUS_KEY), endpoint="https://example.com/v1"
        )
        assert "endpoint" in with_endpoint.lower()
        assert await w.store.list_credentials(TEAM) == []


@pytest.mark.parametrize(
    ("family", "start", "named"),
    [
        (
            "azure",
            "model=gpt-4o-mini-2024-07-18 warmup=0.1",
            "warmup is not an option Azure OpenAI supports; it supports",
        ),
        (
            "nebius",
            f"model={LLAMA} method=dpo",
            "method=dpo is not a method Nebius Token Factory supports; it supports supervised",
        ),
        (
            "nebius",
            f"model={LLAMA} checkpoints=3",
            "checkpoints is not an option Nebius Token Factory supports; it supports",
        ),
    ],
)
async def test_an_option_the_family_does_not_take_creates_nothing(
    tmp_path: Path, fakes: Fakes, family: str, start: str, named: str
) -> None:
    async with _world(tmp_path, fakes) as w:
        endpoint = {"endpoint": fakes.azure.azure_endpoint} if family == "azure" else {}
        key = AZURE_KEY if family == "azure" else NEBIUS_KEY
        assert await _setup(w, provider=family, api_key=Secret(key), **endpoint) == "stored"
        train = write_dataset(tmp_path / "train.jsonl")
        uploaded = await w.run(f"upload {train} alias=train provider={family}", actor())
        assert uploaded.tone is Tone.SUCCESS, uploaded
        refused = await w.run(f"start file=train provider={family} {start}", actor())
        assert refused.tone is Tone.ERROR, refused
        assert named in plain(refused.title)
        target = fakes.azure if family == "azure" else fakes.nebius
        assert target.jobs == {}
        assert await w.store.list_jobs(TEAM) == []


async def test_providers_shows_azures_retirement_by_model(tmp_path: Path, fakes: Fakes) -> None:
    async with _world(tmp_path, fakes) as w:
        listed = await w.run("providers", actor())
        assert listed.table is not None
        rows = {plain(row[0]).split(" ")[0]: row for row in listed.table.rows}
        assert rows["azure"][-1] == "2027-04-01"
        assert rows["nebius"][-1] == "—"
        lines = [plain(line) for line in listed.lines]
        assert (
            "Azure OpenAI: training ends no earlier than 2027-04-01 (gpt-4o-2024-08-06, "
            "gpt-4o-mini-2024-07-18); 2027-04-14 (gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14, "
            "gpt-4.1-nano-2025-04-14); 2027-04-16 (o4-mini-2025-04-16)."
        ) in lines
        assert any(line.startswith("Azure OpenAI: Azure trains OpenAI models") for line in lines)
