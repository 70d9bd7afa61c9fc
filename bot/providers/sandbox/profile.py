"""Providers: the sandbox family's conventions: OpenAI's shapes, labelled as a simulation."""

from __future__ import annotations

from dataclasses import replace

from bot.providers.openai import profile as openai
from handlers.profile import Capability

PROFILE = replace(
    openai.PROFILE,
    name="sandbox",
    label="Sandbox (simulated training)",
    # It simulates the OpenAI API's statuses, names and options, but sends nothing anywhere:
    # no webhooks arrive, and no key of its own needs hiding.
    capabilities=openai.CAPABILITIES - {Capability.WEBHOOKS},
    key_patterns=(),
    # A simulation has no end date of its own.
    ends=None,
    end_note="",
)
