"""The bot's private download directory: 0700, files 0600, and a start-up sweep that removes
what a killed process left but never a live process's file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import tempfiles
from bot.slack.files import SharedFile, download
from handlers.errors import ConfigError
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        yield tmp_path
    finally:
        tempfile.tempdir = before


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_directory_is_private_and_files_are_0600(base: Path) -> None:
    loose = base / f"ftbot-tmp-{os.getuid()}"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    directory = tempfiles.private_dir()
    assert directory == loose
    assert mode(directory) == 0o700  # tightened, not trusted as found
    fd, path = tempfiles.new_file(directory)
    os.close(fd)
    assert path.parent == directory
    assert path.name.startswith(f"ftbot-{os.getpid()}-")
    assert mode(path) == 0o600


def test_a_symlink_in_its_place_is_refused(base: Path) -> None:
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    (base / f"ftbot-tmp-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="TMPDIR"):
        tempfiles.private_dir()


def test_sweep_removes_dead_processes_files_and_keeps_live_ones(base: Path) -> None:
    directory = tempfiles.private_dir()
    dead = directory / "ftbot-4000000-x.jsonl"  # above pid_max: nobody runs it
    mine = directory / f"ftbot-{os.getpid()}-old.jsonl"  # this pid's earlier life
    odd = directory / "ftbot-logs-x.jsonl"
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1) as p:
        live = directory / f"ftbot-{p.pid}-live.jsonl"
        for path in (dead, mine, odd, live):
            path.write_bytes(b"{}\n")
        assert tempfiles.sweep(directory) == 3
        assert [p.name for p in directory.iterdir()] == [live.name]
        assert p.stdin is not None
        p.stdin.close()


async def test_a_slack_download_lands_0600_in_the_private_directory(base: Path) -> None:
    async with FakeSlack() as slack:
        fake = slack.share_file(name="t.jsonl", content=b"{}\n", user="U1", channel="C1")
        shared = SharedFile(
            id=fake.id,
            name=fake.name,
            size=3,
            url=f"{slack.root}/files-pri/{fake.id}",
            thread_ts=None,
        )
        path = await download(shared, token="xoxb-test")
    assert path.parent == tempfiles.private_dir()
    assert mode(path) == 0o600
    assert path.read_bytes() == b"{}\n"
