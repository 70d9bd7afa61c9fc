"""Providers: a Bedrock model customization job (GetModelCustomizationJob) as the core's state."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.providers.bedrock.profile import PREPARING, PROFILE, TRAINING, VALIDATING
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import Hyperparameters, JobState, as_float
from handlers.profile import JobStatus

log = logging.getLogger(__name__)

JOB_PREFIX = "ftb-"
"""The bot's job names: ftb- and 20 hex characters of its start's idempotency key's hash."""


def job_state(job: Mapping[str, Any], tags: Mapping[str, str]) -> JobState:
    """The job with its tags (the bot's metadata); INVALID_RESPONSE when it cannot be read."""
    try:
        raw = str(job["status"])
        shown = phase(raw, job.get("statusDetails") or {})
        status = PROFILE.status(shown)
        params = job.get("hyperParameters") or {}
        validators = (job.get("validationDataConfig") or {}).get("validators") or []
        name = str(job["jobName"])
        error = None
        if status is JobStatus.FAILED:
            error = str(job.get("failureMessage") or "Bedrock reported the job as Failed")
        finished = job.get("endTime")
        return JobState(
            id=name,
            model=model_id(str(job.get("baseModelArn", ""))),
            status=status,
            provider_status=shown,
            created_at=_when(job["creationTime"]),
            training_file=str(job["trainingDataConfig"].get("s3Uri", "")),
            validation_file=str(validators[0]["s3Uri"]) if validators else None,
            hyperparameters=Hyperparameters(
                n_epochs=_int(params.get("epochCount")),
                batch_size=_int(params.get("batchSize")),
                learning_rate_multiplier=as_float(params.get("learningRate")),
            ),
            suffix=_suffix(str(job.get("outputModelName") or ""), name),
            fine_tuned_model=(
                str(job.get("outputModelArn")) if status is JobStatus.SUCCEEDED else None
            ),
            error=error,
            finished_at=_when(finished) if status.terminal and finished else None,
            metadata=dict(tags),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as problem:
        log.warning("malformed Bedrock job", extra={"error": str(problem)[:200]})
        raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None


def phase(status: str, details: Mapping[str, Any]) -> str:
    """InProgress with the phase its statusDetails say runs (validation, data processing,
    training); any other status as it came."""
    if status != "InProgress":
        return status

    def of(name: str) -> str:
        return str((details.get(name) or {}).get("status") or "")

    if of("trainingDetails") == "InProgress":
        return TRAINING
    if of("dataProcessingDetails") == "InProgress" or (
        of("validationDetails") == "Completed" and of("trainingDetails") in ("", "NotStarted")
    ):
        return PREPARING
    if of("validationDetails") == "InProgress":
        return VALIDATING
    return status


def custom_model_name(suffix: str | None, token: str) -> str:
    """The custom model's name: the suffix (letters, digits, dashes) and the job's token."""
    own = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in suffix or "")
    own = own.strip("-")[:40].strip("-")
    return f"{own}-{token[:20]}" if own else f"{JOB_PREFIX}{token[:20]}"


def _suffix(model_name: str, job_name: str) -> str | None:
    """The suffix a custom model's name carries (custom_model_name's, as it was cleaned)."""
    token = job_name.removeprefix(JOB_PREFIX)
    if not model_name or model_name == job_name or not model_name.endswith("-" + token):
        return None
    return model_name.removesuffix("-" + token) or None


def model_id(arn: str) -> str:
    """A foundation model ARN's model id (arn:…:foundation-model/ID)."""
    return arn.rsplit("/", 1)[-1] if "foundation-model/" in arn else arn


def _int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def _when(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise ValueError(f"not a time: {type(value).__name__}")


__all__ = ["JOB_PREFIX", "custom_model_name", "job_state", "model_id", "phase"]
