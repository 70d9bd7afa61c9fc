"""Providers: the Together-shaped sandbox's conventions: Together AI's statuses, names and
options, labelled as a simulation."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bot.providers.together import profile as together
from handlers.profile import Capability

NAME: Final = "sandbox-together"

PROFILE = replace(
    together.PROFILE,
    name=NAME,
    label="Together-shaped sandbox (simulated)",
    # Together's capabilities (no pause, resume, webhooks, stored completions or job tags),
    # but a simulated model answers at once (nothing to deploy first) and it has no per-model
    # limits of its own beyond the profile ranges.
    capabilities=together.CAPABILITIES
    - {Capability.DEPLOY_BEFORE_INFERENCE, Capability.MODEL_LIMITS},
    key_patterns=(),
    # No account of its own: a sandbox deployment serves it to every team.
    accounts=(),
    example_model="sandbox/Meta-Llama-3.1-8B-Instruct-Reference-support-1a2b3c4d",
    ends=None,
    end_note="",
)
