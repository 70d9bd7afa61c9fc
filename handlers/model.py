"""Core layer: the domain values every other part speaks in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from handlers.profile import JobStatus, shown_status
from handlers.secrets import Secret

TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(s for s in JobStatus if s.terminal)
"""Job states that never change again; every other status is live."""

KNOWN_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)


def is_terminal(status: str) -> bool:
    """True when a job in this status will never change again."""
    return status in TERMINAL_STATUSES


class Platform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"


class Method(StrEnum):
    SUPERVISED = "supervised"
    DPO = "dpo"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelAddress:
    """Where a message goes: a channel of one team on one platform, optionally a thread."""

    platform: Platform
    workspace_id: str
    channel_id: str
    thread_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace_id}:{self.channel_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who typed a command: workspace, channel and user, and what the platform says of rights."""

    platform: Platform
    workspace_id: str
    channel_id: str
    user_id: str
    display_name: str = ""
    is_workspace_admin: bool = False
    request_id: str = ""
    """The platform's identity of this one request (Slack trigger_id or event_id, Discord
    interaction id), already checked as new by the adapter; "" where there is none (console)."""

    @property
    def team_id(self) -> str:
        return team_id_for(self.platform, self.workspace_id)

    @property
    def channel(self) -> ChannelAddress:
        return ChannelAddress(
            platform=self.platform, workspace_id=self.workspace_id, channel_id=self.channel_id
        )


def team_id_for(platform: Platform, workspace_id: str) -> str:
    """A team is one Slack workspace or one Discord guild; its id names both parts."""
    return f"{platform}:{workspace_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Team:
    id: str
    platform: Platform
    workspace_id: str
    name: str = ""
    metric_interval_seconds: int = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Hyperparameters:
    """None means "auto": the provider picks."""

    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    warmup_ratio: float | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    warmup_steps: int | None = None
    """Warm-up as a number of steps, where a family counts it so (warmup_ratio elsewhere)."""
    context_length: int | None = None
    """The longest example, in tokens, the job trains on (its packing length)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """Everything needed to create a fine-tuning job at a provider."""

    model: str
    training_file: str
    validation_file: str | None = None
    method: Method = Method.SUPERVISED
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    seed: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    training_type: str | None = None
    """One of the profile's training types ("lora", "full"); None: the provider's default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobState:
    """The provider's view of a job at one moment."""

    id: str
    model: str
    status: JobStatus
    created_at: datetime
    training_file: str
    provider_status: str = ""
    """The provider's own word for the status (shown beside `status` when it differs)."""
    method: str = Method.SUPERVISED.value
    validation_file: str | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    seed: int | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    finished_at: datetime | None = None
    estimated_finish: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    provider_cost: float | None = None
    """The provider's own estimate of the job's cost in dollars, where the job itself carries
    one: shown in the start reply and the completion notice, read
    anew from the provider each time, never stored."""

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.provider_status)


