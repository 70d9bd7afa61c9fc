"""`finetune-bot console` as a terminal program, as a real process: Ctrl-C ends it at once,
a terminal gets line editing and a history kept beside the database, buttons print the command
that presses them, no chat markup shows, the sandbox remembers the last session's files and
jobs, and `try` leaves completions for `dataset from-logs`."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_cli import _env

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"
BANNER = "finetune-bot console"
TRAIN = Path(__file__).parents[2] / "bot" / "chat" / "console" / "data" / "support_train.jsonl"


def _console_env(tmp_path: Path) -> dict[str, str]:
    return _env(
        FINETUNE_BOT_PROVIDER="sandbox",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'c.db'}",
        FINETUNE_BOT_LOG_LEVEL="WARNING",
        FINETUNE_BOT_SANDBOX_SPEED="50",
    )


def _session(tmp_path: Path, lines: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=_console_env(tmp_path),
        input="\n".join([*lines, "quit"]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _live(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env={**_console_env(tmp_path), **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def _line_with(process: subprocess.Popen[str], needle: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if needle in line:
            return line
    raise AssertionError(f"the console ended before printing {needle!r}")


def test_ctrl_c_ends_the_console_without_waiting_for_enter(tmp_path: Path) -> None:
    with _live(tmp_path) as process:  # its stdin held open: no Enter, no end of input
        try:
            _line_with(process, BANNER)
            process.send_signal(signal.SIGINT)
            # It ends by itself; before, it waited in a read of stdin until Enter, for ever.
            assert process.wait(timeout=60) == 130
        finally:
            if process.poll() is None:
                process.kill()


def test_a_printed_button_is_the_command_that_presses_it(tmp_path: Path) -> None:
    with _live(tmp_path, FINETUNE_BOT_CONFIRM_OVER_USD="0") as process:
        assert process.stdin is not None
        try:
            _line_with(process, BANNER)
            process.stdin.write(f"/finetune upload {TRAIN} alias=train\n")
            _line_with(process, "Uploaded")
            process.stdin.write(f"/finetune start file=train model={MODEL}\n")
            button = _line_with(process, "[Start: ")
            command = button.strip().removeprefix("[Start: ").removesuffix("]")
            assert command.startswith("/finetune start confirm=cs-")
            process.stdin.write(command + "\n")
            _line_with(process, "Started ftjob-")
            process.stdin.write("quit\n")
            process.stdin.flush()
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()


def _read_until(fd: int, needle: bytes, seen: bytearray, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never came; the terminal shows {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break  # the console closed the terminal
            if not chunk:
                break
            seen += chunk
    assert needle in seen, bytes(seen)


def _in_a_terminal(tmp_path: Path, keys: list[tuple[bytes, bytes]]) -> tuple[bytes, int]:
    """The console on a pseudo-terminal: each (keys, what to wait for) in turn; then its
    exit status."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console, its stdin and stdout the terminal
        os.chdir(tmp_path)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "bot", "console", "--out", str(tmp_path / "out")],
            _console_env(tmp_path),
        )
    seen = bytearray()
    try:
        _read_until(fd, b"finetune> ", seen)
        for typed, wanted in keys:
            del seen[:]
            os.write(fd, typed)
            _read_until(fd, wanted, seen)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return bytes(seen), os.waitstatus_to_exitcode(status)


def test_a_terminal_gets_line_editing_and_a_history_kept_beside_the_database(
    tmp_path: Path,
) -> None:
    history = tmp_path / "data" / "console-history"
    # Typed with a mistake fixed by the line editor (Ctrl-A, then a deleted character), then
    # Ctrl-C at the prompt: the console ends at once and keeps its history.
    _, status = _in_a_terminal(
        tmp_path,
        [
            (b"x/finetune files\x01\x04\r", b"No files"),
            (b"\x03", b""),
        ],
    )
    assert status == 130
    assert "/finetune files" in history.read_text()
    # The next session recalls it with the up arrow.
    seen, status = _in_a_terminal(tmp_path, [(b"\x1b[A\r", b"No files"), (b"\x04", b"")])
    assert status == 0
    del seen


def test_no_chat_markup_shows_in_the_terminal(tmp_path: Path) -> None:
    out = _session(
        tmp_path,
        [
            f"/finetune upload {TRAIN} alias=train",
            "/finetune subscribe all",
            "/finetune subscriptions",
            f"/finetune start file=train model={MODEL} suffix=term",
            "/finetune list",
        ],
    )
    assert "this console" in out
    for markup in ("<@", "<#", "#console", "<!date", "<t:", "Share in channel"):
        assert markup not in out, markup


def test_a_second_session_knows_the_last_ones_files_and_jobs(tmp_path: Path) -> None:
    first = _session(
        tmp_path,
        [f"/finetune upload {TRAIN} alias=train", f"/finetune start file=train model={MODEL}"],
    )
    job_id = next(w for w in first.split() if w.startswith("ftjob-"))
    assert (tmp_path / "data" / "sandbox-state.json").is_file()
    second = _session(tmp_path, [f"/finetune inspect {job_id}", "/finetune files"])
    assert "no longer knows" not in second
    assert f"Job {job_id}" in second
    assert "train" in second


def test_try_in_the_console_leaves_completions_for_dataset_from_logs(tmp_path: Path) -> None:
    out = _session(
        tmp_path,
        [
            f"/finetune try {MODEL} How do I reset my password?",
            f"/finetune try {MODEL} Where is my invoice?",
            f"/finetune dataset from-logs model={MODEL}",
        ],
    )
    assert "No stored completions" not in out
    assert "2 stored completions found; 2 examples built" in out
    assert "[Confirm upload: /finetune dataset ds-" in out
