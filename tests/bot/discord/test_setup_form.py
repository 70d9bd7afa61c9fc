"""Discord's setup form goes through the same endpoint check as Slack's: the real discord.py
client against the fake gateway, a refused endpoint gets the one reply, nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.openai.factory import OpenAIKeyChecker
from handlers.governance import SETUP_REFUSED
from storage import crypto
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
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
