"""Providers: a Fireworks job's metrics file (behind `metricsFileSignedUrl`) as metric points.

Fireworks does not publish the file's format; the SDK types it only as a signed URL. What is
read here is JSON lines, one object a step: `step`, and the step's numbers either under `data`
or beside `step`, named as the trainer logs them (`train/loss`, `train/mean_token_accuracy`,
`eval/loss`, ...) or bare (`loss`). A training line and an evaluation line may share a step;
they make one point. A line that is not such an object is skipped, so a format that moves on
costs its points, never the job's watch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from handlers.model import MetricPoint, as_float

log = logging.getLogger(__name__)

TRAIN_LOSS = ("train/loss", "loss", "train_loss")
TRAIN_ACCURACY = ("train/mean_token_accuracy", "mean_token_accuracy", "train_mean_token_accuracy")
VALID_LOSS = ("eval/loss", "eval_loss", "valid_loss", "validation/loss")
VALID_ACCURACY = ("eval/mean_token_accuracy", "valid_mean_token_accuracy")
TOTAL = ("total_steps", "max_steps", "train/total_steps")


def read_metrics_file(
    content: bytes, *, percent: int | None, finished: bool, epoch: int | None = None
) -> list[MetricPoint]:
    """The file's points in step order. The total number of steps, which the file need not
    carry, is the job's: its last step once finished, else the last step over
    `jobProgress.percent` (none before any progress). `epoch`: `jobProgress.epoch` (from 0),
    the epoch of the last point while the job runs."""
    steps: dict[int, dict[str, float]] = {}
    total: int | None = None
    skipped = 0
    for line in content.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        record = _object(line)
        step = as_float(record.get("step")) if record is not None else None
        if record is None or step is None or step < 0:
            skipped += 1
            continue
        data = record.get("data")
        values: Mapping[str, Any] = data if isinstance(data, dict) else record
        found = steps.setdefault(int(step), {})
        for name, keys in (
            ("train_loss", TRAIN_LOSS),
            ("train_accuracy", TRAIN_ACCURACY),
            ("valid_loss", VALID_LOSS),
            ("valid_accuracy", VALID_ACCURACY),
        ):
            value = _first(values, keys)
            if value is not None:
                found[name] = value
        given = _first(values, TOTAL) or _first(record, TOTAL)
        if given is not None and given >= 1:
            total = int(given)
    if skipped:
        log.info("metrics file lines skipped", extra={"lines": skipped})
    if not steps:
        return []
    last = max(steps)
    if total is None:
        if finished:
            total = last
        elif percent and 0 < percent <= 100 and last > 0:
            total = max(last, round(last * 100 / percent))
    current = epoch + 1 if epoch is not None and epoch >= 0 and not finished else None
    return [
        MetricPoint(
            step=step,
            total_steps=total,
            train_loss=steps[step].get("train_loss"),
            train_accuracy=steps[step].get("train_accuracy"),
            valid_loss=steps[step].get("valid_loss"),
            valid_accuracy=steps[step].get("valid_accuracy"),
            epoch=current if step == last else None,
        )
        for step in sorted(steps)
    ]


def _object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _first(values: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        number = as_float(values.get(key))
        if number is not None:
            return number
    return None


__all__ = ["read_metrics_file"]
