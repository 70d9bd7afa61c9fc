"""The real discord.py client against the fake gateway and REST: a prompt and a model's answer
reading @everyone, @here, a role or a user mention reach the channel as words with nothing
allowed to ping; a job notice allows exactly its requester, whatever the provider wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.cards import completion_notice
from handlers.model import ChannelAddress, Job, JobState, Platform
from handlers.profile import Capability, JobStatus
from tests.bot.discord.harness import running_adapter
from tests.bot.markup import assert_discord_inert, json_strings
from tests.e2e.test_discord_e2e import MODEL, USER
from tests.fakes.clock import T0
from tests.fakes.discord_api import GUILD_A, FakeDiscord
from tests.world import world

pytestmark = [pytest.mark.e2e]

ROLE = "300000000000000001"
OTHER = "400000000000000001"
HOSTILE = f"@everyone @here <@&{ROLE}> <@{OTHER}> <@!{OTHER}> **bold** `code`"


def _texts(message: dict[str, object]) -> list[str]:
    embeds = json_strings(message.get("embeds") or [])
    return [str(message.get("content") or ""), *(t for k, t in embeds if k not in ("type", "url"))]


async def test_try_and_a_job_notice_ping_no_one_but_the_requester(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        iid = await fake.command("try", {"model": MODEL, "prompt": HOSTILE})
        answered = await fake.wait_followup(iid)
        assert answered["_allowed_mentions"] == {"parse": []}, "nothing may ping"
        description = answered["embeds"][0]["description"]
        assert f"Prompt: @\u200beveryone @\u200bhere <\u200b@&{ROLE}>" in description
        assert r"\*\*bold\*\* \`code\`" in description
        assert_discord_inert(_texts(answered))

        state = JobState(
            id="ftjob-1",
            model=MODEL,
            status=JobStatus.FAILED,
            created_at=T0,
            training_file="file-1",
            error=f"invalid file: {HOSTILE}",
        )
        job = Job(
            team_id=f"discord:{GUILD_A.id}",
            state=state,
            channel=ChannelAddress(
                platform=Platform.DISCORD,
                workspace_id=GUILD_A.id,
                channel_id=GUILD_A.channel_id,
            ),
            requester_id=USER,
        )
        assert job.channel is not None
        posted = await adapter.notifier.post(
            job.channel,
            completion_notice(job, [], None, capabilities=frozenset(Capability)),
            dedupe_key="ftjob-1:status:failed",
        )
        sent = fake.messages[posted]
        assert sent["_allowed_mentions"] == {"parse": [], "users": [int(USER)]}
        assert sent["content"] == f"<@{USER}>"
        assert_discord_inert(_texts(sent), users={USER})
