"""Evaluate and try on Discord: the completion notice's persistent Try and Compare buttons,
the comparison's CSV file, `try` and `dataset from-logs` as typed slash-command options."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from handlers.chat import ChatMessage
from handlers.scope import TEAM_KEY
from tests.bot.discord.harness import discord_dispatcher, running_adapter
from tests.e2e.job_messages import is_notice
from tests.e2e.test_discord_e2e import MODEL, settle, title
from tests.fakes.discord_api import GUILD_A, GUILD_B, Attachment, FakeDiscord
from tests.world import chat_example, world

pytestmark = [pytest.mark.e2e]


def _jsonl(numbers: range) -> bytes:
    return ("\n".join(chat_example(i) for i in numbers) + "\n").encode()


async def test_try_compare_and_dataset_on_discord(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        dispatcher = discord_dispatcher(w, adapter)
        for alias, numbers in (("train", range(20)), ("valid", range(5, 16))):
            iid = await fake.command(
                "upload",
                {"file": Attachment(f"{alias}.jsonl", _jsonl(numbers)), "alias": alias},
            )
            assert title(await fake.wait_followup(iid)).startswith("Uploaded")
        iid = await fake.command(
            "start", {"file": "train", "validation": "valid", "model": MODEL, "epochs": 1}
        )
        job_id = title(await fake.wait_followup(iid)).removeprefix("Started ")
        await settle(w, dispatcher, 150)
        (notice,) = [
            m
            for m in fake.channel_messages(GUILD_A.channel_id)
            if is_notice(m, job_id, "succeeded")
        ]
        ids = [c["custom_id"] for row in notice["components"] for c in row["components"]]
        assert f"ftbot:try:{job_id}" in ids
        assert f"ftbot:compare:{job_id}" in ids

        iid = await fake.press(notice, f"ftbot:try:{job_id}")
        tried = await fake.wait_followup(iid)
        assert title(tried).endswith(" answered")

        iid = await fake.press(notice, f"ftbot:compare:{job_id}")
        compared = await fake.wait_followup(iid, within=20)
        assert "11/11 examples of 'valid'" in title(compared)
        (name,) = list(compared["_files"])
        assert name.startswith("cmp-")
        assert name.endswith(".csv")
        content = compared["_files"][name]
        assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for spreadsheets"
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        assert len(rows) == 22
        assert "line" in rows[0]
        assert "Scores: exact match: the answer is the reference" in str(compared["embeds"])

        # Another guild's model reads as unknown.
        iid = await fake.command("try", {"model": job_id, "prompt": "hi"}, guild=GUILD_B)
        assert title(await fake.wait_followup(iid)).startswith("No model")

        for i in range(12):
            await w.provider.chat(
                MODEL,
                (ChatMessage(role="user", content=f"Where is parcel {i}?"),),
                store=True,
                # The shared account's logs: only what carries the team's tag is its own.
                metadata={"app": "support", TEAM_KEY: f"discord:{GUILD_A.id}"},
            )
        iid = await fake.command(
            "dataset", {"action": "from-logs", "model": MODEL, "meta": "app=support"}
        )
        draft = await fake.wait_followup(iid)
        assert title(draft).startswith("Draft ds-")
        draft_id = title(draft).split()[1].rstrip(":")
        iid = await fake.press(draft, f"ftbot:dataset:{draft_id}")
        assert title(await fake.wait_followup(iid)).startswith("Uploaded from-logs-")
