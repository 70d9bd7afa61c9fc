"""The real discord.py client: files come as attachments (validate too), the role check comes
before any download or form, and downloads live 0600 in the bot's own directory, briefly."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.chat import tempfiles
from handlers.model import Role
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, MEMBER_PERMS, Attachment, FakeDiscord
from tests.world import World, chat_example, world

TEAM = f"discord:{GUILD_A.id}"
MEMBER = "500000000000000077"


@dataclass
class Env:
    fake: FakeDiscord
    w: World
    scratch: Path


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    # The bot's private directory lives under the system temp dir: point that at tmp_path.
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        yield tempfiles.private_dir()
    finally:
        tempfile.tempdir = before


@pytest.fixture
async def env(tmp_path: Path, scratch: Path) -> AsyncIterator[Env]:
    async with (
        FakeDiscord() as fake,
        world(tmp_path, default_role=Role.VIEWER) as w,
        running_adapter(fake, w, tmp_path),
    ):
        yield Env(fake, w, scratch)


def dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


def data_of(callback: Any) -> dict[str, Any]:
    result: dict[str, Any] = callback.json["data"]
    return result


async def test_a_member_without_manage_server_never_sees_the_setup_form(env: Env) -> None:
    iid = await env.fake.command("team setup", {}, user_id=MEMBER, perms=MEMBER_PERMS)
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4  # a message, not the modal (9)
    assert data_of(callback)["flags"] == EPHEMERAL
    assert "needs the admin role" in data_of(callback)["embeds"][0]["title"]
    (entry,) = await env.w.store.list_audit(TEAM)
    assert (entry.command, entry.user_id) == ("setup", MEMBER)


async def test_a_viewer_never_sees_the_start_form(env: Env) -> None:
    iid = await env.fake.command("start", {"epochs": 2}, user_id=MEMBER, perms=MEMBER_PERMS)
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert data_of(callback)["flags"] == EPHEMERAL
    assert "needs the operator role" in data_of(callback)["embeds"][0]["title"]


async def test_a_viewer_upload_is_refused_before_the_attachment_is_downloaded(env: Env) -> None:
    iid = await env.fake.command(
        "upload",
        {"file": Attachment("train.jsonl", dataset()), "alias": "t"},
        user_id=MEMBER,
        perms=MEMBER_PERMS,
    )
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4  # one private answer, not a public "thinking…"
    assert data_of(callback)["flags"] == EPHEMERAL
    assert "needs the operator role" in data_of(callback)["embeds"][0]["title"]
    assert env.fake.cdn_fetches == []
    assert await env.w.store.list_files(TEAM) == []


async def test_validate_takes_attachments_and_leaves_no_file(env: Env) -> None:
    iid = await env.fake.command(
        "validate",
        {
            "file": Attachment("train.jsonl", dataset(20)),
            "validation": Attachment("valid.jsonl", dataset(5)),
        },
        user_id=MEMBER,
        perms=MEMBER_PERMS,  # a viewer may validate
    )
    message = await env.fake.wait_followup(iid)
    shown = message["embeds"][0]
    assert shown["title"].startswith("train.jsonl is ready for fine-tuning"), shown
    assert "Validation file valid.jsonl" in str(shown)
    assert len(env.fake.cdn_fetches) == 2
    assert list(env.scratch.iterdir()) == []
    assert stat.S_IMODE(env.scratch.stat().st_mode) == 0o700
    # Nothing went to the system temp dir itself (the test points it at its own directory).
    assert list(env.scratch.parent.glob("ftbot-*.jsonl")) == []
    assert await env.w.store.list_files(TEAM) == []


async def test_an_attached_text_file_is_refused_by_name_before_it_is_fetched(env: Env) -> None:
    notes = b"Reset the router first.\nThen call support.\n"
    iid = await env.fake.command(
        "upload",
        {"file": Attachment("notes.txt", notes), "alias": "notes", "force": "yes"},
    )
    answer = await env.fake.wait_callback(iid)  # answered at once: nothing to fetch
    shown = answer.json["data"]["embeds"][0]
    assert shown["title"].startswith("notes.txt is not a .jsonl file: fine-tuning data is"), shown
    assert env.fake.cdn_fetches == [], "refused before the attachment was fetched"
    assert await env.w.store.list_files(TEAM) == []


async def test_upload_keeps_force_and_format(env: Env) -> None:
    broken = dataset(12) + b'{"messages": [{"role": "user", "content": "no answer"}]}\n'
    iid = await env.fake.command(
        "upload",
        {"file": Attachment("bad.jsonl", broken), "alias": "bad", "force": "yes"},
    )
    message = await env.fake.wait_followup(iid)
    assert message["embeds"][0]["title"] == "Uploaded bad.jsonl as 'bad'", message
    assert "force=yes" in str(message["embeds"][0])
