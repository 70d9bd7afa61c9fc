"""Core layer: validating a whole dataset file in this thread: plan, one scan, the report."""

from __future__ import annotations

import hashlib
from pathlib import Path

from handlers.datasets.formats import Format
from handlers.datasets.plan import plan
from handlers.datasets.reader import CHUNK_BYTES, ProgressCallback
from handlers.datasets.report import DatasetReport, Partial, finish
from handlers.datasets.scan import ScanOptions, scan_range
from handlers.ports import Tokenizer
from handlers.profile import ConvertProblems, DataLimits


def validate_file(
    path: Path,
    tokenizer: Tokenizer,
    *,
    model: str,
    token_limit: int,
    format: Format | None = None,
    training_hashes: frozenset[int] | set[int] | None = None,
    progress: ProgressCallback | None = None,
    limits: DataLimits | None = None,
    convert: ConvertProblems | None = None,
) -> DatasetReport:
    """Validate a whole file in this thread, reading it once in bounded memory; `limits` and
    `convert` are the family's (its profile's), when the file is meant for one."""
    the_plan = plan(
        path,
        model=model,
        token_limit=token_limit,
        exact_tokens=tokenizer.exact,
        format=format,
        limits=limits,
        format_named=training_hashes is None,
    )
    if the_plan.early is not None:
        return finish(the_plan, [_digest_only(path)], is_validation=training_hashes is not None)
    options = ScanOptions(
        format=the_plan.format,
        model=model,
        token_limit=token_limit,
        count=tokenizer.counter(model),
        training_hashes=training_hashes,
        convert=convert,
    )
    size = path.stat().st_size
    partial = scan_range(path, 0, size, options, digest=True, progress=progress)
    return finish(the_plan, [partial], is_validation=training_hashes is not None)


def _digest_only(path: Path) -> Partial:
    partial = Partial()
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            sha.update(chunk)
            partial.bytes += len(chunk)
    partial.sha256 = sha.hexdigest()
    return partial
