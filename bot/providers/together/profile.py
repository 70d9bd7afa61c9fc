"""Providers: the Together AI family's conventions: statuses, names, options, metrics, keys."""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.model import MetricPoint, as_float, as_int
from handlers.profile import (
    AccountKind,
    Capability,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

STATUSES: Mapping[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "compressing": JobStatus.RUNNING,
    "uploading": JobStatus.RUNNING,
    "cancel_requested": JobStatus.CANCELLING,
    "cancelled": JobStatus.CANCELLED,
    "error": JobStatus.FAILED,
    # Not in the OpenAPI enum, but the SDK's types and Together's own tools know it.
    "user_error": JobStatus.FAILED,
    "completed": JobStatus.SUCCEEDED,
}

FINE_TUNABLE_PREFIXES = (
    "meta-llama/",
    "Qwen/",
    "deepseek-ai/",
    "openai/gpt-oss",
    "moonshotai/Kimi",
    "zai-org/GLM",
    "google/gemma",
    "mistralai/",
)
"""Organisations whose models the catalogue (/fine-tunes/models/supported) lists; the catalogue
itself is the authority, this only lets the core recognise a name without a call."""

KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Together keys: the newer tgp_v1_... form, and the older 64 hexadecimal characters.
    re.compile(r"tgp_v1_[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])[0-9a-fA-F]{64}(?![A-Za-z0-9_-])"),
)

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="together",
        label="Together AI",
        key_shape=re.compile(r"^(?:tgp_v1_[A-Za-z0-9_-]{20,200}|[0-9a-fA-F]{64})$"),
        key_refusal=(
            "That is not a Together AI key: they start with tgp_v1_ (or are 64 hexadecimal "
            "characters). Copy one from api.together.ai, Settings, API keys."
        ),
        # No endpoint: a team's key goes only to Together's own API.
        fields=(SetupField(name="key", label="API key", required=True),),
    ),
)

_DPO = frozenset({"dpo"})

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(name="epochs", kind=int, minimum=1, maximum=20, default=1, field="n_epochs"),
    # None: Together's "max", the largest batch the model's limits allow.
    Hyperparameter(name="batch_size", kind=int, minimum=1, maximum=1024, field="batch_size"),
    # An absolute learning rate, not OpenAI's multiplier; the model's limits narrow the range.
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=1e-7,
        maximum=1e-2,
        default=1e-5,
        field="learning_rate",
        scale="absolute",
    ),
    Hyperparameter(
        name="beta",
        kind=float,
        minimum=0.0,
        maximum=10.0,
        default=0.1,
        field="dpo_beta",
        methods=_DPO,
    ),
    Hyperparameter(name="seed", kind=int, minimum=0, maximum=2**31 - 1, field="random_seed"),
    Hyperparameter(
        name="checkpoints", kind=int, minimum=1, maximum=20, default=1, field="n_checkpoints"
    ),
    Hyperparameter(name="evals", kind=int, minimum=0, maximum=100, default=0, field="n_evals"),
    Hyperparameter(
        name="warmup", kind=float, minimum=0.0, maximum=1.0, default=0.0, field="warmup_ratio"
    ),
    Hyperparameter(name="lora_r", kind=int, minimum=1, maximum=256, field="lora_r"),
    Hyperparameter(name="lora_alpha", kind=int, minimum=1, maximum=512, field="lora_alpha"),
)

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.EVENTS,
        Capability.LIVE_METRICS,
        Capability.CHECKPOINTS,
        Capability.PRICE_ESTIMATE,
        Capability.PROVIDER_ESTIMATE,
        # /fine-tunes/models/limits: per base model epochs, learning rate, batch and rank.
        Capability.MODEL_LIMITS,
        Capability.INFERENCE,
        # A fine-tuned model answers only once it is deployed (a dedicated endpoint).
        Capability.DEPLOY_BEFORE_INFERENCE,
    }
)
"""No pause or resume, no webhooks, no stored completions, and no job metadata (JOB_TAGS): the
bot's tags ride in the suffix instead (bot/providers/together/tags.py)."""

PROFILE = ProviderProfile(
    name="together",
    label="Together AI",
    methods=frozenset({"supervised", "dpo"}),
    training_types=("lora", "full"),
    hyperparameters=HYPERPARAMETERS,
    max_suffix=40,
    # Together trains on conversations or prompt/completion pairs; DPO on preference pairs.
    formats={
        "supervised": frozenset({"chat", "completion"}),
        "dpo": frozenset({"preference"}),
    },
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    job_id=re.compile(r"ft-[A-Za-z0-9-]+"),
    # owner/Base-Model-suffix-1a2b3c4d: the base cannot be read back reliably from the name.
    tuned_model=re.compile(r"[A-Za-z0-9_.-]+/[^\s/]+-[0-9a-f]{8}"),
    base_model=re.compile("|".join(re.escape(p) for p in FINE_TUNABLE_PREFIXES)),
    default_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    example_job_id="ft-3b883474-f39c-40d9-9d5a-7f97ba9eeb9f",
    example_model="acme/Meta-Llama-3.1-8B-Instruct-Reference-support-1a2b3c4d",
)

_STEP_KEYS = ("train/global_step", "global_step", "step")


def metric_point(
    snapshot: Mapping[str, object], *, total_steps: int | None = None
) -> MetricPoint | None:
    """One row of GET /fine-tunes/{id}/metrics (a flat dict of scalars) as a point; None for a
    row with no step. Together logs W&B-style names: train/loss, eval/loss, ..."""
    step = next((s for s in (as_int(snapshot.get(k)) for k in _STEP_KEYS) if s is not None), None)
    if step is None:
        return None

    def pick(*names: str) -> float | None:
        for name in names:
            value = as_float(snapshot.get(name))
            if value is not None:
                return value
        return None

    return MetricPoint(
        step=step,
        total_steps=as_int(snapshot.get("train/total_steps")) or total_steps,
        train_loss=pick("train/loss", "loss"),
        train_accuracy=pick("train/token_accuracy", "train/mean_token_accuracy"),
        valid_loss=pick("eval/loss", "eval_loss", "valid/loss"),
        valid_accuracy=pick("eval/token_accuracy", "eval/mean_token_accuracy"),
    )
