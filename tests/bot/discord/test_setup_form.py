"""Discord's setup form goes through the same endpoint check as Slack's: the real discord.py
client against the fake gateway, a refused endpoint gets the one reply, nothing is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.openai.factory import OpenAIKeyChecker
from bot.providers.vertex.factory import TeamProviderBuilder, VertexKeyChecker
from handlers.governance import SETUP_REFUSED
from storage import crypto
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, FakeDiscord
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator, gcs_reader
from tests.fakes.google_accounts import service_account
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.vertex_server import FakeVertex
from tests.world import world

TEAM_KEY = "sk-proj-TeamOwnKey" + "d4Qv" * 10


@pytest.fixture
def encryption() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.mark.usefixtures("encryption")
async def test_discord_setup_form_refuses_private_endpoints_with_the_one_reply(
    tmp_path: Path,
) -> None:
    async with (
        FakeOpenAI(api_key=TEAM_KEY) as openai,
        FakeDiscord() as fake,
        world(tmp_path, keys=OpenAIKeyChecker(EndpointPolicy())) as w,
        running_adapter(fake, w, tmp_path),
    ):
        replies = []
        for endpoint in (
            f"https://localhost:{openai.port}/v1",
            openai.base_url,
            f"https://127.0.0.1:{openai.port}/v1?token=abc",
        ):
            opened = await fake.command("team setup", {})
            form = (await fake.wait_callback(opened)).json["data"]
            submitted = await fake.submit_modal(
                form,
                {
                    "setup:provider": "compatible",
                    "setup:key": TEAM_KEY,
                    "setup:endpoint": endpoint,
                },
            )
            answer = await fake.wait_callback(submitted)
            if answer.json["type"] == 5:  # deferred: the answer is the follow-up
                message = await fake.wait_followup(submitted)
            else:
                message = answer.json["data"]
            assert message["flags"] & EPHEMERAL
            replies.append(message["embeds"][0]["title"])
        assert replies == [SETUP_REFUSED] * 3
        assert await w.store.get_credentials(f"discord:{GUILD_A.id}") is None
        assert openai.requests == []


@pytest.mark.usefixtures("encryption")
async def test_setup_provider_opens_that_accounts_own_fields_and_stores_them(
    tmp_path: Path,
) -> None:
    """`/finetune team setup provider=vertex`: a modal of Vertex's five fields (the bare form
    cannot hold every kind's), submitted into a service account checked against the fakes."""
    account = service_account(project="acme-ml")
    with gcs_emulator("acme-ftbot") as storage_url:
        read = gcs_reader(gcs_client(storage_url))
        async with FakeVertex(
            token="ya29.discord-setup-0123456789", read=read, clock=time.time
        ) as vertex:
            vertex.service_accounts[account.email] = account.public_pem
            builder = TeamProviderBuilder(
                EndpointPolicy(),
                base_url=vertex.base_url,
                storage_url=storage_url,
                token_uri=vertex.token_uri,
            )
            async with (
                FakeDiscord() as fake,
                world(tmp_path, keys=VertexKeyChecker(builder)) as w,
                running_adapter(fake, w, tmp_path),
            ):
                opened = await fake.command("team setup", {"provider": "vertex"})
                form = (await fake.wait_callback(opened)).json["data"]
                inputs = {
                    c["custom_id"]: c for row in form["components"] for c in row["components"]
                }
                assert list(inputs) == [
                    "setup:service_account",
                    "setup:project",
                    "setup:region",
                    "setup:bucket",
                    "setup:prefix",
                ]
                assert inputs["setup:service_account"]["style"] == 2  # a paragraph
                assert inputs["setup:region"].get("value") == "us-central1"
                assert not inputs["setup:service_account"].get("value")
                submitted = await fake.submit_modal(
                    form,
                    {
                        "setup:service_account": account.key_file,
                        "setup:project": "acme-ml",
                        "setup:bucket": "acme-ftbot",
                    },
                )
                answer = await fake.wait_callback(submitted)
                if answer.json["type"] == 5:
                    message = await fake.wait_followup(submitted)
                else:
                    message = answer.json["data"]
                assert message["flags"] & EPHEMERAL
                assert "PRIVATE KEY" not in json.dumps(message)
                assert message["embeds"][0]["title"] == (
                    "This team now uses its own Vertex AI account."
                )
                stored = await w.store.get_credentials(f"discord:{GUILD_A.id}", "vertex")
                assert stored is not None
                assert stored.settings == {
                    "project": "acme-ml",
                    "region": "us-central1",
                    "bucket": "acme-ftbot",
                    "prefix": "finetune-bot/",
                }
