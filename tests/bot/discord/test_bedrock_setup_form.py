"""Discord's setup form for an Amazon Bedrock account: `/finetune team setup provider=bedrock`
opens its five fields (the real discord.py client against the fake gateway), and what is
submitted is checked against moto's S3 and the Bedrock fake before it is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.providers.bedrock.factory import BedrockCredentialsChecker, TeamProviderBuilder
from storage import crypto
from tests.bot.discord.harness import running_adapter
from tests.fakes.bedrock_server import ACCESS_KEY, BUCKET, ROLE, SECRET_KEY, FakeBedrock
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, FakeDiscord
from tests.world import world


@pytest.fixture
def encryption() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


async def _answer(fake: FakeDiscord, submitted: str) -> Any:
    answer = await fake.wait_callback(submitted)
    if answer.json["type"] == 5:
        return await fake.wait_followup(submitted)
    return answer.json["data"]


@pytest.mark.usefixtures("encryption")
async def test_setup_provider_bedrock_opens_its_five_fields_and_checks_them(
    tmp_path: Path,
) -> None:
    async with FakeBedrock(clock=time.time) as bedrock:
        checker = BedrockCredentialsChecker(TeamProviderBuilder(endpoints=bedrock.endpoints()))
        async with (
            FakeDiscord() as fake,
            world(tmp_path, keys=checker) as w,
            running_adapter(fake, w, tmp_path),
        ):
            opened = await fake.command("team setup", {"provider": "bedrock"})
            form = (await fake.wait_callback(opened)).json["data"]
            inputs = {c["custom_id"]: c for row in form["components"] for c in row["components"]}
            assert list(inputs) == [
                "setup:key",
                "setup:secret_access_key",
                "setup:region",
                "setup:role_arn",
                "setup:bucket",
            ]
            assert inputs["setup:region"].get("value") == "us-east-1"
            values = {
                "setup:key": ACCESS_KEY,
                "setup:secret_access_key": SECRET_KEY,
                "setup:role_arn": ROLE,
                "setup:bucket": f"{BUCKET}/discord/",
            }

            refused = await _answer(
                fake, await fake.submit_modal(form, {**values, "setup:region": "eu-west-3"})
            )
            assert "no model in eu-west-3" in json.dumps(refused)
            team = f"discord:{GUILD_A.id}"
            assert await w.store.get_credentials(team, "bedrock") is None

            # A modal answers once: the admin opens the form again.
            again = await fake.command("team setup", {"provider": "bedrock"})
            form = (await fake.wait_callback(again)).json["data"]
            message = await _answer(fake, await fake.submit_modal(form, values))
            assert message["flags"] & EPHEMERAL
            assert SECRET_KEY not in json.dumps(message)
            assert message["embeds"][0]["title"] == (
                "This team now uses its own Amazon Bedrock account."
            )
            stored = await w.store.get_credentials(team, "bedrock")
            assert stored is not None
            assert stored.settings == {
                "region": "us-east-1",
                "role_arn": ROLE,
                "bucket": f"{BUCKET}/discord/",
            }
            assert SECRET_KEY not in json.dumps(dict(stored.settings))
