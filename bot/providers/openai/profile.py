"""Providers: the OpenAI family's conventions: statuses, names, options, metrics, key shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from handlers.model import MetricPoint, MetricValue, as_float, as_int
from handlers.profile import (
    AccountKind,
    Capability,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

STATUSES: Mapping[str, JobStatus] = {
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}

FINE_TUNABLE_PREFIXES = (
    "gpt-4.1-2025",
    "gpt-4.1-mini-2025",
    "gpt-4.1-nano-2025",
    "gpt-4o-2024",
    "gpt-4o-mini-2024",
    "gpt-3.5-turbo",
    "o4-mini-2025",
    "babbage-002",
    "davinci-002",
)
"""Model families the fine-tuning API accepts; a provider's full model list holds many more."""

KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # OpenAI keys: sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),
)

_KEY = SetupField(name="key", label="API key", required=True)

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="openai",
        label="OpenAI",
        key_shape=re.compile(r"^sk-[A-Za-z0-9_-]{20,200}$"),
        key_refusal=(
            "That is not an OpenAI API key: they start with sk- and hold 20 or more "
            "letters, digits, '-' or '_'."
        ),
        fields=(
            _KEY,
            SetupField(name="endpoint", label="Endpoint or base URL", hint="a proxy's https URL"),
        ),
    ),
    AccountKind(
        name="compatible",
        label="OpenAI-compatible",
        key_shape=re.compile(r"^[\x21-\x7e]{8,512}$"),
        key_refusal="The key must be 8-512 printable characters.",
        fields=(
            _KEY,
            SetupField(
                name="endpoint", label="Endpoint or base URL", required=True, hint="its /v1 URL"
            ),
        ),
        choice_label="OpenAI-compatible endpoint",
    ),
)

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(name="epochs", kind=int, minimum=1, maximum=50, field="n_epochs"),
    Hyperparameter(name="batch_size", kind=int, minimum=1, maximum=256, field="batch_size"),
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=0.0,
        maximum=10.0,
        exclusive_minimum=True,
        field="learning_rate_multiplier",
        scale="multiplier",
    ),
    Hyperparameter(
        name="beta",
        kind=float,
        minimum=0.0,
        maximum=2.0,
        exclusive_minimum=True,
        field="beta",
        methods=frozenset({"dpo"}),
    ),
    Hyperparameter(name="seed", kind=int, minimum=0, maximum=2**31 - 1, field="seed"),
)

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.PAUSE,
        Capability.RESUME,
        Capability.EVENTS,
        Capability.LIVE_METRICS,
        Capability.CHECKPOINTS,
        Capability.PRICE_ESTIMATE,
        Capability.WEBHOOKS,
        Capability.STORED_COMPLETIONS,
        Capability.INFERENCE,
        Capability.JOB_TAGS,
    }
)

PROFILE = ProviderProfile(
    name="openai",
    label="OpenAI",
    methods=frozenset({"supervised", "dpo"}),
    training_types=("full",),
    hyperparameters=HYPERPARAMETERS,
    max_suffix=64,
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    job_id=re.compile(r"ftjob-[A-Za-z0-9_-]+"),
    tuned_model=re.compile(r"ft:(?P<base>[^:]+):.*"),
    base_model=re.compile("|".join(re.escape(p) for p in FINE_TUNABLE_PREFIXES)),
    default_model="gpt-4.1-mini-2025-04-14",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    example_job_id="ftjob-abc123",
    example_model="ft:gpt-4.1-mini-2025-04-14:acme:support:abc123",
    ends=date(2027, 1, 6),
    end_note=(
        "OpenAI accepts no new fine-tuning jobs from 2027-01-06. Fine-tuned models keep "
        "serving until their base models retire."
    ),
)


def tuned_name(base: str, owner: str, suffix: str, ident: str) -> str:
    """A fine-tuned model's name as OpenAI (and a server in its shape) gives it."""
    return f"ft:{base}:{owner}:{suffix}:{ident}"


def metric_point(kind: str, data: Mapping[str, MetricValue]) -> MetricPoint | None:
    """A metrics event's step and numbers, under the names the fine-tuning API gives them."""
    if kind != "metrics":
        return None
    step = as_int(data.get("step"))
    if step is None:
        return None

    def pick(*names: str) -> float | None:
        for name in names:
            value = as_float(data.get(name))
            if value is not None:
                return value
        return None

    return MetricPoint(
        step=step,
        total_steps=as_int(data.get("total_steps")),
        train_loss=pick("train_loss"),
        train_accuracy=pick("train_mean_token_accuracy"),
        valid_loss=pick("full_valid_loss", "valid_loss"),
        valid_accuracy=pick("full_valid_mean_token_accuracy", "valid_mean_token_accuracy"),
    )
