"""Provider adapter: what a simulated family looks like: the parts of the sandbox's engine that
differ from one simulated family to another (its profile, base models, ids, names, limits,
statuses and metrics), so one engine simulates the OpenAI shape and others alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from bot.providers.openai.profile import metric_point
from bot.providers.sandbox.limits import check_openai_spec
from bot.providers.sandbox.profile import PROFILE
from bot.providers.sandbox.records import (
    BASE_MODELS,
    MODEL_ALIASES,
    ORG,
    JobRecord,
    checkpoint_name,
    model_name,
)
from handlers.model import JobSpec, MetricPoint, MetricValue
from handlers.profile import ProviderProfile

MetricsRow = dict[str, MetricValue]


def _openai_metrics(data: MetricsRow) -> tuple[MetricsRow, MetricPoint | None]:
    return data, metric_point("metrics", data)


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxShape:
    """One simulated family. The engine's phases are named as the OpenAI API names them
    (validating_files, queued, running, paused, succeeded, failed, cancelled, and `cancelling`
    while a slow cancel lands); `statuses` renames them into the family's own words."""

    profile: ProviderProfile
    base_models: Mapping[str, datetime]
    """Fine-tunable base models; the date stands in for `created` (stable, not `now`)."""
    aliases: Mapping[str, str]
    """Short names a job resolves to a base model (the job reports the base)."""
    owned_by: str
    """Who `list_models` says owns the family's fine-tuned models."""
    job_id: Callable[[str], str]
    """A job's id from its hex digest (64 characters)."""
    file_id: Callable[[str], str]
    """A file's id from its hex digest."""
    model_name: Callable[[JobRecord], str]
    checkpoint_name: Callable[[JobRecord, int], str]
    check_spec: Callable[[JobSpec], None]
    """Raises BAD_REQUEST for what the family's API refuses."""
    default_epochs: int
    default_lr: float
    """The learning rate a job with none reports (a multiplier or an absolute rate, as the
    family's `lr` hyperparameter means it)."""
    metrics: Callable[[MetricsRow], tuple[MetricsRow, MetricPoint | None]] = _openai_metrics
    """A step's numbers (the engine's names) as the family's metrics row, and its point."""
    statuses: Mapping[str, str] = field(default_factory=dict)
    """The engine's phase -> the family's status string; a phase not named keeps its name."""
    finishing: tuple[str, ...] = ()
    """Phases after the last step, one step's time each (Together: compressing, uploading)."""
    cancel_steps: int = 0
    """How many steps' time a cancel takes to land; meanwhile the job is `cancelling`."""

    def status(self, phase: str) -> str:
        return self.statuses.get(phase, phase)

    @property
    def label(self) -> str:
        return self.profile.label


OPENAI_SHAPE: Final = SandboxShape(
    profile=PROFILE,
    base_models=BASE_MODELS,
    aliases=MODEL_ALIASES,
    owned_by=ORG,
    job_id=lambda digest: f"ftjob-sbx{digest[:21]}",
    file_id=lambda digest: f"file-sbx{digest[:24]}",
    model_name=model_name,
    checkpoint_name=checkpoint_name,
    check_spec=check_openai_spec,
    default_epochs=3,
    default_lr=1.0,
)
"""The sandbox family: OpenAI's shapes (bot/providers/sandbox/profile.py)."""
