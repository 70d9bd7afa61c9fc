"""The audit log names a chat file as its sharer called it, never by the bot's temp file."""

from __future__ import annotations

from pathlib import Path

from handlers.replies import Tone, plain
from handlers.requests import UploadRequest, ValidateRequest
from handlers.sources import PrivateFile
from tests.world import actor, world

TEMP_NAME = "ftbot-4242-Zq81.jsonl"
"""How an adapter names its private download (bot/chat/tempfiles.py)."""


async def test_an_unreadable_chat_file_is_named_as_shared_in_reply_and_audit(
    tmp_path: Path,
) -> None:
    # /proc/self/mem claims to be a regular file and fails every read: a download that
    # cannot be read back, under the temp name an adapter gives it.
    private = tmp_path / "ftbot-tmp-0"
    private.mkdir()
    (private / TEMP_NAME).symlink_to("/proc/self/mem")
    shared = PrivateFile(path=private / TEMP_NAME, name="train.jsonl")
    async with world(tmp_path) as w:
        who = actor()
        replies = [
            await w.service.handle(ValidateRequest(file=shared), who),
            await w.service.handle(UploadRequest(file=shared), who),
        ]
        entries = await w.store.list_audit(who.team_id, limit=10)
    for reply in replies:
        assert reply.tone is Tone.ERROR
        assert "Could not read train.jsonl" in plain(reply.title), reply
    audited = " ".join(f"{e.arguments} {e.result}" for e in entries)
    assert "train.jsonl" in audited
    assert "ftbot-" not in audited
    assert str(tmp_path) not in audited
