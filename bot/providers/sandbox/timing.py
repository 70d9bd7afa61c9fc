"""Provider adapter: how long the sandbox's simulated phases last (the demo's and the default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SandboxTiming:
    """How long each simulated phase lasts, in seconds, and how big a job may get.

    Positional construction (`SandboxTiming(1, 1, 0.25)`) is allowed on purpose: it reads as
    the three phase lengths the demo and tests tune.
    """

    validating_s: float = 20.0
    queued_s: float = 30.0
    step_s: float = 5.0
    max_steps: int = 60
    eval_every: int = 10

    def __post_init__(self) -> None:
        if self.validating_s < 0 or self.queued_s < 0:
            raise ValueError("phase durations must not be negative")
        if self.step_s <= 0:
            raise ValueError("step_s must be positive: a step that takes no time never ends")
        if self.max_steps < 1 or self.eval_every < 1:
            raise ValueError("max_steps and eval_every must be at least 1")


DEFAULT_TIMING: Final = SandboxTiming()
"""Realistic but quick: 20 s validating, 30 s queued, 5 s a step (a 60-step job in ~6 min)."""

FAST_TIMING: Final = SandboxTiming(
    validating_s=1.0, queued_s=1.0, step_s=0.25, max_steps=40, eval_every=5
)
"""For the demo: a whole job in about 12 s."""
