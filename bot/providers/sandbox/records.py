"""Provider adapter: what the sandbox keeps of a file and a job, the names it gives them, and
its time arithmetic (integer microseconds, the same in every process)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from handlers.errors import ProviderError, ProviderErrorKind

ORG: Final = "sandbox"
"""The organisation part of every model name the sandbox makes (`ft:<base>:sandbox:...`)."""

BASE_MODELS: Final[Mapping[str, datetime]] = {
    "gpt-4.1-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4.1-mini-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4.1-nano-2025-04-14": datetime(2025, 4, 14, tzinfo=UTC),
    "gpt-4o-2024-08-06": datetime(2024, 8, 6, tzinfo=UTC),
    "gpt-4o-mini-2024-07-18": datetime(2024, 7, 18, tzinfo=UTC),
    "gpt-3.5-turbo-0125": datetime(2024, 1, 25, tzinfo=UTC),
}
"""Fine-tunable base snapshots; the release date stands in for `created` (stable, not `now`)."""

MODEL_ALIASES: Final[Mapping[str, str]] = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
"""Like the real API, a job on an alias reports the snapshot it resolved to."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRecord:
    id: str
    seq: int
    filename: str
    bytes: int
    created_us: int
    lines: int
    format: str | None  # "chat" or "preference"; None when no line could be read as either
    problem: str | None  # the first problem found; None means the file is usable
    tokens: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """Everything a job's history is computed from; only `actions` ever changes."""

    id: str
    short: str
    seq: int
    created_us: int
    idempotency_key: str
    model: str
    base_root: str
    training_file: str
    validation_file: str | None
    method: str
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None
    suffix: str | None
    seed: int
    metadata: tuple[tuple[str, str], ...]
    # Frozen at creation so deleting or re-uploading a file cannot rewrite a job's history.
    problem: str | None
    trained_tokens: int
    total_steps: int
    # The timing too: processes configured differently must still agree on one job's history.
    validating_us: int
    queued_us: int
    step_us: int
    eval_every: int
    actions: tuple[tuple[str, int], ...] = ()


def model_name(record: JobRecord) -> str:
    return f"ft:{record.base_root}:{ORG}:{record.suffix or ''}:{record.short}"


def checkpoint_name(record: JobRecord, step: int) -> str:
    return f"{model_name(record)}:ckpt-step-{step}"


def bad_request(detail: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.BAD_REQUEST, detail)


def micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    # Integer microseconds: the same arithmetic in every process, no float rounding drift.
    return (moment - _EPOCH) // _MICRO


def to_datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def seconds_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def hex_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