def gone(state: JobState, now: datetime) -> JobState:
    """The job as recorded once its provider no longer knows it (deleted, expired)."""
    return replace(
        state,
        status=JobStatus.GONE,
        provider_status="",
        error=state.error
        or "The provider no longer knows this job (deleted, expired or archived).",
        finished_at=state.finished_at or now,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A team's record of a job: the provider's state plus who started it and where."""

    team_id: str
    state: JobState
    channel: ChannelAddress | None = None
    requester_id: str | None = None
    card_message_id: str | None = None
    updated_at: datetime | None = None
    provider: str = ""
    """The provider family the job runs at (a profile name), recorded at its start."""
    account: str = ""
    """Whose key for that family: ACCOUNT_TEAM or ACCOUNT_DEPLOYMENT."""
    recipe: Mapping[str, object] | None = None
    """The start as the team asked it (options left out stay out: the provider chose them);
    None for a job found by resync or started before revision 0007."""
    origin: str | None = None
    """The job whose recipe this one replays (`start like=JOB`), if any."""

    @property
    def id(self) -> str:
        return self.state.id


MetricValue = float | int | str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent:
    id: str
    job_id: str
    created_at: datetime
    level: str = "info"
    message: str = ""
    type: str = "message"
    data: Mapping[str, MetricValue] = field(default_factory=dict)
    metrics: MetricPoint | None = None
    """The step's numbers, read from `data` by the provider that knows its keys."""

    @property
    def is_metrics(self) -> bool:
        return self.type == "metrics"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricPoint:
    """One training step's numbers, parsed from a metrics event."""

    step: int
    total_steps: int | None = None
    train_loss: float | None = None
    train_accuracy: float | None = None
    valid_loss: float | None = None
    valid_accuracy: float | None = None
    epoch: int | None = None
    """The epoch the job is in at this step, counted from 1, where the provider says (not
    stored: a card shows it while the job runs)."""

    @staticmethod
    def from_event(event: JobEvent) -> MetricPoint | None:
        """The point the provider read from a metrics event, if any."""
        return event.metrics if event.is_metrics else None


def as_float(value: object) -> float | None:
    """A number from an event field; None for missing, odd or NaN values."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if result == result else None  # NaN is no number to show


def as_int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    id: str
    job_id: str
    created_at: datetime
    step: int
    model_name: str
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderFile:
    id: str
    filename: str
    bytes: int
    created_at: datetime
    purpose: str = "fine-tune"
    status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderModel:
    id: str
    created_at: datetime
    owned_by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLimits:
    """What a provider says one base model takes, for one method and training type (None:
    no bound beyond the profile's)."""

    model: str
    max_epochs: int | None = None
    max_evals: int | None = None
    min_learning_rate: float | None = None
    max_learning_rate: float | None = None
    max_lora_rank: int | None = None
    min_batch_size: int | None = None
    max_batch_size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamFile:
    """A training or validation file the team uploaded, under a short alias."""

    team_id: str
    alias: str
    provider_file_id: str
    filename: str
    sha256: str
    format: str
    examples: int
    bytes: int
    created_at: datetime
    tokens: int | None = None
    uploaded_by: str | None = None
    provider: str = ""
    """The provider family holding the file (its id means nothing at another family)."""
    account: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamModel:
    """A fine-tuned model one of the team's jobs produced."""

    team_id: str
    name: str
    base_model: str
    job_id: str
    created_at: datetime
    provider: str = ""
    """The provider family serving the model: the job's."""
    account: str = ""


ACCOUNT_TEAM = "team"
"""A row made with the team's own key for its family (set up with `setup`)."""
ACCOUNT_DEPLOYMENT = "deployment"
"""A row made on the deployment's account for its family (tag-scoped, shared by teams)."""


def model_made_by(
    team_id: str, state: JobState, *, now: datetime, provider: str = "", account: str = ""
) -> TeamModel | None:
    """The fine-tuned model a succeeded job produced, as the team's record; None otherwise."""
    if state.status != JobStatus.SUCCEEDED or not state.fine_tuned_model:
        return None
    return TeamModel(
        team_id=team_id,
        name=state.fine_tuned_model,
        base_model=state.model,
        job_id=state.id,
        created_at=state.finished_at or now,
        provider=provider,
        account=account,
    )


class SubscriptionFilter(StrEnum):
    ALL = "all"
    COMPLETIONS = "completions"
    FAILURES = "failures"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    team_id: str
    channel: ChannelAddress
    filter: SubscriptionFilter = SubscriptionFilter.ALL
    created_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    team_id: str
    user_id: str
    command: str
    arguments: str
    result: str
    at: datetime


class Role(StrEnum):
    """What a member may do in a team: each role includes the ones below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleGrant:
    team_id: str
    user_id: str
    role: Role
    granted_by: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamCredentials:
    """A team's own provider account; `api_key` is a handlers.secrets.Secret, never printed."""

    team_id: str
    provider: str
    """The account kind (a provider profile's AccountKind name)."""
    api_key: Secret
    endpoint: str | None = None
    api_version: str | None = None
    set_by: str = ""
    updated_at: datetime | None = None
    family: str = ""
    """The provider family the key is for (a profile name): a team keeps one key per family."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """The account's own non-secret settings (a cloud's project, region, bucket, role...),
    by the account kind's setup field names; stored as they are, shown by `setup show`."""

    @property
    def fingerprint(self) -> str:
        return self.api_key.fingerprint

    @property
    def ambient(self) -> bool:
        """No secret of its own: the deployment's cloud identity acts for the team."""
        return not self.api_key.reveal()


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """A team's monthly cap and the cost above which a start waits for an admin (None: none)."""

    team_id: str
    monthly_cap: float | None = None
    approve_over: float | None = None


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A start that waits for an admin because its estimated cost is above the threshold."""

    id: str
    team_id: str
    requester_id: str
    channel: ChannelAddress
    request: Mapping[str, object]
    """The start request's fields (handlers.governance encodes and decodes them)."""
    cost: float | None
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    job_id: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.status is ApprovalStatus.PENDING and now >= self.expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendEntry:
    """One job's cost in a month: estimated at start, corrected by trained tokens at the end."""

    team_id: str
    job_id: str
    month: str
    estimated: float
    price_per_million: float | None = None
    actual: float | None = None

    @property
    def counted(self) -> float:
        return self.actual if self.actual is not None else self.estimated


@dataclass(frozen=True, slots=True, kw_only=True)
class StartIntent:
    """A start written down before the provider is called, so a crash cannot lose or double it.

    `key` is the provider idempotency key, used on every try; `job_id` is set once the job is
    known, and `settled_at` once the job is linked and billed (or the start is known to have
    made nothing).
    """

    key: str
    team_id: str
    requester_id: str
    channel: ChannelAddress
    fingerprint: str
    """A digest of the request's fields: the same user's identical start finds this intent."""
    request: Mapping[str, object]
    estimated: float | None
    price_per_million: float | None
    account: str
    """Which provider account the job goes to: "own" (the team's key) or "shared"."""
    created_at: datetime
    approval_id: str | None = None
    job_id: str | None = None
    settled_at: datetime | None = None
    provider: str = ""
    """The provider family the start goes to (a profile name): recovery asks that family."""
    provider_account: str = ""
    """ACCOUNT_TEAM or ACCOUNT_DEPLOYMENT: whose key the job is made with."""
