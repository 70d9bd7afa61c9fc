"""The stop rules as a real process: a stop step that hangs cannot keep the process alive past
the deadline, and a second SIGTERM ends it at once; each with one line on stderr."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
# A process whose stop hangs forever once asked to stop (as discord.py's first connect did).
SCRIPT = """
import asyncio, sys
from bot.app.shutdown import Stopper

async def main():
    stopper = Stopper(deadline_seconds=float(sys.argv[1]))
    with stopper.installed():
        print("ready", flush=True)
        await stopper.wait()
        print("stopping", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""
# A process whose stop finishes but leaves a non-daemon thread running (as aiosqlite's worker
# does for a connection never closed): the interpreter's exit would wait for it forever.
LEFT_THREAD = """
import asyncio, sys, threading
from bot.app.shutdown import Stopper

async def main():
    stopper = Stopper(deadline_seconds=float(sys.argv[1]))
    with stopper.installed():
        threading.Thread(target=threading.Event().wait).start()
        print("ready", flush=True)
        await stopper.wait()
        print("stopping", flush=True)

asyncio.run(main())
"""


async def _spawn(
    tmp_path: Path, deadline: float, source: str = SCRIPT
) -> asyncio.subprocess.Process:
    script = tmp_path / "hang.py"
    script.write_text(source)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(deadline),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    return proc


async def _stop(proc: asyncio.subprocess.Process, *, signals: int) -> tuple[int, list[str]]:
    """SIGTERM (a second one after "stopping" when `signals` is 2); the exit code and stderr."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"stopping\n"
        if signals == 2:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, (await proc.stderr.read()).decode().strip().splitlines()


@pytest.mark.parametrize("second_signal", [False, True], ids=["deadline", "second SIGTERM"])
async def test_a_hanging_stop_cannot_outlive_the_deadline_or_a_second_sigterm(
    tmp_path: Path, second_signal: bool
) -> None:
    # With a second signal the deadline is far away: only the signal can end it in time.
    proc = await _spawn(tmp_path, deadline=600 if second_signal else 1)
    code, lines = await _stop(proc, signals=2 if second_signal else 1)
    assert code == 1
    why = "a second SIGTERM during shutdown" if second_signal else "shutdown took longer than 1 s"
    assert lines == [f"finetune-bot: {why}; exiting now."]


async def test_a_thread_left_running_cannot_hold_the_exit_past_the_deadline(
    tmp_path: Path,
) -> None:
    proc = await _spawn(tmp_path, deadline=1, source=LEFT_THREAD)
    code, lines = await _stop(proc, signals=1)
    assert code == 1
    assert lines == ["finetune-bot: shutdown took longer than 1 s; exiting now."]
