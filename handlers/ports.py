"""Core layer: the ports the core needs from the outside (provider, store, notifier, clock...)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.model import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    Budget,
    ChannelAddress,
    Checkpoint,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    MetricPoint,
    ModelLimits,
    ProviderFile,
    ProviderModel,
    Role,
    RoleGrant,
    SpendEntry,
    StartIntent,
    Subscription,
    Team,
    TeamCredentials,
    TeamFile,
    TeamModel,
)
from handlers.profile import Capability, ProviderProfile
from handlers.replies import Reply


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Tokenizer(Protocol):
    @property
    def exact(self) -> bool:
        """False when counts are estimates (the encodings could not be loaded)."""
        ...

    def counter(self, model: str) -> Callable[[str], int]:
        """`count` for one model as a one-argument function, its encoding looked up once: the
        dataset validator counts millions of texts with it."""
        ...

    def count(self, text: str, *, model: str) -> int: ...


class Files(Protocol):
    """Training files at the provider."""

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Upload a training file of any size the provider takes; `progress(done, total)`
        is called as bytes go out (large files go in parts)."""
        ...

    async def delete_file(self, file_id: str) -> None: ...

    async def file_content(self, file_id: str) -> bytes:
        """An uploaded file's bytes (a test set to run a comparison on)."""
        ...


class Jobs(Protocol):
    """Fine-tuning jobs and the models they start from and make."""

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        """Create a job exactly once: a retry with the same key returns the first job."""
        ...

    async def get_job(self, job_id: str) -> JobState: ...

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]: ...

    async def list_models(self) -> Sequence[ProviderModel]: ...


class FineTuning(Files, Jobs, Protocol):
    """What every provider family implements; the rest is optional, by capability."""

    @property
    def label(self) -> str:
        """A short human name, e.g. "OpenAI" or "Sandbox (simulated)"."""
        ...

    @property
    def is_simulation(self) -> bool: ...

    @property
    def profile(self) -> ProviderProfile:
        """The family's conventions and capabilities, consulted before any optional call."""
        ...


@runtime_checkable
class Cancellable(Protocol):
    async def cancel_job(self, job_id: str) -> JobState: ...


@runtime_checkable
class Pausable(Protocol):
    async def pause_job(self, job_id: str) -> JobState: ...


@runtime_checkable
class Resumable(Protocol):
    async def resume_job(self, job_id: str) -> JobState:
        """Start a paused job again (paused by the team, or by the provider itself)."""
        ...


@runtime_checkable
class Events(Protocol):
    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        """Events newer than the one whose id is `cursor` (all if None), oldest first."""
        ...


@runtime_checkable
class MetricFiles(Protocol):
    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        """Every metric point the provider has for the job so far, in step order (its
        metrics file, read whole); empty while there is none. Points may come late or all at
        once (a file written when the job ends): the watcher stores the steps it lacks."""
        ...


@runtime_checkable
class Checkpoints(Protocol):
    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderEstimate:
    """A provider's own price for a job, in dollars, with the tokens it counted."""

    price: float | None
    train_tokens: int | None
    eval_tokens: int | None
    allowed_to_proceed: bool | None
    """False when the provider says the account may not start it (credit, limits)."""
    user_limit: float | None


@runtime_checkable
class PriceEstimates(Protocol):
    async def estimate_price(self, spec: JobSpec) -> ProviderEstimate:
        """What the provider says `spec` would cost (its files already uploaded)."""
        ...


@runtime_checkable
class ModelLimitsSource(Protocol):
    async def model_limits(
        self, model: str, *, method: Method, training_type: str | None
    ) -> ModelLimits:
        """What `model` takes for `method` and training type (None: the provider's default);
        ProviderError NOT_FOUND when the provider cannot fine-tune it."""
        ...


@runtime_checkable
class Inference(Protocol):
    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """One chat completion; `store=True` keeps it for `list_stored_completions`."""
        ...


@runtime_checkable
class CompletionLog(Protocol):
    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        """Stored completions, newest first, with their request messages: at most `limit`."""
        ...


CAPABILITY_PORTS: Mapping[Capability, type] = {
    Capability.CANCEL: Cancellable,
    Capability.PAUSE: Pausable,
    Capability.RESUME: Resumable,
    Capability.EVENTS: Events,
    Capability.METRICS: MetricFiles,
    Capability.CHECKPOINTS: Checkpoints,
    Capability.INFERENCE: Inference,
    Capability.STORED_COMPLETIONS: CompletionLog,
    Capability.PROVIDER_ESTIMATE: PriceEstimates,
    Capability.MODEL_LIMITS: ModelLimitsSource,
}
"""The protocol a family implements when its profile declares the capability."""


