"""Bot layer: the bot's private directory for files it downloads: 0700, files 0600, swept at start.

Every file is named `ftbot-<pid>-…`, so the start-up sweep removes what a killed process left
(its pid is gone, or is ours from a previous life) and never a live replica's file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from handlers.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "ftbot-"
DIR_NAME = "ftbot-tmp"


def private_dir(base: Path | None = None) -> Path:
    """`<base or the system temp dir>/ftbot-tmp-<uid>`: made 0700, used only if it is a real
    directory this user owns that nobody else can read or write (a shared /tmp)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = base if base is not None else Path(tempfile.gettempdir())
    directory = root / f"{DIR_NAME}-{uid}"
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=False)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise ConfigError(
            f"{directory} is not a directory of this user; remove it or set TMPDIR to a "
            "private directory."
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        directory.chmod(0o700)
    return directory


def new_file(directory: Path | None = None, *, suffix: str = ".jsonl") -> tuple[int, Path]:
    """An open (fd, path) for a new 0600 file in the private directory; the caller deletes it."""
    where = directory if directory is not None else private_dir()
    fd, name = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=suffix, dir=where)
    return fd, Path(name)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def sweep(directory: Path | None = None) -> int:
    """Remove the files a killed process left behind (at start-up); returns how many."""
    where = directory if directory is not None else private_dir()
    removed = 0
    for path in where.glob(f"{PREFIX}*"):
        if not _stale(path.name):
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            path.unlink()
            removed += 1
    if removed:
        log.info("removed stale temp files", extra={"count": removed, "dir": str(where)})
    return removed


def _stale(name: str) -> bool:
    pid_text = name.removeprefix(PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return True  # not named by this module's rule: nothing live owns it
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this pid's earlier life (a restarted container is pid 1 again)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


__all__ = ["PREFIX", "new_file", "private_dir", "remove", "sweep"]
