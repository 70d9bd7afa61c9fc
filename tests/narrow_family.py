"""Test helpers: provider families and account kinds of shapes no real one has, for the
core's profile checks."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.providers.sandbox.provider import SandboxProvider
from handlers.profile import AccountKind, Capability, Hyperparameter, ProviderProfile, SetupField

NARROW = ProviderProfile(
    name="narrow",
    label="Narrow Labs",
    methods=frozenset({"supervised"}),
    hyperparameters=(
        Hyperparameter(name="epochs", kind=int, minimum=1, maximum=5, default=2, field="epochs"),
        Hyperparameter(name="lr", kind=float, minimum=0.0, maximum=1.0, field="lr"),
    ),
    max_suffix=8,
    capabilities=frozenset({Capability.CANCEL, Capability.EVENTS, Capability.INFERENCE}),
)
"""Few epochs, no seed or batch size, a short suffix, no DPO, and no pause or resume."""

WIDE = replace(
    NARROW,
    name="wide",
    label="Wide Labs",
    hyperparameters=(
        Hyperparameter(name="epochs", kind=int, minimum=1, maximum=100, field="epochs"),
        Hyperparameter(name="seed", kind=int, minimum=0, maximum=9, field="seed"),
    ),
    max_suffix=None,
)
"""Many epochs, a seed, and no suffix."""


class NarrowSandbox(SandboxProvider):
    """The sandbox as a family of the narrow shape: its simulator still runs the jobs, and
    counts any call the core should not have made."""

    @property
    def profile(self) -> ProviderProfile:
        base = super().profile
        return replace(
            base,
            label=NARROW.label,
            hyperparameters=NARROW.hyperparameters,
            max_suffix=NARROW.max_suffix,
            capabilities=base.capabilities - {Capability.PAUSE, Capability.RESUME},
        )


_KEY = SetupField(name="key", label="API key", required=True)

HOSTED = AccountKind(
    name="hosted",
    label="Hosted Labs",
    key_shape=re.compile(r"^hl-\w+$"),
    key_refusal="Not a Hosted Labs key.",
    fields=(_KEY,),
)
PRIVATE = AccountKind(
    name="private",
    label="Private Labs",
    key_shape=re.compile(r"^\w+$"),
    key_refusal="Not a key.",
    fields=(
        _KEY,
        SetupField(name="endpoint", label="Cluster URL", required=True, hint="https://HOST:8443"),
        SetupField(name="api_version", label="Version", default="v7"),
    ),
)
