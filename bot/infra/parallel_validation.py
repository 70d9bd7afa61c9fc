"""Infrastructure: a big JSONL file validated on every core (line-aligned ranges, a fork pool)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

from handlers.datasets import (
    CHUNK_BYTES,
    DatasetReport,
    Format,
    Partial,
    ProgressCallback,
    ScanOptions,
    finish,
    plan,
    scan_range,
    validate_file,
)
from handlers.ports import Tokenizer

RANGE_BYTES = 16 << 20
"""Work unit of the pool: small enough for a smooth progress bar, big enough to amortise."""

PARALLEL_MIN_BYTES = 8 << 20
"""Below this a pool costs more than it saves."""

# Set in the parent just before the pool forks, so workers inherit the loaded encoding
# (copy-on-write) instead of each loading and pickling one.
_WORKER: dict[str, object] = {}


def split_ranges(path: Path, size: int, target: int) -> list[tuple[int, int]]:
    """Byte ranges of about `target` bytes, each starting just after a newline."""
    ranges: list[tuple[int, int]] = []
    start = 0
    with path.open("rb") as handle:
        while start < size:
            cut = start + target
            if cut >= size:
                ranges.append((start, size))
                break
            handle.seek(cut)
            # A line longer than a range just makes that range longer; reading stays bounded.
            while True:
                block = handle.read(1 << 16)
                if not block:
                    cut = size
                    break
                newline = block.find(b"\n")
                if newline != -1:
                    cut += newline + 1
                    break
                cut += len(block)
            ranges.append((start, cut))
            start = cut
    return ranges


def _scan(bounds: tuple[int, int]) -> Partial:
    options = _WORKER["options"]
    path = _WORKER["path"]
    assert isinstance(options, ScanOptions)
    assert isinstance(path, Path)
    return scan_range(path, bounds[0], bounds[1], options)


def validate_parallel(
    path: Path,
    tokenizer: Tokenizer,
    *,
    model: str,
    token_limit: int,
    format: Format | None = None,
    training_hashes: set[int] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    range_bytes: int = RANGE_BYTES,
) -> DatasetReport:
    """`validate_file` on every core; the same report (no sha256: nothing is uploaded)."""
    workers = workers or os.cpu_count() or 1
    size = path.stat().st_size
    the_plan = plan(
        path,
        model=model,
        token_limit=token_limit,
        exact_tokens=tokenizer.exact,
        format=format,
        format_named=training_hashes is None,
    )
    if workers < 2 or size < PARALLEL_MIN_BYTES or the_plan.early is not None:
        return validate_file(
            path,
            tokenizer,
            model=model,
            token_limit=token_limit,
            format=the_plan.format,
            training_hashes=training_hashes,
            progress=progress,
        )
    _WORKER["path"] = path
    _WORKER["options"] = ScanOptions(
        format=the_plan.format,
        model=model,
        token_limit=token_limit,
        count=tokenizer.counter(model),  # loads the encoding here, before the fork
        training_hashes=training_hashes,
    )
    # At least eight ranges a worker, so no worker sits idle while the last range runs.
    target = max(CHUNK_BYTES, min(range_bytes, size // (workers * 8)))
    ranges = split_ranges(path, size, target)
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers) as pool:

            def ordered() -> Iterator[Partial]:
                done = 0
                for partial in pool.imap(_scan, ranges):
                    done += partial.bytes
                    if progress is not None:
                        progress(done, size)
                    yield partial

            return finish(the_plan, ordered(), is_validation=training_hashes is not None)
    finally:
        _WORKER.clear()
