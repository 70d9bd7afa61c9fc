"""On Discord a validate report leads with what to fix and names a CSV or a wrong format, through
the real discord.py client against the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import Attachment, FakeDiscord
from tests.world import chat_example, world


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake, world(tmp_path) as w, running_adapter(fake, w, tmp_path):
        yield fake


async def _report(fake: FakeDiscord, name: str, content: bytes, **values: Any) -> str:
    iid = await fake.command("validate", {"file": Attachment(name, content), **values})
    embed = (await fake.wait_followup(iid))["embeds"][0]
    return f"{embed['title']}\n{embed.get('description', '')}"


async def test_errors_come_first_and_csv_and_formats_are_named(fake: FakeDiscord) -> None:
    lines = [chat_example(i) for i in range(12)]
    lines.insert(1, "{oops")
    report = await _report(fake, "broken.jsonl", ("\n".join(lines) + "\n").encode())
    assert "1 error to fix" in report
    assert report.index("line 2: ") < report.index("Format: chat")
    assert "(s)" not in report
    csv = await _report(fake, "rows.jsonl", b"prompt,completion\nHi,Hello\n")
    assert "this looks like CSV" in csv
    assert "Billed tokens" not in csv
    wrong = await _report(
        fake, "chat.jsonl", ("\n".join(lines[2:]) + "\n").encode(), format="preference"
    )
    assert "this is a chat file; drop format=preference" in wrong
