"""Providers: the Amazon Bedrock family's conventions: statuses, names, options, data, account."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.providers.bedrock.convert import problems
from bot.providers.bedrock.models import BASE_MODELS
from handlers.profile import (
    AccountKind,
    Capability,
    DataLimits,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

VALIDATING = "InProgress: validation"
PREPARING = "InProgress: data processing"
TRAINING = "InProgress: training"

STATUSES: Mapping[str, JobStatus] = {
    # InProgress is one status at Bedrock; its statusDetails say which phase runs, and the
    # bot shows it: checking the data, preparing it (waiting to train), training.
    VALIDATING: JobStatus.VALIDATING,
    PREPARING: JobStatus.QUEUED,
    TRAINING: JobStatus.RUNNING,
    "InProgress": JobStatus.RUNNING,
    "Stopping": JobStatus.CANCELLING,
    "Stopped": JobStatus.CANCELLED,
    "Completed": JobStatus.SUCCEEDED,
    "Failed": JobStatus.FAILED,
}
"""ModelCustomizationJobStatus (service-2.json: InProgress, Completed, Failed, Stopping,
Stopped), InProgress split by its sub-phase."""

ACCESS_KEY_ID = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")
KEY_PATTERNS: tuple[re.Pattern[str], ...] = (ACCESS_KEY_ID,)
"""AWS access key ids; a secret access key (40 base64 characters) has no prefix to find it by,
so it is never written anywhere it would need redacting."""

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="bedrock",
        label="Amazon Bedrock",
        key_shape=re.compile(r"^(?:AKIA|ASIA)[A-Z0-9]{16}$"),
        key_refusal=(
            "That is not an AWS access key id: they are 20 characters starting with AKIA (or "
            "ASIA for temporary ones). Copy it from IAM, Users, Security credentials."
        ),
        fields=(
            SetupField(name="key", label="Access key id", hint="AKIA…"),
            SetupField(
                name="secret_access_key",
                label="Secret access key",
                secret=True,
                max_length=128,
            ),
            SetupField(name="region", label="Region", required=True, default="us-east-1"),
            SetupField(
                name="role_arn",
                label="IAM role ARN",
                required=True,
                hint="arn:aws:iam::ACCOUNT:role/NAME, the role Bedrock assumes to read and "
                "write the bucket",
            ),
            # One field for bucket and prefix: a Discord modal holds five inputs.
            SetupField(
                name="bucket",
                label="S3 bucket and prefix",
                required=True,
                hint="BUCKET or BUCKET/PREFIX/ (default prefix finetune-bot/): a private "
                "bucket in the region",
            ),
        ),
        ambient=True,
    ),
)

_US = frozenset({"supervised"})

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    # No defaults: each model has its own (Bedrock's), which apply when an option is unset.
    Hyperparameter(
        name="epochs", kind=int, minimum=1, maximum=10, field="epochCount", methods=_US
    ),
    Hyperparameter(
        name="batch_size", kind=int, minimum=1, maximum=256, field="batchSize", methods=_US
    ),
    # An absolute rate (learningRate); Claude 3 Haiku takes a multiplier instead and is
    # refused lr= by its model entry (models.py).
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1.0,
        field="learningRate",
        methods=_US,
        scale="absolute",
    ),
)
"""Bedrock's hyperParameters are strings by model; each model's range is its own and Bedrock
checks it at create (a ValidationException, shown as it came)."""

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.INFERENCE,
        # A custom model answers only from an on-demand deployment or provisioned throughput.
        Capability.DEPLOY_BEFORE_INFERENCE,
        # Jobs carry the bot's tags (jobTags), read back with ListTagsForResource.
        Capability.JOB_TAGS,
        # The step-wise CSV in the output location, written when the job completes.
        Capability.METRICS,
    }
)
"""No EVENTS and no LIVE_METRICS: Bedrock shows no loss while a job trains. Its step-wise
metrics are a CSV in the output location once the job completes (ports.MetricFiles). No
pause, no checkpoints, no provider estimate."""

METRICS_NOTE = (
    "Amazon Bedrock shows no live loss: its per-step metrics arrive when the job completes, "
    "and the chart with them."
)

LIMITS = DataLimits(
    # UNVERIFIED defaults after AWS's model-customization quotas (records per file, tokens
    # per example) as the notes recall them; Bedrock's own check at create is the authority,
    # and the per-model token limit is in prices.json.
    tokens_per_example=32_000,
    min_examples=8,
    max_examples=10_000,
    max_validation_examples=1_000,
)

DEPLOY_NOTE = (
    "Amazon Bedrock serves a custom model only from an on-demand deployment (billed per "
    "token) or Provisioned Throughput (billed per model unit per hour): set one up in the "
    "Bedrock console, Custom models, before Try and Compare."
)

PROFILE = ProviderProfile(
    name="bedrock",
    label="Amazon Bedrock",
    methods=frozenset({"supervised"}),
    training_types=("full",),
    hyperparameters=HYPERPARAMETERS,
    max_suffix=40,
    formats={"supervised": frozenset({"chat", "completion"})},
    limits=LIMITS,
    converts=problems,
    capabilities=CAPABILITIES,
    metrics_note=METRICS_NOTE,
    deploy_note=DEPLOY_NOTE,
    statuses=STATUSES,
    job_id=re.compile(r"ftb-[0-9a-f]{20}"),
    tuned_model=re.compile(r"arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:custom-model/.+"),
    base_model=re.compile("|".join(re.escape(m) for m in BASE_MODELS)),
    default_model="amazon.nova-micro-v1:0:128k",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    example_job_id="ftb-1a2b3c4d5e6f7a8b9c0d",
    example_model="arn:aws:bedrock:us-east-1:123456789012:custom-model/ftb-1a2b3c4d5e6f7a8b9c0d",
)
