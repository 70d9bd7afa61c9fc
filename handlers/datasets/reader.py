"""Core layer: reading JSONL in bounded memory: lines of a byte range, first bytes, the format."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from handlers.datasets.formats import Format, format_of
from handlers.datasets.problems import Kind, Problem

MAX_LINE_BYTES: Final = 16 << 20
"""A line longer than this is reported, never parsed: json.loads would hold many times it."""

CHUNK_BYTES: Final = 1 << 20
BOM: Final = b"\xef\xbb\xbf"
_DETECT_LINES: Final = 20
_DETECT_BYTES: Final = 64 << 20

ProgressCallback = Callable[[int, int], None]
"""(bytes done, bytes total); may be called from a worker thread, so keep it cheap."""


def read_lines(
    handle: BinaryIO,
    start: int,
    end: int,
    sha: hashlib._Hash | None,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, bytes | int, bool]]:
    """(line number, bytes without the newline, ended by a newline) for each line.

    Instead of bytes, an int is the length of a line too long to hold: memory stays bounded
    by MAX_LINE_BYTES plus one chunk, whatever the file holds.
    """
    handle.seek(start)
    total = end - start
    remaining = total
    pending = b""
    oversized = 0  # bytes of a too-long line seen so far; 0 when not in one
    line_no = 0
    while remaining > 0:
        chunk = handle.read(min(CHUNK_BYTES, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        if sha is not None:
            sha.update(chunk)
        if oversized:
            cut = chunk.find(b"\n")
            if cut == -1:
                oversized += len(chunk)
                continue
            line_no += 1
            yield line_no, oversized + cut, True
            oversized = 0
            chunk = chunk[cut + 1 :]
        parts = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
        pending = parts.pop()
        for raw in parts:
            line_no += 1
            yield line_no, raw, True
        if len(pending) > MAX_LINE_BYTES:
            oversized = len(pending)
            pending = b""
        if progress is not None:
            progress(total - remaining, total)
    if oversized:
        yield line_no + 1, oversized, False
    elif pending:
        yield line_no + 1, pending, False


def sniff(path: Path) -> Problem | None:
    """A file-level problem seen in the first bytes: binary, compressed, UTF-16/32, empty."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        return Problem(kind=Kind.EMPTY_FILE, line=None, detail="the file is empty")
    if head[:2] == b"\x1f\x8b":
        return Problem(
            kind=Kind.COMPRESSED,
            line=1,
            detail="this is a gzip file; decompress it (gunzip) and give the .jsonl",
        )
    if (
        head[:4] in (b"PK\x03\x04", b"(\xb5/\xfd")
        or head[:3] == b"BZh"
        or head[:6] == (b"\xfd7zXZ\x00")
    ):
        return Problem(
            kind=Kind.COMPRESSED,
            line=1,
            detail="this is a compressed archive (zip, zstd, bzip2 or xz); extract the .jsonl",
        )
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return Problem(
            kind=Kind.ENCODING,
            line=1,
            detail="the file is UTF-16 text; save it as UTF-8",
        )
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        return Problem(
            kind=Kind.BINARY,
            line=line,
            detail="this is a binary file (it holds NUL bytes), not JSONL text",
        )
    return None


def looks_like_csv(path: Path) -> Problem | None:
    """A file none of whose first lines is JSON but whose first line has separated columns:
    a spreadsheet export, told so (rather than an invalid-JSON error on every line)."""
    with path.open("rb") as handle:
        first = handle.readline(8192).removeprefix(BOM).strip()
    if not first or first[:1] in (b"{", b"["):
        return None
    for separator in (b",", b"\t", b";"):
        if first.count(separator) >= 1:
            return Problem(
                kind=Kind.CSV,
                line=1,
                detail="this looks like CSV (columns separated by commas), not JSONL: each line "
                'must be one JSON object, e.g. {"messages": [{"role": "user", "content": '
                '"..."}, {"role": "assistant", "content": "..."}]}; convert the rows first',
            )
    return None


def looks_like_text(path: Path) -> Problem | None:
    """A file none of whose first lines is JSON at all (notes, a transcript, a .txt export):
    told once what JSONL is, rather than an invalid-JSON error on every line."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        read = 0
        for _, raw, _ in read_lines(handle, 0, min(size, _DETECT_BYTES), None, None):
            if isinstance(raw, int):
                return None  # a line too long to judge: the line checks say what it is
            raw = raw.removeprefix(BOM).strip()
            if not raw:
                continue
            if raw[:1] in (b"{", b"["):
                return None
            try:
                json.loads(raw)
            except (ValueError, RecursionError):
                pass
            else:
                return None  # JSON, of a shape the line checks will name
            read += 1
            if read >= _DETECT_LINES:
                break
    if not read:
        return None
    return Problem(
        kind=Kind.PLAIN_TEXT,
        line=1,
        detail="this is plain text, not JSONL: each line must be one JSON object, e.g. "
        '{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": '
        '"..."}]}; write each example in that shape and save the file as .jsonl',
    )


def detect_format(path: Path) -> Format | None:
    """The format most of the first valid lines have; None when no line can be read as any."""
    votes: Counter[Format] = Counter()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        seen = 0
        for _, raw, _ in read_lines(handle, 0, min(size, _DETECT_BYTES), None, None):
            if isinstance(raw, int):
                continue
            raw = raw.removeprefix(BOM)
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            guess = format_of(record)
            if guess is not None:
                votes[guess] += 1
                seen += 1
            if seen >= _DETECT_LINES:
                break
    return votes.most_common(1)[0][0] if votes else None
