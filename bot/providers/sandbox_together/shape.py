"""Provider adapter: the Together-shaped sandbox as a shape of the sandbox's engine: Together's
base models, ids (`ft-<uuid>`), model names (`<org>/<Base>-<suffix>-<8 hex>`), limits,
statuses and metrics rows (GET /fine-tunes/{id}/metrics, as the real family reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from bot.providers.sandbox.records import JobRecord, bad_request
from bot.providers.sandbox.shape import MetricsRow, SandboxShape
from bot.providers.sandbox_together.profile import PROFILE
from bot.providers.together.profile import metric_point
from handlers.model import JobSpec, Method, MetricPoint

ORG: Final = "sandbox"
"""The organisation part of every model name it makes (`sandbox/<Base>-<suffix>-<8 hex>`)."""

BASE_MODELS: Final[Mapping[str, datetime]] = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": datetime(2024, 7, 23, tzinfo=UTC),
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": datetime(2024, 7, 23, tzinfo=UTC),
    "Qwen/Qwen3-8B": datetime(2025, 4, 29, tzinfo=UTC),
    "Qwen/Qwen2.5-7B-Instruct": datetime(2024, 9, 19, tzinfo=UTC),
    "mistralai/Mistral-7B-Instruct-v0.2": datetime(2023, 12, 11, tzinfo=UTC),
}
"""A handful of Together's fine-tunable bases (its catalogue lists many more)."""

STATUSES: Final[Mapping[str, str]] = {
    "validating_files": "pending",
    "queued": "queued",
    "running": "running",
    "cancelling": "cancel_requested",
    "cancelled": "cancelled",
    "failed": "error",
    "succeeded": "completed",
}
"""The engine's phases in Together's words (compressing and uploading keep their names)."""


def _uuid_like(digest: str) -> str:
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def model_name(record: JobRecord) -> str:
    base = record.base_root.rsplit("/", 1)[-1]
    suffix = f"{record.suffix}-" if record.suffix else ""
    return f"{ORG}/{base}-{suffix}{record.short[:8]}"


def checkpoint_name(record: JobRecord, step: int) -> str:
    """What Together's `from_checkpoint` takes: the job's id and the step."""
    return f"{record.id}:{step}"


_SPEC_VALUES = {
    "n_epochs": lambda s: s.hyperparameters.n_epochs,
    "batch_size": lambda s: s.hyperparameters.batch_size,
    "learning_rate": lambda s: s.hyperparameters.learning_rate_multiplier,
    "dpo_beta": lambda s: s.hyperparameters.beta,
    "random_seed": lambda s: s.seed,
}


def check_spec(spec: JobSpec) -> None:
    """Together's ranges (its profile's hyperparameters), as Together would refuse them."""
    if spec.hyperparameters.beta is not None and spec.method is not Method.DPO:
        raise bad_request("beta applies to DPO only on Together; drop beta=, or use method=dpo")
    for option in PROFILE.hyperparameters:
        read = _SPEC_VALUES.get(option.field)
        value = read(spec) if read is not None else None
        if value is None:
            continue
        low, high = option.minimum, option.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise bad_request(f"{option.field} must be between {low:g} and {high:g}")
    if spec.suffix is not None and PROFILE.max_suffix and len(spec.suffix) > PROFILE.max_suffix:
        raise bad_request(f"suffix must be at most {PROFILE.max_suffix} characters")


def metrics(data: MetricsRow) -> tuple[MetricsRow, MetricPoint | None]:
    """A step as a row of Together's metrics endpoint (W&B-style names)."""
    names = {
        "step": "train/global_step",
        "total_steps": "train/total_steps",
        "train_loss": "train/loss",
        "train_mean_token_accuracy": "train/token_accuracy",
        "full_valid_loss": "eval/loss",
        "full_valid_mean_token_accuracy": "eval/token_accuracy",
    }
    row = {new: data[old] for old, new in names.items() if old in data}
    if "eval/loss" not in row and "valid_loss" in data:
        row["eval/loss"] = data["valid_loss"]
        if "valid_mean_token_accuracy" in data:
            row["eval/token_accuracy"] = data["valid_mean_token_accuracy"]
    return row, metric_point(row)


TOGETHER_SHAPE: Final = SandboxShape(
    profile=PROFILE,
    base_models=BASE_MODELS,
    aliases={},
    owned_by=ORG,
    job_id=lambda digest: f"ft-{_uuid_like(digest)}",
    file_id=lambda digest: f"file-{_uuid_like(digest)}",
    model_name=model_name,
    checkpoint_name=checkpoint_name,
    check_spec=check_spec,
    default_epochs=1,
    default_lr=1e-5,
    metrics=metrics,
    statuses=STATUSES,
    finishing=("compressing", "uploading"),
    cancel_steps=1,
)
