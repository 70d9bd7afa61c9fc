"""Core layer: where a command's file comes from, and the one rule on which of them may be read.

Text typed in a command can only ever become a `TypedPath`; the service opens one for the
console alone (its operator owns the machine). Chat files reach the core as a `PrivateFile`:
a share or attachment an adapter downloaded into the bot's own private temp file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from handlers.errors import PermissionDeniedError, UsageError
from handlers.model import Actor, Platform


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateFile:
    """A file the bot itself wrote: a chat share or attachment an adapter downloaded, or a
    draft the core built. Never made from command text."""

    path: Path
    name: str
    """What the user called it (the shared file's name), shown in replies and the audit."""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedPath:
    """Text typed where a file was expected; a path on the bot's machine for the console only."""

    text: str

    def __str__(self) -> str:
        return self.text


FileSource = PrivateFile | TypedPath


class LocalPathRefusedError(PermissionDeniedError):
    """A chat command named a path on the bot's machine; always audited."""


def how_to_share(platform: Platform, command: str) -> str:
    """The one refusal for a path typed in chat: how to give the bot the file instead."""
    lead = "Chat commands never read files on the bot's machine."
    match platform:
        case Platform.DISCORD:
            how = f"Attach the .jsonl file to the file option of /finetune {command}" + (
                " (a validation file to the validation option)." if command == "validate" else "."
            )
        case _:
            how = (
                "Share the .jsonl file in this channel (or a DM with me), then run "
                f"/finetune {command} (it takes the newest .jsonl you shared) or "
                f"/finetune {command} NAME.jsonl (one you shared, by name)."
            )
    return f"{lead} {how}"


def local_file(source: FileSource | None, actor: Actor, command: str) -> tuple[Path, str]:
    """The path to read for `source` and the name to show; refuses what this actor may not read.

    A typed path is opened for the console only; chat gets the how-to-share refusal, also
    when no file was given (the adapter found nothing shared).
    """
    match source:
        case PrivateFile(path=path, name=name):
            return path, name
        case TypedPath(text=text) if actor.platform is Platform.CONSOLE:
            path = Path(text).expanduser()
            problem = unreadable(path)
            if problem is not None:
                raise UsageError(problem)
            return path, path.name
        case TypedPath():
            raise LocalPathRefusedError(how_to_share(actor.platform, command))
    if actor.platform is Platform.CONSOLE:
        raise UsageError(f"Which file? Give its path: /finetune {command} PATH.")
    raise UsageError(how_to_share(actor.platform, command))


def unreadable(path: Path) -> str | None:
    """Why the console cannot validate `path` (missing, a directory, a device, a pipe, a /proc
    file, no permission), or None. Never opens a pipe or a device: it could block forever."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"No readable file at {path}: nothing has that name."
    except PermissionError:
        return f"Cannot read {path}: permission denied."
    except OSError as error:
        return f"Cannot read {path}: {error.strerror or 'not a readable file'}."
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a directory; give a .jsonl file in it."
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file (a device, pipe or socket); give a .jsonl file."
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        return f"Cannot read {path}: permission denied."
    except OSError as error:
        return f"Cannot read {path}: {error.strerror or 'not a readable file'}."
    try:
        # /proc and /sys files claim to be regular but have no size and cannot seek.
        end = os.lseek(fd, 0, os.SEEK_END)
    except OSError:
        end = -1
    finally:
        os.close(fd)
    if end < 0 or (end == 0 and info.st_size == 0 and _special_fs(path)):
        return f"{path} is a special file (like those in /proc), not a .jsonl file."
    return None


def _special_fs(path: Path) -> bool:
    resolved = str(path.resolve())
    return resolved.startswith(("/proc/", "/sys/", "/dev/"))


__all__ = [
    "FileSource",
    "LocalPathRefusedError",
    "PrivateFile",
    "TypedPath",
    "how_to_share",
    "local_file",
    "unreadable",
]


def write_private(content: bytes, directory: Path | None, *, kind: str) -> Path:
    """A temp file of the bot's own (0600, from mkstemp) holding `content`; the pid in its
    name tells the start-up sweep whose file it was. Blocking: run it in a thread."""
    fd, name = tempfile.mkstemp(
        prefix=f"ftbot-{os.getpid()}-{kind}-", suffix=".jsonl", dir=directory
    )
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return Path(name)


def remove_private(path: Path) -> None:
    """Remove a file `write_private` made; gone already is fine. Blocking."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
