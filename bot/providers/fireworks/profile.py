"""Providers: the Fireworks AI family's conventions: statuses, names, options, metrics, keys."""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.profile import (
    AccountKind,
    Capability,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

STATUSES: Mapping[str, JobStatus] = {
    "JOB_STATE_CREATING": JobStatus.VALIDATING,
    "JOB_STATE_VALIDATING": JobStatus.VALIDATING,
    "JOB_STATE_CREATING_INPUT_DATASET": JobStatus.VALIDATING,
    "JOB_STATE_PENDING": JobStatus.QUEUED,
    "JOB_STATE_RE_QUEUEING": JobStatus.QUEUED,
    "JOB_STATE_IDLE": JobStatus.QUEUED,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_WRITING_RESULTS": JobStatus.RUNNING,
    "JOB_STATE_CANCELLING": JobStatus.CANCELLING,
    "JOB_STATE_CANCELLED": JobStatus.CANCELLED,
    "JOB_STATE_COMPLETED": JobStatus.SUCCEEDED,
    "JOB_STATE_EARLY_STOPPED": JobStatus.SUCCEEDED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    # "Typically due to account suspension or manual intervention": the provider's status
    # message goes with it.
    "JOB_STATE_PAUSED": JobStatus.PAUSED,
}
"""The SDK's `state` literals. The deleting ones are not here: see GONE_STATES."""

GONE_STATES = frozenset(
    {
        "JOB_STATE_DELETING",
        "JOB_STATE_DELETING_CLEANING_UP",
        "JOB_STATE_DELETED",
        "JOB_STATE_ARCHIVED",
    }
)
"""A job in one of these is gone: the provider answers NOT_FOUND for it, which the watcher
announces once and stops watching (as for a job deleted outside the bot)."""

FINE_TUNABLE_PREFIXES = ("accounts/fireworks/models/",)
"""Fireworks names its own base models accounts/fireworks/models/<id>; whether one is tunable
is a flag on its model card, which the provider reads before a create."""

KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Fireworks keys: fw_ and an alphanumeric tail (the shape the console shows; the SDK
    # itself does not check it).
    re.compile(r"fw_[A-Za-z0-9]{16,}"),
)

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="fireworks",
        label="Fireworks AI",
        key_shape=re.compile(r"^fw_[A-Za-z0-9]{16,200}$"),
        key_refusal=(
            "That is not a Fireworks AI key: they start with fw_. Copy one from "
            "fireworks.ai, Account, API Keys."
        ),
        # No endpoint and no account field: the setup request carries only key, endpoint and
        # api_version, so a team's account id is the one its key belongs to (GET /v1/accounts).
        fields=(SetupField(name="key", label="API key", required=True),),
    ),
)

_DPO = frozenset({"dpo"})

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(name="epochs", kind=int, minimum=1, maximum=100, default=1, field="epochs"),
    # In samples (batchSizeSamples); None: Fireworks chooses.
    Hyperparameter(name="batch_size", kind=int, minimum=1, maximum=1024, field="batchSizeSamples"),
    # An absolute learning rate, not OpenAI's multiplier.
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1.0,
        default=1e-4,
        field="learningRate",
        scale="absolute",
    ),
    Hyperparameter(
        name="beta",
        kind=float,
        minimum=0.0,
        maximum=10.0,
        default=0.1,
        field="lossConfig.dpo.beta",
        methods=_DPO,
    ),
    # Supervised and DPO jobs both take a LoRA rank (loraRank; the DPO one in its
    # trainingConfig).
    Hyperparameter(name="lora_r", kind=int, minimum=1, maximum=64, field="loraRank"),
    # Warm-up in steps (learningRateWarmupSteps), not the core's ratio: warmup= is refused by
    # name and warmup_steps= is Fireworks' own.
    Hyperparameter(
        name="warmup_steps", kind=int, minimum=0, maximum=100_000, field="learningRateWarmupSteps"
    ),
    # The packing length in tokens (maxContextLength); None: the base model's.
    Hyperparameter(
        name="context_length", kind=int, minimum=1, maximum=1_048_576, field="maxContextLength"
    ),
)
"""No seed: Fireworks jobs take none, so `seed=` is refused by name for this family."""

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        # `:resume` for a job Fireworks paused itself; there is no pause call.
        Capability.RESUME,
        # jobProgress and the metrics file behind metricsFileSignedUrl, read at each poll.
        Capability.METRICS,
        Capability.INFERENCE,
        # A fine-tuned model answers only from an on-demand deployment, billed per GPU-second.
        Capability.DEPLOY_BEFORE_INFERENCE,
    }
)
"""No EVENTS (Fireworks has no events endpoint) and so no LIVE_METRICS: metric points come
from the metrics file (METRICS), its total steps from jobProgress.percent. No PAUSE (no pause
call; RESUME alone resumes a job Fireworks paused). No PROVIDER_ESTIMATE: the pinned SDK has
no estimate call; the job it made carries `estimatedCost` (JobState.provider_cost). No
webhooks, no stored completions, no job labels (JOB_TAGS: the bot's tags ride in the job id
and display name)."""

PROFILE = ProviderProfile(
    name="fireworks",
    label="Fireworks AI",
    methods=frozenset({"supervised", "dpo"}),
    training_types=("lora",),
    hyperparameters=HYPERPARAMETERS,
    max_suffix=40,
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    # The id inside accounts/{a}/supervisedFineTuningJobs/{id}; a DPO job's id is dpo:{id}.
    job_id=re.compile(r"(?:dpo:)?[a-z0-9][a-z0-9-]{0,62}"),
    tuned_model=re.compile(r"accounts/(?!fireworks/)[a-z0-9-]+/models/[a-z0-9][a-z0-9-]*"),
    base_model=re.compile("|".join(re.escape(p) for p in FINE_TUNABLE_PREFIXES)),
    default_model="accounts/fireworks/models/llama-v3p1-8b-instruct",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    # Fireworks' dataset limits: "Minimum examples: 3; Maximum examples: 3 million".
    examples=(3, 3_000_000),
    example_job_id="ftb-1a2b3c4d5e6f",
    example_model="accounts/acme/models/ftb-1a2b3c4d5e6f",
)