class Provider(
    FineTuning,
    Cancellable,
    Pausable,
    Resumable,
    Events,
    Checkpoints,
    Inference,
    CompletionLog,
    Protocol,
):
    """What the core holds: a team's view (handlers.scope) that answers every capability;
    the core asks `profile.can(...)` first, and the view refuses what the family lacks. The
    view also answers PriceEstimates and MetricFiles, which the core checks for by
    isinstance where the profile declares them."""


class ProviderDirectory(Protocol):
    """Which provider serves a team: one per (team, provider family)."""

    async def for_team(self, team_id: str, family: str | None = None) -> Provider:
        """The team's view of `family` (a profile name; None: the team's default family, else
        the deployment's). A family the team cannot use answers every call with AUTH."""
        ...

    async def available(self, team_id: str) -> Sequence[str]:
        """The families the team can use now, its default first."""
        ...


class ChartRenderer(Protocol):
    def render(self, title: str, points: Sequence[MetricPoint]) -> bytes:
        """A PNG of train/validation loss and token accuracy over steps."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchClaim:
    """A job leased to one watcher for one poll; `fence` guards the write-back."""

    job: Job
    cursor: str | None
    fence: int
    polls_without_news: int
    last_notified_metric_at: datetime | None
    due_at: datetime | None = None
    """When the poll was due (the job's next poll time when it was claimed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """What one poll of a leased job writes back: see WatchStore.commit_poll."""

    claim: WatchClaim
    state: JobState
    cursor: str | None
    messages: Sequence[OutboxMessage]
    metric_points: Sequence[MetricPoint]
    next_poll_at: datetime | None
    polls_without_news: int
    last_notified_metric_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A notice to post: a new message, or the newest state of a card to edit in place."""

    dedupe_key: str
    team_id: str
    target: ChannelAddress
    kind: str
    reply: Reply
    job_id: str | None = None
    card_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    id: int
    message: OutboxMessage
    attempts: int
    lease_owner: str
    existing_message_id: str | None = None
    created_at: datetime | None = None
    """When the row was enqueued: the start of its notification latency."""
    maybe_posted: bool = False
    """An earlier claim of this row (or of an older row of its card) may have posted it: the
    platform accepted the post and the process stopped before recording it. The dispatcher
    looks for the message (PostLookup) before posting again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SentPost:
    """An outbox row the platform accepted: the message id it answered and when."""

    item: OutboxItem
    message_id: str
    sent_at: datetime


class KeyChecker(Protocol):
    """Tries a team's key against its provider before the key is stored."""

    async def check(self, credentials: TeamCredentials) -> None:
        """Return if the provider accepts the key; raise ProviderError (AUTH when refused)."""
        ...


class TeamStore(Protocol):
    """Roles, the team's own provider key, budgets, spend and approvals; all scoped by team."""

    async def get_role(self, team_id: str, user_id: str) -> Role | None: ...

    async def set_role(self, grant: RoleGrant) -> None: ...

    async def remove_role(self, team_id: str, user_id: str) -> bool: ...

    async def list_roles(self, team_id: str) -> Sequence[RoleGrant]: ...

    async def can_store_secrets(self) -> bool:
        """False when no encryption key is configured (FINETUNE_BOT_ENCRYPTION_KEYS)."""
        ...

    async def get_credentials(
        self, team_id: str, family: str | None = None
    ) -> TeamCredentials | None:
        """The team's own key for one provider family (a team keeps one per family); None
        asks for the key of the team's default family."""
        ...

    async def list_credentials(self, team_id: str) -> Sequence[TeamCredentials]:
        """Every family's key the team set up, ordered by family."""
        ...

    async def set_credentials(self, credentials: TeamCredentials) -> None:
        """Insert or replace the key of `credentials.family` for the team."""
        ...

    async def remove_credentials(self, team_id: str, family: str) -> bool: ...

    async def get_default_provider(self, team_id: str) -> str | None:
        """The family `start` uses when it names none; None: the deployment's."""
        ...

    async def set_default_provider(self, team_id: str, family: str | None) -> None: ...

    async def get_budget(self, team_id: str) -> Budget: ...

    async def set_budget(self, budget: Budget) -> None: ...

    async def add_spend(self, entry: SpendEntry) -> None: ...

    async def get_spend(self, team_id: str, job_id: str) -> SpendEntry | None: ...

    async def settle_spend(self, team_id: str, job_id: str, actual: float) -> None: ...

    async def month_spend(self, team_id: str, month: str) -> float:
        """Sum over the month's jobs of the actual cost, or the estimate until it is known."""
        ...

    async def add_approval(self, approval: Approval) -> None: ...

    async def get_approval(self, team_id: str, approval_id: str) -> Approval | None: ...

    async def decide_approval(
        self,
        team_id: str,
        approval_id: str,
        *,
        status: ApprovalStatus,
        by: str,
        at: datetime,
    ) -> bool:
        """Move a pending request to `status`; False when it was no longer pending."""
        ...

    async def set_approval_job(self, team_id: str, approval_id: str, job_id: str) -> None: ...


class StartStore(Protocol):
    """Request identities seen once (replays) and start intents (starts that survive a crash)."""

    async def claim_request(self, identity: str, *, expires_at: datetime) -> bool:
        """True the first time an identity is seen on any replica; False for a repeat."""
        ...

    async def add_intent(self, intent: StartIntent) -> StartIntent:
        """Insert-or-keep by key: returns the stored intent (the first one for a repeat)."""
        ...

    async def get_intent(self, team_id: str, key: str) -> StartIntent | None: ...

    async def find_intent(
        self, team_id: str, *, requester_id: str, fingerprint: str, since: datetime
    ) -> StartIntent | None:
        """The requester's newest identical start since `since` (one that made or may make
        a job)."""
        ...

    async def list_open_intents(self, *, limit: int = 500) -> Sequence[StartIntent]:
        """Unsettled intents of every team, oldest first: for recovery only."""
        ...

    async def link_intent(self, team_id: str, key: str, job_id: str) -> None: ...

    async def settle_intent(
        self, team_id: str, key: str, *, job_id: str | None, at: datetime
    ) -> bool:
        """Close an open intent; True for the one call that closed it."""
        ...


class Store(TeamStore, StartStore, Protocol):
    """Durable state; every read is scoped by team."""

    async def ensure_team(self, team: Team) -> Team: ...

    async def get_team(self, team_id: str) -> Team | None: ...

    async def set_metric_interval(self, team_id: str, seconds: int) -> bool:
        """The team's own metric throttle; False when there is no such team."""
        ...

    # files
    async def add_file(self, file: TeamFile) -> None: ...

    async def get_file(self, team_id: str, alias_or_id: str) -> TeamFile | None: ...

    async def find_file_by_sha256(
        self, team_id: str, sha256: str, *, provider: str | None = None
    ) -> TeamFile | None:
        """The team's newest file with these bytes (at one family when `provider` names it)."""
        ...

    async def list_files(self, team_id: str) -> Sequence[TeamFile]: ...

    async def delete_file(self, team_id: str, alias: str) -> bool:
        """Forget the alias (and the file's local copy, if one was kept)."""
        ...

    async def save_file_copy(self, team_id: str, provider_file_id: str, content: bytes) -> None:
        """Keep a small file's bytes: providers may refuse to hand fine-tuning files back."""
        ...

    async def file_copy(self, team_id: str, provider_file_id: str) -> bytes | None: ...

    # jobs
    async def add_job(self, job: Job, *, next_poll_at: datetime | None) -> None:
        """`next_poll_at` None records a job that is never polled (already finished)."""
        ...

    async def get_job(self, team_id: str, job_id: str) -> Job | None: ...

    async def list_jobs(
        self, team_id: str, *, status: str | None = None, limit: int = 20
    ) -> Sequence[Job]: ...

    async def update_job_state(self, team_id: str, state: JobState, *, poll_now: bool) -> None: ...

    async def find_job_anywhere(self, job_id: str) -> Job | None:
        """Only for trusted callers (the webhook): look a job up without a team."""
        ...

    # models
    async def add_model(self, model: TeamModel) -> None: ...

    async def list_models(self, team_id: str) -> Sequence[TeamModel]: ...

    async def get_model(self, team_id: str, name: str) -> TeamModel | None: ...

    # subscriptions
    async def add_subscription(self, subscription: Subscription) -> None: ...

    async def remove_subscription(self, team_id: str, channel: ChannelAddress) -> bool: ...

    async def list_subscriptions(self, team_id: str) -> Sequence[Subscription]: ...

    # audit
    async def record_audit(self, entry: AuditEntry) -> None: ...

    async def list_audit(self, team_id: str, *, limit: int = 20) -> Sequence[AuditEntry]: ...


class Notifier(Protocol):
    """Posts a rendered notice on one platform and returns the platform's message id.

    `card_key` names the card a card notice shows (its states share it), so that a platform
    that can look a post up (PostLookup) finds the card whatever state it was posted in."""

    async def post(
        self,
        target: ChannelAddress,
        reply: Reply,
        *,
        dedupe_key: str,
        edit_message_id: str | None = None,
        thread_message_id: str | None = None,
        card_key: str | None = None,
    ) -> str: ...


@runtime_checkable
class PostLookup(Protocol):
    """A Notifier that can find a message it posted earlier in the channel's recent history."""

    async def find_posted(
        self,
        target: ChannelAddress,
        *,
        dedupe_key: str,
        card_key: str | None,
        thread_message_id: str | None,
        since: datetime | None,
    ) -> str | None:
        """The id of a message posted after `since` carrying `dedupe_key` (or, given
        `card_key`, any state of that card); None when there is none or the lookup failed."""
        ...


class WatchStore(Protocol):
    """The watcher's and dispatcher's durable coordination: leases, fencing, outbox."""

    async def claim_due_jobs(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[WatchClaim]:
        """Lease live jobs whose next poll is due (skipping leased ones); bumps each fence.

        Whole groups (a team's due jobs at one provider family), earliest due first, while they
        fit in `limit`; only a first group larger than `limit` is split (its first `limit`).
        Concurrent claimers never split a group between them."""
        ...

    async def commit_poll(
        self,
        claim: WatchClaim,
        *,
        owner: str,
        state: JobState,
        cursor: str | None,
        messages: Sequence[OutboxMessage],
        metric_points: Sequence[MetricPoint],
        next_poll_at: datetime | None,
        polls_without_news: int,
        last_notified_metric_at: datetime | None,
    ) -> bool:
        """In one transaction guarded by the fence: enqueue (dedupe), store points, advance.

        Returns False, writing nothing, when the lease was lost to another watcher.
        `next_poll_at` None means never poll again (terminal).
        """
        ...

    async def commit_polls(
        self,
        polls: Sequence[PollResult],
        *,
        owner: str,
        resume: tuple[str, str] | None = None,
    ) -> frozenset[str]:
        """commit_poll for several jobs in one transaction, in a few set-based statements;
        returns the ids of the jobs committed (a job whose lease was lost writes nothing).
        `resume` (team id, family) also clears that family's backoff in the transaction."""
        ...

    async def release_claim(
        self, claim: WatchClaim, *, owner: str, next_poll_at: datetime
    ) -> bool:
        """Give the lease back without news (provider error): poll again at `next_poll_at`."""
        ...

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Insert outbox rows outside a poll (e.g. a backoff notice); returns rows inserted."""
        ...

    async def claim_outbox(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> Sequence[OutboxItem]:
        """Lease unsent rows in one statement; a newer card row supersedes older unsent ones."""
        ...

    async def mark_sent(self, item: OutboxItem, *, message_id: str, now: datetime) -> bool: ...

    async def mark_sent_many(self, posts: Sequence[SentPost]) -> frozenset[int]:
        """Record several posts in one transaction, as mark_sent does each; returns the ids
        recorded (a row whose lease passed to another owner is left alone)."""
        ...

    async def mark_failed(
        self, item: OutboxItem, *, error: str, retry_at: datetime | None
    ) -> None:
        """Record a failed post; `retry_at` None gives up (dead letter)."""
        ...

    async def card_message_id(self, card_key: str) -> str | None: ...

    async def card_message_ids(self, card_keys: Collection[str]) -> Mapping[str, str]:
        """The posted message of each card that has one, in one read."""
        ...

    async def list_metric_points(self, team_id: str, job_id: str) -> Sequence[MetricPoint]: ...

    async def team_backoff_until(
        self, team_id: str, *, provider: str | None = None
    ) -> datetime | None:
        """One family's pause for the team (`provider`), else the team's latest pause."""
        ...

    async def set_team_backoff(
        self, team_id: str, *, until: datetime | None, provider: str | None = None
    ) -> None:
        """Pause the team's jobs at one family (`provider`), else at all; None resumes."""
        ...

    async def mark_job_due(self, job_id: str, *, now: datetime) -> bool: ...

    async def outbox_stats(self, *, now: datetime) -> tuple[int, float]:
        """Unsent rows and the age in seconds of the oldest one."""
        ...
