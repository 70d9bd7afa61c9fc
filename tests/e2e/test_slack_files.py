"""Slack files end to end (the real Bolt app, signed requests, the fake Slack): no chat text
reaches the bot's disk, validate and upload take shared files, the role check comes before any
download, options survive, and downloads are private, brief and swept at start-up."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from bot.chat import tempfiles
from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from handlers.model import ProviderFile
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    action_body,
    command_body,
    event_body,
    signed_headers,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
PASSWD_TELLS = ("root:", "bytes", "line(s)", "passwd:")


@dataclass
class Seen:
    """What the provider saw of each file handed to it: where it was and who could read it."""

    uploads: list[tuple[Path, int]] = field(default_factory=list)


class WatchingSandbox(SandboxProvider):
    def __init__(self, seen: Seen) -> None:
        super().__init__(SystemClock())
        self._seen = seen

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        self._seen.uploads.append((path.parent, _mode(path)))
        return await super().upload_file(path, filename=filename, progress=progress)


@dataclass
class Harness:
    slack: FakeSlack
    bot: RunningBot
    http: aiohttp.ClientSession
    scratch: Path
    seen: Seen

    async def post(
        self, body: str, *, content_type: str = "application/x-www-form-urlencoded"
    ) -> int:
        url = f"http://127.0.0.1:{self.bot.web.port}/slack/events"
        headers = signed_headers(body, content_type=content_type)
        async with self.http.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
            return response.status

    async def command(self, text: str, user: str = "U1") -> None:
        assert (
            await self.post(command_body(text, user=user, response_url=self.slack.response_url()))
            == 200
        )

    async def press(self, action: str, value: str, user: str = "U1") -> None:
        body = action_body(action, value, user=user, response_url=self.slack.response_url())
        assert await self.post(body) == 200

    def said(self) -> list[str]:
        """Every text the bot sent back: responses, posts and ephemerals."""
        texts = [str(r.get("text", "")) + str(r.get("blocks", "")) for r in self.slack.responses]
        for method in ("chat.postMessage", "chat.postEphemeral"):
            texts += [
                str(c.args.get("text", "")) + str(c.args.get("blocks", ""))
                for c in self.slack.of(method)
            ]
        return texts

    async def wait_said(self, needle: str, what: str) -> str:
        await self.slack.wait_for(lambda: any(needle in t for t in self.said()), what=what)
        return next(t for t in self.said() if needle in t)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        yield tempfiles.private_dir()
    finally:
        tempfile.tempdir = before


@pytest.fixture
def stale(scratch: Path) -> Path:
    """What a SIGKILLed bot left: a download named by a pid that no longer runs."""
    dead = 4_000_000  # above Linux's pid_max limit: no process has it
    path = scratch / f"ftbot-{dead}-abc123.jsonl"
    path.write_bytes(b'{"messages": "a team\'s data"}\n')
    return path


@pytest.fixture
async def harness(tmp_path: Path, scratch: Path, stale: Path) -> AsyncIterator[Harness]:
    seen = Seen()
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            default_role="viewer",
        )
        bot = await start_bot(settings, stack, provider=WatchingSandbox(seen))
        async with aiohttp.ClientSession() as http:
            yield Harness(slack=slack, bot=bot, http=http, scratch=scratch, seen=seen)


def _dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


def _audit(harness: Harness) -> Any:
    return harness.bot.runtime.store.list_audit("slack:T1", limit=50)


def _said_at_least(harness: Harness, n: int) -> Callable[[], bool]:
    return lambda: len(harness.said()) >= n


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exists(path: Path) -> bool:
    return path.exists()


async def test_start_up_swept_the_stale_download(harness: Harness, stale: Path) -> None:
    assert not _exists(stale)
    assert _mode(harness.scratch) == 0o700


@pytest.mark.parametrize("user", ["U9", "U1"])  # a viewer, a workspace admin
async def test_validate_of_a_path_is_refused_saying_how_to_share(
    harness: Harness, user: str
) -> None:
    slack = harness.slack
    slack.share_file(name="train.jsonl", content=_dataset(), user=user, channel="C1")
    for n, text in enumerate(
        (
            "validate /etc/passwd",
            "validate file=/etc/passwd model=gpt-4o-mini",
            "validate train.jsonl validation=/etc/passwd",
            "validate /proc/self/status",
        ),
        start=1,
    ):
        await harness.command(text, user=user)
        await slack.wait_for(_said_at_least(harness, n), what=text)
    said = harness.said()
    assert len(said) == 4
    for text in said:
        assert "Chat commands never read files on the bot's machine" in text
        assert "Share the .jsonl file in this channel" in text
        assert not any(tell in text for tell in PASSWD_TELLS), text
    # Neither the shared training file nor anything else was downloaded for a refusal.
    assert slack.downloads == []
    entries = [e for e in await _audit(harness) if e.command == "validate"]
    assert len(entries) == 4
    assert {e.user_id for e in entries} == {user}


async def test_validate_takes_the_newest_shared_file_or_one_by_name(harness: Harness) -> None:
    slack = harness.slack
    slack.share_file(name="old.jsonl", content=_dataset(14), user="U9", channel="C1")
    newest = slack.share_file(name="train.jsonl", content=_dataset(20), user="U9", channel="C1")
    await harness.command("validate", user="U9")  # a viewer may check
    report = await harness.wait_said("is ready for fine-tuning", "the validate report")
    assert "train.jsonl is ready" in report
    assert "20 lines" in report
    post = next(
        c for c in slack.of("chat.postMessage") if "train.jsonl is ready" in c.args["text"]
    )
    assert post.args["thread_ts"] == newest.share_ts
    await harness.command("validate old.jsonl validation=train.jsonl", user="U9")
    report = await harness.wait_said("old.jsonl is ready", "the named report")
    assert "Validation file train.jsonl" in report
    assert len(slack.downloads) == 3
    assert list(harness.scratch.iterdir()) == []
    assert await harness.bot.runtime.store.list_files("slack:T1") == []


async def test_the_offer_has_check_only_and_a_viewer_press_downloads_nothing(
    harness: Harness,
) -> None:
    slack = harness.slack
    file = slack.share_file(name="offer.jsonl", content=_dataset(), user="U9", channel="C1")
    event = {
        "type": "file_shared",
        "file_id": file.id,
        "user_id": "U9",
        "channel_id": "C1",
        "event_ts": "1.0",
    }
    assert await harness.post(event_body(event), content_type="application/json") == 200
    await slack.wait_for(lambda: bool(slack.of("chat.postEphemeral")), what="the offer")
    buttons = slack.of("chat.postEphemeral")[0].args["blocks"][1]["elements"]
    labels = {b["text"]["text"]: b["action_id"] for b in buttons}
    assert set(labels) == {"Check and upload", "Check only"}

    await harness.press(labels["Check and upload"], file.id, user="U9")
    await harness.wait_said("needs the operator role", "the refusal")
    await harness.command("upload alias=x", user="U9")
    await slack.wait_for(lambda: len(slack.responses) >= 2, what="the second refusal")
    assert all(r["response_type"] == "ephemeral" for r in slack.responses)
    assert slack.downloads == []  # refused before Slack was asked for the file
    assert not slack.of("files.list")

    await harness.press(labels["Check only"], file.id, user="U9")
    await harness.wait_said("offer.jsonl is ready for fine-tuning", "the check")
    assert slack.downloads == [file.id]
    assert await harness.bot.runtime.store.list_files("slack:T1") == []


async def test_a_shared_text_file_is_refused_by_name_before_it_is_fetched(
    harness: Harness,
) -> None:
    slack = harness.slack
    notes = b"Reset the router first.\nThen call support.\n"
    slack.share_file(name="notes.txt", content=notes, user="U1", channel="C1")
    await harness.command("upload alias=notes force=yes")
    said = await harness.wait_said("notes.txt is not a .jsonl file", "the refusal")
    assert "fine-tuning data is JSON Lines, one example per line" in said
    assert slack.downloads == [], "refused before the file was fetched"
    assert harness.seen.uploads == [], "nothing went to the provider"
    assert await harness.bot.runtime.store.list_files("slack:T1") == []


async def test_upload_keeps_force_and_format_and_its_file_is_private(harness: Harness) -> None:
    slack = harness.slack
    broken = _dataset(12) + b'{"messages": [{"role": "user", "content": "no answer"}]}\n'
    slack.share_file(name="bad.jsonl", content=broken, user="U1", channel="C1")
    await harness.command("upload alias=bad force=yes")
    report = await harness.wait_said("Uploaded bad.jsonl as 'bad'", "the forced upload")
    assert "because force=yes" in report
    ((where, mode),) = harness.seen.uploads
    assert where == harness.scratch
    assert mode == 0o600
    assert list(harness.scratch.iterdir()) == []

    slack.share_file(name="chat.jsonl", content=_dataset(12), user="U1", channel="C1")
    await harness.command("upload chat.jsonl alias=prefs format=preference")
    refused = await harness.wait_said("chat.jsonl is not ready", "the format refusal")
    assert "preference" in refused.lower() or "chosen" in refused.lower()
    assert len(harness.seen.uploads) == 1
    assert os.listdir(harness.scratch) == []


async def test_a_validate_report_leads_with_what_to_fix(harness: Harness) -> None:
    slack = harness.slack
    broken = _dataset(12).replace(b"\n", b"\n{oops\n", 1)
    slack.share_file(name="broken.jsonl", content=broken, user="U9", channel="C1")
    await harness.command("validate broken.jsonl", user="U9")
    report = await harness.wait_said("broken.jsonl: 1 error to fix", "the report")
    assert report.index("line 2: ") < report.index("Format: chat")  # the fix before the figures
    assert "(s)" not in report
    slack.share_file(
        name="rows.jsonl", content=b"prompt,completion\nHi,Hello\n", user="U9", channel="C1"
    )
    await harness.command("validate rows.jsonl", user="U9")
    csv = await harness.wait_said("this looks like CSV", "the CSV report")
    assert "Billed tokens" not in csv  # no cost for a file with no valid example
    await harness.command("validate broken.jsonl format=preference", user="U9")
    await harness.wait_said("this is a chat file; drop format=preference", "the format report")
