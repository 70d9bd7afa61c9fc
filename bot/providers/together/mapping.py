"""Providers: Together's answers (SDK objects) as the core's values: jobs, events, metrics."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.providers.together import tags
from bot.providers.together.profile import PROFILE, metric_point
from handlers.model import Hyperparameters, JobEvent, JobState, Method, MetricValue
from handlers.profile import JobStatus

_EPOCH = datetime.fromtimestamp(0, UTC)
_TIME_KEYS = ("_timestamp", "timestamp")
_NAMED = re.compile(r"(?P<suffix>.+)-[0-9a-f]{8}")


def opt(item: object, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    value = getattr(item, name, None)
    if value is None:
        extra = getattr(item, "model_extra", None)
        if isinstance(extra, Mapping):
            return extra.get(name)
    return value


def opt_int(item: object, name: str) -> int | None:
    value = opt(item, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def opt_float(item: object, name: str) -> float | None:
    value = opt(item, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def opt_bool(item: object, name: str) -> bool | None:
    value = opt(item, name)
    return value if isinstance(value, bool) else None


def when(value: object) -> datetime:
    """A time as Together spells it: ISO 8601 text (jobs, events) or unix seconds (files)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a time: {value!r}")


def job_state(item: Any, wanted: Mapping[str, str] | None = None) -> JobState:
    raw = str(item.status)
    status = PROFILE.status(raw)
    method = opt(opt(item, "training_method"), "method")
    sent = opt(item, "suffix") or _suffix_in_name(item)
    own, _, _ = tags.read_suffix(sent)
    batch = opt(item, "batch_size")
    updated = opt(item, "updated_at")
    return JobState(
        id=str(item.id),
        model=str(opt(item, "model") or ""),
        status=status,
        provider_status=raw,
        created_at=when(opt(item, "created_at")),
        training_file=str(opt(item, "training_file") or ""),
        method=Method.DPO.value if method == "dpo" else Method.SUPERVISED.value,
        validation_file=opt(item, "validation_file") or None,
        hyperparameters=Hyperparameters(
            n_epochs=opt_int(item, "n_epochs"),
            batch_size=batch if isinstance(batch, int) and not isinstance(batch, bool) else None,
            learning_rate_multiplier=opt_float(item, "learning_rate"),
            beta=opt_float(opt(item, "training_method"), "dpo_beta"),
        ),
        suffix=own,
        seed=opt_int(item, "random_seed"),
        # Together names the output model at create time; it exists only once completed.
        fine_tuned_model=_output_name(item) if status is JobStatus.SUCCEEDED else None,
        trained_tokens=opt_int(item, "token_count"),
        finished_at=when(updated) if status.terminal and updated else None,
        metadata=tags.metadata_of(sent, wanted),
    )


def _output_name(item: object) -> str | None:
    name = opt(item, "model_output_name") or opt(item, "x_model_output_name")
    return name if isinstance(name, str) else None


def _suffix_in_name(item: object) -> str | None:
    """The suffix inside the output model's name (owner/Base-SUFFIX-1a2b3c4d): a single job's
    answer (GET /fine-tunes/{id}) carries no `suffix` field of its own."""
    name, base = _output_name(item), opt(item, "model")
    if not name or not isinstance(base, str) or "/" not in name:
        return None
    rest = name.split("/", 1)[1]
    start = base.rsplit("/", 1)[-1] + "-"
    found = _NAMED.fullmatch(rest[len(start) :]) if rest.startswith(start) else None
    return found.group("suffix") if found else None


def _scalars(item: object, names: Sequence[str]) -> dict[str, MetricValue]:
    found: dict[str, MetricValue] = {}
    for name in names:
        value = opt(item, name)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            found[name] = value
    return found


def _event_id(event: object, seen: dict[str, int]) -> str:
    given = opt(event, "hash")
    basis = (
        given
        if isinstance(given, str) and given
        else "|".join(
            str(opt(event, n)) for n in ("created_at", "type", "message", "step", "level")
        )
    )
    digest = hashlib.sha256(basis.encode()).hexdigest()[:16]
    count = seen.get(digest, 0)
    seen[digest] = count + 1
    return f"ev-{digest}" if count == 0 else f"ev-{digest}-{count}"


def history(
    job_id: str, events: Sequence[Any], rows: Sequence[Mapping[str, Any]]
) -> list[JobEvent]:
    """Events and metrics rows merged by time, oldest first, each with a stable id. A row
    with no time of its own sits at its job's newest event."""
    seen: dict[str, int] = {}
    found: list[tuple[datetime, int, int, JobEvent]] = []
    total: int | None = None
    for n, event in enumerate(events):
        created = when(opt(event, "created_at"))
        total = opt_int(event, "total_steps") or total
        found.append(
            (
                created,
                0,
                n,
                JobEvent(
                    id=_event_id(event, seen),
                    job_id=job_id,
                    created_at=created,
                    level=str(opt(event, "level") or "info"),
                    message=str(opt(event, "message") or ""),
                    type=str(opt(event, "type") or "message"),
                    data=_scalars(
                        event, ("step", "total_steps", "token_count", "checkpoint_path")
                    ),
                ),
            )
        )
    newest = max((f[0] for f in found), default=_EPOCH)
    for n, row in enumerate(rows):
        point = metric_point(row, total_steps=total)
        if point is None:
            continue
        stamp = next((row[k] for k in _TIME_KEYS if isinstance(row.get(k), int | float)), None)
        created = when(stamp) if stamp is not None else newest
        loss = "" if point.train_loss is None else f": training loss={point.train_loss:g}"
        found.append(
            (
                created,
                1,
                n,
                JobEvent(
                    id=f"metrics-{point.step}",
                    job_id=job_id,
                    created_at=created,
                    message=f"Step {point.step}/{point.total_steps or '?'}{loss}",
                    type="metrics",
                    data={str(k): v for k, v in row.items() if isinstance(v, int | float)},
                    metrics=point,
                ),
            )
        )
    found.sort(key=lambda f: (f[0], f[1], f[2]))
    return [f[3] for f in found]
