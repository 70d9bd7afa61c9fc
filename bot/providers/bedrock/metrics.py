"""Providers: Bedrock's step-wise metrics CSVs (written to a job's output when it completes)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Final

from handlers.model import MetricPoint, as_float

TRAINING_CSV: Final = "training_artifacts/step_wise_training_metrics.csv"
"""Columns step_number, epoch_number, training_loss, perplexity."""
VALIDATION_CSV: Final = "validation_metrics.csv"
"""Under validation_artifacts/post_fine_tuning_validation/: step_number, validation_loss…"""


def metric_points(training: bytes, validation: bytes | None) -> Sequence[MetricPoint]:
    """One point per training step, in step order, with the validation loss at the steps the
    validation CSV has; the total is the last step (the file is written whole at the end)."""
    valid = {s: as_float(r.get("validation_loss")) for r in _rows(validation) if (s := _step(r))}
    points: dict[int, MetricPoint] = {}
    rows = _rows(training)
    steps = sorted({s for r in rows if (s := _step(r))})
    total = steps[-1] if steps else None
    for row in rows:
        step = _step(row)
        if step and step not in points:
            points[step] = MetricPoint(
                step=step,
                total_steps=total,
                train_loss=as_float(row.get("training_loss")),
                valid_loss=valid.get(step),
            )
    return [points[s] for s in sorted(points)]


def _step(row: dict[str, str]) -> int | None:
    number = as_float(row.get("step_number"))
    return int(number) if number is not None and number > 0 else None


def _rows(content: bytes | None) -> list[dict[str, str]]:
    if not content:
        return []
    return list(csv.DictReader(io.StringIO(content.decode("utf-8", "replace"))))


__all__ = ["TRAINING_CSV", "VALIDATION_CSV", "metric_points"]
