"""Providers: the Vertex AI family's conventions: statuses, names, options, data, accounts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from bot.providers.vertex.convert import problems
from handlers.profile import (
    AccountKind,
    Capability,
    DataLimits,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

STATUSES: Mapping[str, JobStatus] = {
    "JOB_STATE_QUEUED": JobStatus.QUEUED,
    "JOB_STATE_PENDING": JobStatus.QUEUED,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_UPDATING": JobStatus.RUNNING,
    "JOB_STATE_CANCELLING": JobStatus.CANCELLING,
    "JOB_STATE_CANCELLED": JobStatus.CANCELLED,
    "JOB_STATE_SUCCEEDED": JobStatus.SUCCEEDED,
    # Some of the work failed (an evaluation, a checkpoint export): the model is there, and
    # the job carries the warning in its error.
    "JOB_STATE_PARTIALLY_SUCCEEDED": JobStatus.SUCCEEDED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    "JOB_STATE_PAUSED": JobStatus.PAUSED,
}
"""google-genai's JobState values. There is no validating state: Vertex checks the dataset
while the job is pending (its detail state says so), so a bad file fails a queued job."""

DETAIL_STATES: Mapping[str, str] = {
    "TUNING_JOB_STATE_WAITING_FOR_QUOTA": "waiting for quota",
    "TUNING_JOB_STATE_PROCESSING_DATASET": "processing the dataset",
    "TUNING_JOB_STATE_WAITING_FOR_CAPACITY": "waiting for capacity",
    "TUNING_JOB_STATE_TUNING": "tuning",
    "TUNING_JOB_STATE_POST_PROCESSING": "post-processing",
}
"""The detail state (`tuningJobState`), shown beside the state in plain words."""

TUNABLE_MODELS = (
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-2.5-pro",
)
"""Base models with a supervised-tuning entry in the reference (providers.md, Vertex); newer
ones (3.x) go by their names below, and the create call is the authority."""

SERVICE_ACCOUNT_KEYS = frozenset({"type", "project_id", "private_key", "client_email"})

KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # A service-account key's private key, as a PEM block or inside JSON with \n escapes.
    re.compile(
        r"-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.*?-----END (?:RSA |EC )?PRIVATE KEY-----",
        re.DOTALL,
    ),
    # Its private_key_id (40 hex digits), as the JSON names it.
    re.compile(r'(?<="private_key_id": ")[0-9a-f]{40}|(?<="private_key_id":")[0-9a-f]{40}'),
    # An OAuth2 access token of Google's (ya29.), as an Authorization header may carry it.
    re.compile(r"ya29\.[A-Za-z0-9_.-]{20,}"),
)


def service_account_problem(values: Mapping[str, str]) -> str | None:
    """Why the pasted text is not a service-account key file (never quotes any of it)."""
    raw = values.get("service_account", "").strip()
    if not raw:
        return (
            "Paste the service account's JSON key file (IAM, Service accounts, Keys, Add key, "
            "JSON)."
        )
    if len(raw) > MAX_SERVICE_ACCOUNT:
        return f"That is longer than any service-account key file ({MAX_SERVICE_ACCOUNT} bytes)."
    try:
        document = json.loads(raw)
    except ValueError:
        return "That is not JSON: paste the whole key file, from { to }."
    if not isinstance(document, dict) or document.get("type") != "service_account":
        return (
            'That JSON is not a service-account key ("type": "service_account"); user or '
            "workload-identity credentials are not taken here."
        )
    missing = sorted(k for k in SERVICE_ACCOUNT_KEYS if not document.get(k))
    if missing:
        return f"The key file lacks {', '.join(missing)}: download a new JSON key."
    if "PRIVATE KEY-----" not in str(document.get("private_key")):
        return "The key file's private_key is not a PEM key: download a new JSON key."
    return None


MAX_SERVICE_ACCOUNT = 8192

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="vertex",
        label="Vertex AI",
        choice_label="Google Vertex AI (service account)",
        fields=(
            SetupField(
                name="service_account",
                label="Service-account JSON",
                secret=True,
                multiline=True,
                max_length=MAX_SERVICE_ACCOUNT,
                hint="its key file; needs Vertex AI User and Storage Object Admin on the "
                "bucket. Empty: the deployment's own identity, if the operator allows it",
            ),
            SetupField(name="project", label="Google Cloud project", required=True),
            SetupField(
                name="region",
                label="Region",
                required=True,
                hint="where jobs run and the bucket is, e.g. us-central1",
                default="us-central1",
            ),
            SetupField(
                name="bucket",
                label="GCS bucket",
                required=True,
                hint="a private bucket the bot stages training files in",
            ),
            SetupField(
                name="prefix",
                label="Object prefix (optional)",
                hint="where in the bucket",
                default="finetune-bot/",
            ),
        ),
        secret_problem=service_account_problem,
        ambient=True,
    ),
)

_DPO = frozenset({"dpo"})

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(name="epochs", kind=int, minimum=1, maximum=100, field="epochCount"),
    # A multiplier of Vertex's own recommended rate, as OpenAI's is of OpenAI's.
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=0.0,
        exclusive_minimum=True,
        maximum=10.0,
        field="learningRateMultiplier",
        scale="multiplier",
    ),
    # Gemini's adapter size is its LoRA rank: 1, 2, 4, 8 or 16 (the provider refuses others).
    Hyperparameter(name="lora_r", kind=int, minimum=1, maximum=16, field="adapterSize"),
    Hyperparameter(name="beta", kind=float, minimum=0.0, maximum=10.0, field="beta", methods=_DPO),
)
"""No batch size or absolute learning rate: the SDK says those are for open models only. No
seed, warm-up, checkpoints or evals options."""

ADAPTER_SIZES: Mapping[int, str] = {
    1: "ADAPTER_SIZE_ONE",
    2: "ADAPTER_SIZE_TWO",
    4: "ADAPTER_SIZE_FOUR",
    8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN",
}

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.INFERENCE,
        Capability.PRICE_ESTIMATE,
        Capability.JOB_TAGS,
    }
)
"""No EVENTS (Vertex has no events list; its metrics go to Vertex Experiments, whose names
are unverified), so no LIVE_METRICS or CHECKPOINTS; no pause call; no webhooks. The tuned
model is deployed to an endpoint by Vertex itself, so no deploy step before inference.
JOB_TAGS: the bot's metadata rides in the job's description, its idempotency key in a label."""

PROFILE = ProviderProfile(
    name="vertex",
    label="Vertex AI",
    methods=frozenset({"supervised", "dpo"}),
    training_types=("lora",),
    hyperparameters=HYPERPARAMETERS,
    # tunedModelDisplayName takes 128 characters; the bot keeps it short for chat.
    max_suffix=64,
    limits=DataLimits(
        tokens_per_example=131_072,
        file_bytes=1 << 30,
        max_examples=1_000_000,
        max_validation_examples=5_000,
    ),
    converts=problems,
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    # The id in projects/{p}/locations/{r}/tuningJobs/{id}.
    job_id=re.compile(r"[0-9]{1,24}"),
    tuned_model=re.compile(r"projects/[^/\s]+/locations/[^/\s]+/endpoints/[0-9]+"),
    base_model=re.compile(r"gemini-[0-9][0-9a-z.-]*"),
    default_model="gemini-2.5-flash",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    example_job_id="1234567890123456789",
    example_model="projects/acme/locations/us-central1/endpoints/987654321",
)
