"""Core layer: what a provider family is like (statuses, names, options, capabilities, setup)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

log = logging.getLogger(__name__)


class JobStatus(StrEnum):
    """The core's job statuses; each provider maps its own strings onto these."""

    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    GONE = "gone"
    """The provider no longer knows the job (deleted, expired, archived): never polled again."""

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.GONE})

UNKNOWN_STATUS = JobStatus.RUNNING
"""What a status string no profile knows counts as: live (polled on), never terminal."""

_unknown_seen: set[tuple[str, str]] = set()


class Capability(StrEnum):
    """What a family can do beyond upload, create, get, list and events of jobs."""

    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    """A paused job can be resumed (ports.Resumable); a family may resume without pausing
    when it pauses jobs itself and has no pause call."""
    EVENTS = "events"
    LIVE_METRICS = "live_metrics"
    METRICS = "metrics"
    """The provider hands a job's metric points as a whole (a metrics file read anew at each
    poll, ports.MetricFiles) rather than as events: they may arrive late or all at once,
    e.g. only once the job has ended."""
    CHECKPOINTS = "checkpoints"
    PRICE_ESTIMATE = "price_estimate"
    PROVIDER_ESTIMATE = "provider_estimate"
    """The provider prices a job itself, on its uploaded files (ports.PriceEstimates); the
    local estimate from the price table stays the fallback."""
    WEBHOOKS = "webhooks"
    STORED_COMPLETIONS = "stored_completions"
    DEPLOY_BEFORE_INFERENCE = "deploy_before_inference"
    INFERENCE = "inference"
    MODEL_LIMITS = "model_limits"
    """The provider says per base model what a job may ask (ports.ModelLimitsSource): the
    start is checked against them before anything is sent."""
    JOB_TAGS = "job_tags"
    """Jobs carry the bot's metadata and can be listed by it (resync, one list per team)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hyperparameter:
    """One training option: the core's name, its type and range, and the provider's field."""

    name: str
    kind: type[int] | type[float]
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    """The minimum itself is refused (a learning rate above 0, not 0)."""
    default: int | float | None = None
    """None: the provider chooses ("auto")."""
    field: str
    """The provider's own name for it (n_epochs, learning_rate_multiplier, ...)."""
    methods: frozenset[str] = frozenset()
    """The methods it applies to; empty means all."""
    scale: str = ""
    """What a value means where two families share the option's name but not its meaning
    (a learning rate "multiplier" of the provider's own rate, or an "absolute" rate): a value
    is carried from one family to another only when both say the same."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupField:
    """One thing the setup form asks for an account kind."""

    name: str
    """The setup request's field: key, endpoint or api_version."""
    label: str
    required: bool = False
    hint: str = ""
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountKind:
    """A kind of team account a family serves (e.g. the public API, a cloud's own endpoint)."""

    name: str
    label: str
    key_shape: re.Pattern[str]
    key_refusal: str
    """The one message for a key of the wrong shape (never quotes the key)."""
    fields: tuple[SetupField, ...]
    api_version_default: str | None = None
    choice_label: str = ""
    """How the setup form's list names it, when that differs from `label`."""

    def field(self, name: str) -> SetupField | None:
        return next((f for f in self.fields if f.name == name), None)

    def requires(self, name: str) -> bool:
        found = self.field(name)
        return found is not None and found.required


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderProfile:
    """A provider family's conventions, as values the core consults instead of names."""

    name: str
    label: str
    methods: frozenset[str]
    training_types: tuple[str, ...] = ("full",)
    hyperparameters: tuple[Hyperparameter, ...] = ()
    max_suffix: int | None = None
    """The longest suffix a model name takes; None: the family takes no suffix."""
    formats: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {
            "supervised": frozenset({"chat"}),
            "dpo": frozenset({"preference"}),
        }
    )
    """The training-file formats (the validator's names) each method takes."""
    capabilities: frozenset[Capability] = frozenset()
    statuses: Mapping[str, JobStatus] = field(default_factory=dict)
    """The provider's status strings and what each means."""
    job_id: re.Pattern[str] = re.compile(r".+")
    tuned_model: re.Pattern[str] = re.compile(r"(?!)")
    """A model a fine-tuning job made; group `base` names the model it was trained from."""
    base_model: re.Pattern[str] = re.compile(r"(?!)")
    """A model this family can fine-tune."""
    default_model: str = ""
    key_patterns: tuple[re.Pattern[str], ...] = ()
    """Shapes of this family's keys, for redaction wherever text leaves the process."""
    accounts: tuple[AccountKind, ...] = ()
    """The kinds of team account `setup` accepts; the first is the default."""
    example_job_id: str = ""
    example_model: str = ""
    ends: date | None = None
    """The day the family's announced end takes effect (e.g. no new fine-tuning jobs)."""
    end_note: str = ""
    """What that end means for a team, in one sentence or two (`/finetune providers`)."""
    examples: tuple[int, int] | None = None
    """The fewest and the most training examples a job takes at the family (inclusive);
    None: no limit the core checks beyond its validator's."""
    model_ends: Mapping[str, date] = field(default_factory=dict)
    """Per base model (a name or the start of one), the day training it ends, where the
    family announces an end by model rather than one for the family."""
    model_end_words: str = "ends"
    """How a model's end is said before its date ("ends no earlier than" where the provider
    gives only a floor)."""
    deploy_note: str = ""
    """What a fine-tuned model needs before it answers (a deployment made outside the bot),
    said on the completion notice; empty where it answers at once."""

    def model_end(self, model: str) -> date | None:
        """The day training `model` ends here, by the longest name in `model_ends` it starts
        with (None: no end announced for it)."""
        found = [n for n in self.model_ends if model.startswith(n)]
        return self.model_ends[max(found, key=len)] if found else None

    def model_end_line(self, model: str) -> str | None:
        """One sentence on when training `model` ends here, if an end is announced."""
        ends = self.model_end(model)
        if ends is None:
            return None
        return f"Training {model} at {self.label} {self.model_end_words} {ends.isoformat()}."

    @property
    def first_end(self) -> date | None:
        """The earliest end announced: the family's, or any of its models'."""
        days = [d for d in (self.ends, *self.model_ends.values()) if d is not None]
        return min(days) if days else None

    def hyperparameter(self, name: str) -> Hyperparameter | None:
        return next((h for h in self.hyperparameters if h.name == name), None)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def status(self, raw: str) -> JobStatus:
        """The core's status for the provider's string; an unknown one is live, logged once."""
        known = self.statuses.get(raw)
        if known is not None:
            return known
        if (self.name, raw) not in _unknown_seen:
            _unknown_seen.add((self.name, raw))
            log.warning("unknown job status", extra={"provider": self.name, "status": raw})
        return UNKNOWN_STATUS

    def is_tuned_model(self, name: str) -> bool:
        return self.tuned_model.fullmatch(name) is not None

    def tuned_base(self, name: str) -> str | None:
        """The base model a fine-tuned model name says it came from, if it says."""
        found = self.tuned_model.fullmatch(name)
        if found is None or "base" not in found.groupdict():
            return None
        return found.group("base")

    def is_fine_tunable(self, name: str) -> bool:
        return self.base_model.match(name) is not None

    def is_job_id(self, text: str) -> bool:
        return self.job_id.fullmatch(text) is not None

    def account(self, name: str | None) -> AccountKind | None:
        if not self.accounts:
            return None
        if name is None:
            return self.accounts[0]
        return next((a for a in self.accounts if a.name == name), None)


def shown_status(status: JobStatus | str, provider_status: str) -> str:
    """The status as users see it: the core's, with the provider's own beside it if it differs."""
    if not provider_status or provider_status == status:
        return str(status)
    return f"{status} ({provider_status})"


__all__ = [
    "UNKNOWN_STATUS",
    "AccountKind",
    "Capability",
    "Hyperparameter",
    "JobStatus",
    "ProviderProfile",
    "SetupField",
    "shown_status",
]
