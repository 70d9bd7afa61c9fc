"""Providers: the Azure OpenAI family's conventions: statuses, names, tiers, retirement, keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from bot.providers.openai import profile as openai
from handlers.profile import AccountKind, Capability, JobStatus, ProviderProfile, SetupField

STATUSES: Mapping[str, JobStatus] = {
    **openai.STATUSES,
    # Not in OpenAI's enum: Azure answers it for a job accepted and not yet validating.
    "pending": JobStatus.QUEUED,
}

API_VERSION_DEFAULT = "2025-04-01-preview"
"""The api-version every request carries unless the team's setup (or OPENAI_API_VERSION) names
another: the data-plane version with fine-tuning, pause/resume and checkpoints."""

TRAINING_TYPES: tuple[str, ...] = ("globalstandard", "standard", "developer")
"""Azure's training tiers (Global Standard, Standard, Developer), sent as `trainingType`."""

TRAINING_TYPE_DEFAULT = "globalstandard"

FINE_TUNABLE_PREFIXES = (
    "gpt-4.1-2025",
    "gpt-4.1-mini-2025",
    "gpt-4.1-nano-2025",
    "gpt-4o-2024",
    "gpt-4o-mini-2024",
    "gpt-35-turbo",
    "o4-mini-2025",
    "babbage-002",
    "davinci-002",
)
"""Azure's names of the OpenAI models it fine-tunes (gpt-35-turbo, not gpt-3.5-turbo)."""

MODEL_ENDS: Mapping[str, date] = {
    "gpt-4o-2024-08-06": date(2027, 4, 1),
    "gpt-4o-mini-2024-07-18": date(2027, 4, 1),
    "gpt-4.1-2025-04-14": date(2027, 4, 14),
    "gpt-4.1-mini-2025-04-14": date(2027, 4, 14),
    "gpt-4.1-nano-2025-04-14": date(2027, 4, 14),
    "o4-mini-2025-04-16": date(2027, 4, 16),
}
"""Microsoft's model retirement schedule (2026-09-02): training of these fine-tunable models
retires "no earlier than" these days, for existing customers only; for everyone else it
retires with the base model. The dates have moved once already."""

KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Azure OpenAI keys: 32 hex characters, or the newer 84 alphanumeric ones
    re.compile(r"(?<![A-Za-z0-9_-])[0-9a-fA-F]{32}(?![A-Za-z0-9_-])"),
    re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9]{84}(?![A-Za-z0-9_-])"),
    # An Entra ID access token (a JWT) in place of the key
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
)

ENTRA_TOKEN = re.compile(r"^eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}$")
"""A key of this shape is an Entra ID token: sent as a bearer token, not as `api-key`."""

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="azure",
        label="Azure OpenAI",
        key_shape=re.compile(
            r"^(?:[0-9a-fA-F]{32}|[A-Za-z0-9]{84}|"
            r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})$"
        ),
        key_refusal=(
            "That is not an Azure OpenAI key: they are 32 hexadecimal characters "
            "(or 84 letters and digits). Copy KEY 1 from the resource's Keys and Endpoint, "
            "or paste an Entra ID access token (eyJ...)."
        ),
        fields=(
            SetupField(name="key", label="API key or Entra ID token", required=True),
            SetupField(
                name="endpoint",
                label="Endpoint",
                required=True,
                hint="https://NAME.openai.azure.com",
            ),
            SetupField(name="api_version", label="API version", default=API_VERSION_DEFAULT),
        ),
        api_version_default=API_VERSION_DEFAULT,
    ),
)

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.PAUSE,
        Capability.RESUME,
        Capability.EVENTS,
        Capability.LIVE_METRICS,
        Capability.CHECKPOINTS,
        Capability.STORED_COMPLETIONS,
        Capability.INFERENCE,
        # A fine-tuned model answers only from a deployment made in Azure (billed hourly).
        Capability.DEPLOY_BEFORE_INFERENCE,
        Capability.JOB_TAGS,
    }
)
"""OpenAI's, without webhooks (OpenAI's are for its own platform; none found for Azure) and
without a price estimate (no Azure rates are bundled: prices.json)."""

DEPLOY_NOTE = (
    "Azure serves a fine-tuned model only from a deployment: deploy it (Azure AI Foundry, "
    "Deployments, Deploy fine-tuned model) with the model's name as the deployment name, "
    "then use Try or Compare. A deployment is billed by the hour while it exists, and Azure "
    "deletes one left unused for 15 days."
)

PROFILE = ProviderProfile(
    name="azure",
    label="Azure OpenAI",
    methods=frozenset({"supervised", "dpo"}),
    training_types=("full",),
    hyperparameters=openai.HYPERPARAMETERS,
    max_suffix=64,
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    job_id=openai.PROFILE.job_id,
    # Azure names a fine-tuned model <base>.ft-<32 hex>, with "-<suffix>" when one was given.
    tuned_model=re.compile(r"(?P<base>[A-Za-z0-9.-]+?)\.ft-[0-9a-f]{32}(?:-[A-Za-z0-9_.-]+)?"),
    base_model=re.compile("|".join(re.escape(p) for p in FINE_TUNABLE_PREFIXES)),
    default_model="gpt-4.1-mini-2025-04-14",
    key_patterns=KEY_PATTERNS,
    accounts=ACCOUNTS,
    example_job_id=openai.PROFILE.example_job_id,
    example_model="gpt-4.1-mini-2025-04-14.ft-0123456789abcdef0123456789abcdef-support",
    model_ends=MODEL_ENDS,
    model_end_words="ends no earlier than",
    end_note=(
        "Azure trains OpenAI models until about April 2027, by model (below), for existing "
        "customers only; for others training ends with the base model. Deployed fine-tuned "
        "models keep serving until about October 2027."
    ),
    deploy_note=DEPLOY_NOTE,
)
