"""Providers: the Nebius Token Factory family's conventions: statuses, names, options, keys.

Nebius documents an OpenAI-compatible fine-tuning API (files, fine_tuning.jobs); what it
does not document is marked unverified here and in the README: its status words, its events
and checkpoints, and the bounds of its hyperparameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.providers.openai import profile as openai
from handlers.profile import (
    AccountKind,
    Capability,
    Hyperparameter,
    JobStatus,
    ProviderProfile,
    SetupField,
)

BASE_URL = "https://api.tokenfactory.nebius.com/v1/"

STATUSES: Mapping[str, JobStatus] = {
    # Unverified: taken to be OpenAI's words, as the API says it is OpenAI-compatible.
    **openai.STATUSES,
}

FINE_TUNABLE_PREFIXES = (
    "meta-llama/",
    "Qwen/",
)
"""The open-weight models Nebius lists for post-training (docs.tokenfactory.nebius.com,
post-training/models); the create call itself is the authority on a given one."""

ACCOUNTS: tuple[AccountKind, ...] = (
    AccountKind(
        name="nebius",
        label="Nebius Token Factory",
        # Unverified shape: any long printable token (the console issues it once).
        key_shape=re.compile(r"^[\x21-\x7e]{20,4096}$"),
        key_refusal=(
            "That is not a Nebius Token Factory key: paste the whole API key from "
            "tokenfactory.nebius.com, API keys (20 or more printable characters)."
        ),
        # No endpoint: a team's key goes only to Nebius's own API.
        fields=(SetupField(name="key", label="API key", required=True),),
    ),
)

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(name="epochs", kind=int, minimum=1, maximum=20, default=3, field="n_epochs"),
    Hyperparameter(name="batch_size", kind=int, minimum=1, maximum=256, field="batch_size"),
    # Nebius names it learning_rate_multiplier, but its examples give an absolute rate (2e-5).
    Hyperparameter(
        name="lr",
        kind=float,
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1e-2,
        field="learning_rate_multiplier",
        scale="absolute",
    ),
    Hyperparameter(
        name="warmup", kind=float, minimum=0.0, maximum=1.0, default=0.0, field="warmup_ratio"
    ),
    Hyperparameter(name="lora_r", kind=int, minimum=1, maximum=128, field="lora_r"),
    Hyperparameter(name="lora_alpha", kind=int, minimum=1, maximum=256, field="lora_alpha"),
    Hyperparameter(name="seed", kind=int, minimum=0, maximum=2**31 - 1, field="seed"),
)
"""As Nebius's examples send them, in the legacy top-level `hyperparameters` object; the
bounds are the bot's (unverified at Nebius, which refuses what it does not take)."""

CAPABILITIES = frozenset(
    {
        Capability.CANCEL,
        Capability.EVENTS,
        Capability.LIVE_METRICS,
        Capability.CHECKPOINTS,
        Capability.INFERENCE,
        Capability.JOB_TAGS,
    }
)
"""Cancel, events, checkpoints and metadata as OpenAI's (unverified); no pause, no webhooks, no
stored completions, no bundled prices. A LoRA of a model Nebius serves answers at once
(serverless LoRA); others need a deployment (unverified, so not declared)."""

PROFILE = ProviderProfile(
    name="nebius",
    label="Nebius Token Factory",
    methods=frozenset({"supervised"}),
    training_types=("lora", "full"),
    hyperparameters=HYPERPARAMETERS,
    max_suffix=40,
    formats={"supervised": frozenset({"chat", "completion"})},
    capabilities=CAPABILITIES,
    statuses=STATUSES,
    # Unverified: job ids and fine-tuned model names taken to be OpenAI's (Nebius does not
    # document them).
    job_id=openai.PROFILE.job_id,
    tuned_model=openai.PROFILE.tuned_model,
    base_model=re.compile("|".join(re.escape(p) for p in FINE_TUNABLE_PREFIXES)),
    default_model="meta-llama/Meta-Llama-3.1-8B-Instruct",
    accounts=ACCOUNTS,
    example_job_id=openai.PROFILE.example_job_id,
    example_model=openai.tuned_name(
        "meta-llama/Meta-Llama-3.1-8B-Instruct", "acme", "support", "abc123"
    ),
)
