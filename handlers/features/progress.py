"""Core layer: the progress callback of the command being answered, as a context variable."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from handlers.datasets import ProgressCallback

Progress = Callable[[str, int, int], None]
"""(stage, done, total): bytes for "validating" and "uploading" (a comparison's progress is its
card, edited in place)."""

# A context variable, not an argument: validation reads it in a worker thread (the context is
# copied there), deep below the feature that was handed it.
current: ContextVar[Progress | None] = ContextVar("finetune_progress", default=None)


def stage(progress: Progress | None, stage: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
