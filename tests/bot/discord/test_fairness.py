"""Discord and the long-task limit: a team at its limit has an upload refused at once, before
the attachment is downloaded; once the slot is free the same upload runs."""

from __future__ import annotations

from pathlib import Path

from handlers.fairness import LongWork
from handlers.model import Platform, team_id_for
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import GUILD_A, Attachment, FakeDiscord
from tests.world import chat_example, world


async def test_an_upload_over_the_team_limit_is_refused_before_the_download(
    tmp_path: Path,
) -> None:
    content = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()
    async with (
        FakeDiscord() as fake,
        world(tmp_path, long_work=LongWork(per_team=1, total=4)) as w,
        running_adapter(fake, w, tmp_path),
    ):
        team = team_id_for(Platform.DISCORD, GUILD_A.id)
        running = w.service.long_work.claim(team)  # the team's one long task, still running
        iid = await fake.command(
            "upload", {"file": Attachment("train.jsonl", content), "alias": "train"}
        )
        refused = (await fake.wait_followup(iid))["embeds"][0]["title"]
        assert refused.startswith("1 long task of this team is running")
        assert await w.store.list_files(team) == []
        assert fake.cdn_fetches == []  # refused before the attachment was fetched

        running.release()
        iid = await fake.command(
            "upload", {"file": Attachment("train.jsonl", content), "alias": "train"}
        )
        assert (await fake.wait_followup(iid))["embeds"][0]["title"].startswith("Uploaded")
        assert w.service.long_work.running() == 0
        assert len(fake.cdn_fetches) == 1
