"""Core layer: one typed request per command, and the Request union of them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from handlers.model import Method, Role, SubscriptionFilter
from handlers.secrets import Secret
from handlers.sources import FileSource


@dataclass(frozen=True, slots=True, kw_only=True)
class HelpRequest:
    topic: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadRequest:
    """`file` None: the newest .jsonl the user shared (chat adapters look it up)."""

    file: FileSource | None = None
    alias: str | None = None
    format: str | None = None
    force: bool = False
    provider: str | None = None
    """The provider family to upload to (None: the team's default)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidateRequest:
    """`file` None: the newest .jsonl the user shared (chat adapters look it up)."""

    file: FileSource | None = None
    format: str | None = None
    model: str | None = None
    validation: FileSource | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RmFileRequest:
    alias: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FilesRequest:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequest:
    model: str
    training_file: str
    validation_file: str | None = None
    method: Method = Method.SUPERVISED
    n_epochs: int | None = None
    learning_rate_multiplier: float | None = None
    batch_size: int | None = None
    beta: float | None = None
    suffix: str | None = None
    seed: int | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    warmup_ratio: float | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    warmup_steps: int | None = None
    context_length: int | None = None
    training_type: str | None = None
    """lora or full, where the provider offers both (its profile's training types)."""
    provider: str | None = None
    """The provider family to start at (None: the team's default); set to the resolved one
    before the start is recorded, so an approval or a retry goes to the same family."""
    like: str | None = None
    """A job of the team whose recipe this start replays (its data, options and suffix,
    translated to `provider`); the options given here win over the recipe's."""
    defaults: bool = False
    """With `like`: start even where the recipe has options the target cannot take (it uses
    its own defaults for them) instead of listing them and starting nothing."""
    confirm: str | None = None
    """`yes`: start without the confirmation a costly start asks for; a held start's id
    (`cs-...`, its Start button): start the request held under it, once."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRequest:
    status: str | None = None
    limit: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsRequest:
    job_id: str
    limit: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointsRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsRequest:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartRequest:
    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeRequest:
    filter: SubscriptionFilter = SubscriptionFilter.ALL


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeRequest:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionsRequest:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsRequest:
    """No option shows the team's settings; an option changes it."""

    metric_interval: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupRequest:
    """No action opens the setup form; the form's submission (built by an adapter, never parsed
    from text) carries the provider, the key and its endpoint."""

    action: str | None = None
    provider: str | None = None
    """An account kind the deployment's provider families offer (None: the first)."""
    api_key: Secret | None = None
    endpoint: str | None = None
    api_version: str | None = None
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    """The account kind's other secret fields by name (beyond `api_key`, the `key` field)."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """The account kind's own non-secret fields by name (project, region, bucket...)."""
    family: str | None = None
    """`setup remove provider=FAMILY`: which family's key to forget."""
    default: str | None = None
    """`setup default=FAMILY`: the family `start` uses when it names none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvidersRequest:
    """The provider families, which ones the team set up, its default, capabilities, ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequest:
    action: str = "list"
    user: str | None = None
    role: Role | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareRequest:
    """Post a private answer in the channel: its Share in channel button's id (sh-...)."""

    share_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetRequest:
    """No option shows the month; `cap` or `approve_over` (0 removes it) changes the policy."""

    cap: float | None = None
    approve_over: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveRequest:
    approval_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectRequest:
    approval_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRequest:
    limit: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class TryRequest:
    """No prompt: a prompt from the model's validation (or training) file, with its reference."""

    model: str
    prompt: str | None = None
    system: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareRequest:
    """`model_b` None compares with the base model of `model_a`; `model_a` "cancel" stops a
    run (`compare cancel RUN_ID`)."""

    model_a: str
    model_b: str | None = None
    file: str | None = None
    n: int = 50
    grader: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetRequest:
    """`action` is "from-logs", or the id of a draft to upload (what its Confirm button sends)."""

    action: str
    model: str | None = None
    meta: str | None = None
    since: str | None = None
    limit: int = 500
    alias: str | None = None
    confirm: bool = False


Request = (
    HelpRequest
    | ShareRequest
    | UploadRequest
    | FilesRequest
    | ValidateRequest
    | RmFileRequest
    | StartRequest
    | ListRequest
    | InspectRequest
    | EventsRequest
    | CheckpointsRequest
    | CancelRequest
    | PauseRequest
    | ResumeRequest
    | ModelsRequest
    | ChartRequest
    | SubscribeRequest
    | UnsubscribeRequest
    | SubscriptionsRequest
    | SettingsRequest
    | SetupRequest
    | ProvidersRequest
    | AccessRequest
    | BudgetRequest
    | ApproveRequest
    | RejectRequest
    | AuditRequest
    | TryRequest
    | CompareRequest
    | DatasetRequest
)
