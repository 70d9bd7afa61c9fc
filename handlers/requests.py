"""Core layer: one typed request per command, and the option specs that build and document them.

Every adapter builds requests through `build_request`, so a value is checked the same way
whether it came from Slack text, a console line or a typed Discord option.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from handlers.errors import UsageError
from handlers.model import KNOWN_STATUSES, Method, Role, SubscriptionFilter
from handlers.secrets import REDACTED, Secret, looks_like_secret
from handlers.sources import FileSource, PrivateFile, TypedPath

MAX_SUFFIX = 64
MAX_TEXT = 256
_SUFFIX_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,255}$")
_USER_RE = re.compile(r"^<@!?([A-Za-z0-9]{2,32})(?:\|[^>]{0,80})?>$|^@?([A-Za-z0-9]{2,32})$")


# ----------------------------------------------------------------------------- requests


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


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequest:
    action: str = "list"
    user: str | None = None
    role: Role | None = None


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
    | AccessRequest
    | BudgetRequest
    | ApproveRequest
    | RejectRequest
    | AuditRequest
    | TryRequest
    | CompareRequest
    | DatasetRequest
)


# ----------------------------------------------------------------------------- specs


class OptionKind(StrEnum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    CHOICE = "choice"
    JOB_ID = "job_id"
    FILE = "file"
    MODEL = "model"
    ALIAS = "alias"
    SUFFIX = "suffix"
    USER = "user"
    APPROVAL = "approval"
    DATA_FILE = "data_file"
    """A file to read: shared in chat (by name), a Discord attachment, a path at the console."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    name: str
    kind: OptionKind
    help: str
    required: bool = False
    positional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    placeholder: str = ""
    rest: bool = False
    """A last positional that takes every remaining bare word (a prompt)."""

    def usage(self) -> str:
        if self.kind is OptionKind.CHOICE:
            shown = "|".join(self.choices)
        elif self.kind in (OptionKind.INT, OptionKind.FLOAT) and self.minimum is not None:
            shown = self.placeholder or (
                f"{_num(self.minimum)}-{_num(self.maximum)}" if self.maximum is not None else "N"
            )
        else:
            shown = self.placeholder or self.name.upper()
        text = shown if self.positional else f"{self.name}={shown}"
        return text if self.required else f"[{text}]"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


class Form(StrEnum):
    """A form a chat platform shows instead of running a command; each adapter draws its own."""

    START = "start"
    """Training file, model and the free-text options, then a cost estimate to confirm."""
    SETUP = "setup"
    """The team's provider and key: private, so the key never goes in a command's text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    name: str
    summary: str
    options: tuple[OptionSpec, ...]
    examples: tuple[str, ...]
    build: Callable[[Mapping[str, object]], Request]
    request_type: type
    aliases: tuple[str, ...] = ()
    mutating: bool = False
    long: bool = False
    """Long work (file reads, many provider calls): runs under the team's long-task limit."""
    form: Form | None = None
    """The form a bare command opens (and one lacking a required option, where the platform
    lets options be left out); None: the command always runs."""

    def form_for(self, given: Collection[str]) -> Form | None:
        """The form to open for these option names, pre-filled with them; None: run it."""
        if self.form is None:
            return None
        missing = any(o.required and o.name not in given for o in self.options)
        return self.form if not given or missing else None

    @property
    def usage(self) -> str:
        parts = [f"/finetune {self.name}", *(o.usage() for o in self.options)]
        return " ".join(parts)

    @property
    def positionals(self) -> tuple[OptionSpec, ...]:
        return tuple(o for o in self.options if o.positional)

    def option(self, name: str) -> OptionSpec | None:
        key = name.lower().replace("-", "_")
        for option in self.options:
            if key == option.name or key in option.aliases:
                return option
        return None


def _job_option(help_text: str = "The job id, e.g. ftjob-abc123") -> OptionSpec:
    return OptionSpec(
        name="job",
        kind=OptionKind.JOB_ID,
        help=help_text,
        required=True,
        positional=True,
        aliases=("job_id", "id"),
        placeholder="JOB_ID",
    )


def _get(values: Mapping[str, object], name: str) -> object:
    return values.get(name)


def _opt_str(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) else None


def _str(values: Mapping[str, object], name: str) -> str:
    value = values[name]
    assert isinstance(value, str)
    return value


def _opt_source(values: Mapping[str, object], name: str) -> FileSource | None:
    value = values.get(name)
    return value if isinstance(value, PrivateFile | TypedPath) else None


def _opt_int(values: Mapping[str, object], name: str) -> int | None:
    value = values.get(name)
    return value if isinstance(value, int) else None


def _opt_float(values: Mapping[str, object], name: str) -> float | None:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) else None


DATA_FILE_HELP = "shared in Slack (newest, or by name), attached in Discord, a path in the console"
"""Where a file comes from; a path typed in Slack or Discord is refused (handlers/sources.py)."""


def _data_file_option(what: str) -> OptionSpec:
    return OptionSpec(
        name="file",
        kind=OptionKind.DATA_FILE,
        help=f"{what}: {DATA_FILE_HELP}",
        positional=True,
        aliases=("path",),
        placeholder="FILE",
    )


DATA_FORMATS = ("chat", "completion", "preference", "reinforcement")


def _format_option() -> OptionSpec:
    return OptionSpec(
        name="format",
        kind=OptionKind.CHOICE,
        help="The data format (default: detected from the first lines)",
        choices=DATA_FORMATS,
    )


def _build_upload(v: Mapping[str, object]) -> Request:
    return UploadRequest(
        file=_opt_source(v, "file"),
        alias=_opt_str(v, "alias"),
        format=_opt_str(v, "format"),
        force=_opt_str(v, "force") == "yes",
    )


def _build_start(v: Mapping[str, object]) -> Request:
    method = Method(_opt_str(v, "method") or Method.SUPERVISED.value)
    beta = _opt_float(v, "beta")
    if beta is not None and method is not Method.DPO:
        raise UsageError("beta only applies to method=dpo.", usage=SPECS["start"].usage)
    return StartRequest(
        model=_str(v, "model"),
        training_file=_str(v, "file"),
        validation_file=_opt_str(v, "validation"),
        method=method,
        n_epochs=_opt_int(v, "epochs"),
        learning_rate_multiplier=_opt_float(v, "lr"),
        batch_size=_opt_int(v, "batch_size"),
        beta=beta,
        suffix=_opt_str(v, "suffix"),
        seed=_opt_int(v, "seed"),
    )


_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        name="help",
        request_type=HelpRequest,
        summary="Show the commands, or the details of one command.",
        options=(
            OptionSpec(
                name="command",
                kind=OptionKind.TEXT,
                help="A command to explain",
                positional=True,
                placeholder="COMMAND",
            ),
        ),
        examples=("/finetune help", "/finetune help start"),
        build=lambda v: HelpRequest(topic=_opt_str(v, "command")),
    ),
    CommandSpec(
        name="upload",
        request_type=UploadRequest,
        long=True,
        summary="Check a JSONL training file you shared and upload it under an alias.",
        options=(
            _data_file_option("The .jsonl file"),
            OptionSpec(
                name="alias",
                kind=OptionKind.ALIAS,
                help="A short name for the file (default: the file name)",
                aliases=("as", "name"),
            ),
            _format_option(),
            OptionSpec(
                name="force",
                kind=OptionKind.CHOICE,
                help="yes: upload even with errors (the job may fail or train on bad examples)",
                choices=("yes", "no"),
            ),
        ),
        examples=(
            "/finetune upload alias=support-v1",
            "/finetune upload train.jsonl alias=support-v1 force=yes",
        ),
        build=_build_upload,
        mutating=True,
    ),
    CommandSpec(
        name="validate",
        request_type=ValidateRequest,
        long=True,
        summary="Check a JSONL file you shared, count its tokens, estimate the cost; no upload.",
        options=(
            _data_file_option("The .jsonl file"),
            _format_option(),
            OptionSpec(
                name="model",
                kind=OptionKind.MODEL,
                help="Base model for token limits and prices (default gpt-4.1-mini-2025-04-14)",
                aliases=("base", "base_model"),
                placeholder="MODEL",
            ),
            OptionSpec(
                name="validation",
                kind=OptionKind.DATA_FILE,
                help="A validation file, given like file: checked, and against the training file",
                aliases=("validation_file", "val", "valid"),
                placeholder="FILE",
            ),
        ),
        examples=(
            "/finetune validate",
            "/finetune validate train.jsonl validation=valid.jsonl",
            "/finetune validate prefs.jsonl format=preference model=gpt-4.1-mini-2025-04-14",
        ),
        build=lambda v: ValidateRequest(
            file=_opt_source(v, "file"),
            format=_opt_str(v, "format"),
            model=_opt_str(v, "model"),
            validation=_opt_source(v, "validation"),
        ),
    ),
    CommandSpec(
        name="rm-file",
        request_type=RmFileRequest,
        summary="Delete an uploaded file at the provider and forget its alias.",
        options=(
            OptionSpec(
                name="alias",
                kind=OptionKind.FILE,
                help="The file's alias (or provider file id)",
                required=True,
                positional=True,
                placeholder="ALIAS",
            ),
        ),
        examples=("/finetune rm-file support-v1",),
        build=lambda v: RmFileRequest(alias=_str(v, "alias")),
        aliases=("rm", "delete-file"),
        mutating=True,
    ),
    CommandSpec(
        name="files",
        request_type=FilesRequest,
        summary="List the team's uploaded files and their aliases.",
        options=(),
        examples=("/finetune files",),
        build=lambda v: FilesRequest(),
    ),
    CommandSpec(
        name="start",
        request_type=StartRequest,
        summary="Start a fine-tuning job.",
        options=(
            OptionSpec(
                name="file",
                kind=OptionKind.FILE,
                help="Training file: an alias or a provider file id",
                required=True,
                aliases=("training_file", "train", "training"),
                placeholder="ALIAS",
            ),
            OptionSpec(
                name="model",
                kind=OptionKind.MODEL,
                help="Base model, e.g. gpt-4.1-mini-2025-04-14",
                required=True,
                aliases=("base", "base_model"),
                placeholder="MODEL",
            ),
            OptionSpec(
                name="validation",
                kind=OptionKind.FILE,
                help="Validation file: an alias or a provider file id",
                aliases=("validation_file", "val", "valid"),
                placeholder="ALIAS",
            ),
            OptionSpec(
                name="method",
                kind=OptionKind.CHOICE,
                help="Training method",
                choices=tuple(m.value for m in Method),
            ),
            OptionSpec(
                name="epochs",
                kind=OptionKind.INT,
                help="Number of epochs (default: auto)",
                minimum=1,
                maximum=50,
                aliases=("n_epochs",),
            ),
            OptionSpec(
                name="lr",
                kind=OptionKind.FLOAT,
                help="Learning-rate multiplier (default: auto)",
                minimum=0,
                maximum=10,
                exclusive_minimum=True,
                aliases=("learning_rate_multiplier", "lr_multiplier"),
                placeholder="FLOAT",
            ),
            OptionSpec(
                name="batch_size",
                kind=OptionKind.INT,
                help="Batch size (default: auto)",
                minimum=1,
                maximum=256,
                aliases=("batch",),
            ),
            OptionSpec(
                name="beta",
                kind=OptionKind.FLOAT,
                help="DPO beta (method=dpo only)",
                minimum=0,
                maximum=2,
                exclusive_minimum=True,
                placeholder="FLOAT",
            ),
            OptionSpec(
                name="suffix",
                kind=OptionKind.SUFFIX,
                help="Up to 64 letters, digits, '-', '_' or '.' added to the model name",
            ),
            OptionSpec(
                name="seed",
                kind=OptionKind.INT,
                help="Seed for reproducible training",
                minimum=0,
                maximum=2147483647,
                placeholder="INT",
            ),
        ),
        examples=(
            "/finetune start file=train model=gpt-4.1-mini-2025-04-14 epochs=3 suffix=support",
            "/finetune start file=prefs model=gpt-4.1-mini-2025-04-14 method=dpo beta=0.1",
        ),
        build=_build_start,
        mutating=True,
        form=Form.START,
    ),
    CommandSpec(
        name="list",
        request_type=ListRequest,
        summary="List the team's jobs, newest first.",
        options=(
            OptionSpec(
                name="status",
                kind=OptionKind.CHOICE,
                help="Only jobs in this status",
                choices=KNOWN_STATUSES,
                positional=True,
            ),
            OptionSpec(
                name="limit",
                kind=OptionKind.INT,
                help="How many jobs (default 10)",
                minimum=1,
                maximum=100,
            ),
        ),
        examples=("/finetune list", "/finetune list running limit=5"),
        build=lambda v: ListRequest(
            status=_opt_str(v, "status"), limit=_opt_int(v, "limit") or 10
        ),
        aliases=("ls", "jobs"),
    ),
    CommandSpec(
        name="inspect",
        request_type=InspectRequest,
        summary="Show a job: status, model, hyperparameters, tokens, result, ETA.",
        options=(_job_option(),),
        examples=("/finetune inspect ftjob-abc123", "/finetune status ftjob-abc123"),
        build=lambda v: InspectRequest(job_id=_str(v, "job")),
        aliases=("status", "show"),
    ),
    CommandSpec(
        name="events",
        request_type=EventsRequest,
        summary="Show a job's latest events.",
        options=(
            _job_option(),
            OptionSpec(
                name="limit",
                kind=OptionKind.INT,
                help="How many events (default 10)",
                minimum=1,
                maximum=100,
                aliases=("n",),
            ),
        ),
        examples=("/finetune events ftjob-abc123 limit=20",),
        build=lambda v: EventsRequest(job_id=_str(v, "job"), limit=_opt_int(v, "limit") or 10),
    ),
    CommandSpec(
        name="checkpoints",
        request_type=CheckpointsRequest,
        summary="List a job's checkpoints with their metrics.",
        options=(_job_option(),),
        examples=("/finetune checkpoints ftjob-abc123",),
        build=lambda v: CheckpointsRequest(job_id=_str(v, "job")),
    ),
    CommandSpec(
        name="cancel",
        request_type=CancelRequest,
        summary="Cancel a running or queued job.",
        options=(_job_option(),),
        examples=("/finetune cancel ftjob-abc123",),
        build=lambda v: CancelRequest(job_id=_str(v, "job")),
        mutating=True,
    ),
    CommandSpec(
        name="pause",
        request_type=PauseRequest,
        summary="Pause a running job.",
        options=(_job_option(),),
        examples=("/finetune pause ftjob-abc123",),
        build=lambda v: PauseRequest(job_id=_str(v, "job")),
        mutating=True,
    ),
    CommandSpec(
        name="resume",
        request_type=ResumeRequest,
        summary="Resume a paused job.",
        options=(_job_option(),),
        examples=("/finetune resume ftjob-abc123",),
        build=lambda v: ResumeRequest(job_id=_str(v, "job")),
        mutating=True,
    ),
    CommandSpec(
        name="models",
        request_type=ModelsRequest,
        summary="List the team's fine-tuned models.",
        options=(),
        examples=("/finetune models",),
        build=lambda v: ModelsRequest(),
    ),
    CommandSpec(
        name="chart",
        request_type=ChartRequest,
        summary="Plot a job's training and validation loss and token accuracy.",
        options=(_job_option(),),
        examples=("/finetune chart ftjob-abc123",),
        build=lambda v: ChartRequest(job_id=_str(v, "job")),
    ),
    CommandSpec(
        name="subscribe",
        request_type=SubscribeRequest,
        summary="Send this team's job notices to this channel too.",
        options=(
            OptionSpec(
                name="filter",
                kind=OptionKind.CHOICE,
                help="Which notices: all, completions or failures",
                choices=tuple(f.value for f in SubscriptionFilter),
                positional=True,
            ),
        ),
        examples=("/finetune subscribe", "/finetune subscribe failures"),
        build=lambda v: SubscribeRequest(
            filter=SubscriptionFilter(_opt_str(v, "filter") or SubscriptionFilter.ALL.value)
        ),
        mutating=True,
    ),
    CommandSpec(
        name="unsubscribe",
        request_type=UnsubscribeRequest,
        summary="Stop sending the team's job notices to this channel.",
        options=(),
        examples=("/finetune unsubscribe",),
        build=lambda v: UnsubscribeRequest(),
        mutating=True,
    ),
    CommandSpec(
        name="subscriptions",
        request_type=SubscriptionsRequest,
        summary="List the channels that receive the team's job notices.",
        options=(),
        examples=("/finetune subscriptions",),
        build=lambda v: SubscriptionsRequest(),
    ),
    CommandSpec(
        name="settings",
        request_type=SettingsRequest,
        summary="Show the team's notification settings, or change one.",
        options=(
            OptionSpec(
                name="metric_interval",
                kind=OptionKind.INT,
                help="At most one metric update per job per this many seconds (0: every poll)",
                minimum=0,
                maximum=86400,
                aliases=("metrics", "interval"),
                placeholder="SECONDS",
            ),
        ),
        examples=("/finetune settings", "/finetune settings metric_interval=300"),
        build=lambda v: SettingsRequest(metric_interval=_opt_int(v, "metric_interval")),
        mutating=True,
    ),
)


def _build_dataset(v: Mapping[str, object]) -> Request:
    action = _str(v, "action")
    if action != "from-logs" and not action.startswith("ds-"):
        raise UsageError(
            f"dataset {_clip(action)}: say from-logs (or a draft id ds-...).",
            usage=SPECS["dataset"].usage,
        )
    if action == "from-logs" and _opt_str(v, "model") is None:
        raise UsageError("Missing model for dataset from-logs.", usage=SPECS["dataset"].usage)
    return DatasetRequest(
        action=action,
        model=_opt_str(v, "model"),
        meta=_opt_str(v, "meta"),
        since=_opt_str(v, "since"),
        limit=_opt_int(v, "limit") or 500,
        alias=_opt_str(v, "alias"),
        confirm=_opt_str(v, "confirm") == "yes",
    )


_EVALUATION_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        name="try",
        request_type=TryRequest,
        long=True,
        summary="Ask a fine-tuned or base model one question; shows the answer, tokens, latency.",
        options=(
            OptionSpec(
                name="model",
                kind=OptionKind.MODEL,
                help="A fine-tuned model of this team, or a base model",
                required=True,
                positional=True,
                placeholder="MODEL",
            ),
            OptionSpec(
                name="prompt",
                kind=OptionKind.TEXT,
                help="The question (default: one from the model's validation file)",
                positional=True,
                rest=True,
                placeholder="PROMPT",
            ),
            OptionSpec(
                name="system",
                kind=OptionKind.TEXT,
                help="A system message to send first",
                placeholder="TEXT",
            ),
        ),
        examples=(
            "/finetune try ft:gpt-4.1-mini-2025-04-14:acme:support:abc123 How do I reset my 2FA?",
            '/finetune try gpt-4.1-mini-2025-04-14 "Refund policy?" system="Answer in one line"',
        ),
        build=lambda v: TryRequest(
            model=_str(v, "model"), prompt=_opt_str(v, "prompt"), system=_opt_str(v, "system")
        ),
        aliases=("ask", "playground"),
    ),
    CommandSpec(
        name="compare",
        request_type=CompareRequest,
        long=True,
        summary="Run a test set on two models side by side: scores, latency, tokens, cost, CSV.",
        options=(
            OptionSpec(
                name="model_a",
                kind=OptionKind.MODEL,
                help="The first model (usually the fine-tuned one)",
                required=True,
                positional=True,
                aliases=("a",),
                placeholder="MODEL_A",
            ),
            OptionSpec(
                name="model_b",
                kind=OptionKind.MODEL,
                help="The second model (default: the base model of the first)",
                positional=True,
                aliases=("b",),
                placeholder="MODEL_B",
            ),
            OptionSpec(
                name="file",
                kind=OptionKind.FILE,
                help="Test set: a chat file alias (default: the job's validation file)",
                aliases=("test", "test_file"),
                placeholder="ALIAS",
            ),
            OptionSpec(
                name="n",
                kind=OptionKind.INT,
                help="How many examples (default 50)",
                minimum=1,
                maximum=100_000,
                aliases=("limit", "examples"),
            ),
            OptionSpec(
                name="grader",
                kind=OptionKind.MODEL,
                help="A model that grades each answer against the reference (0-10)",
                placeholder="MODEL",
            ),
        ),
        examples=(
            "/finetune compare ft:gpt-4.1-mini-2025-04-14:acme:support:abc123",
            "/finetune compare ft:gpt-4.1-mini-2025-04-14:acme::abc gpt-4.1-2025-04-14 file=hold",
            "/finetune compare cancel cmp-1a2b3c4d",
        ),
        build=lambda v: CompareRequest(
            model_a=_str(v, "model_a"),
            model_b=_opt_str(v, "model_b"),
            file=_opt_str(v, "file"),
            n=_opt_int(v, "n") or 50,
            grader=_opt_str(v, "grader"),
        ),
        aliases=("eval", "evaluate"),
        mutating=True,
    ),
    CommandSpec(
        name="dataset",
        request_type=DatasetRequest,
        long=True,
        summary="Build a training file from the provider's stored chat completions (logs).",
        options=(
            OptionSpec(
                name="action",
                kind=OptionKind.TEXT,
                help="from-logs (or a draft id ds-... to upload what was shown)",
                required=True,
                positional=True,
                placeholder="from-logs",
            ),
            OptionSpec(
                name="model",
                kind=OptionKind.MODEL,
                help="Only completions made with this model",
                placeholder="MODEL",
            ),
            OptionSpec(
                name="meta",
                kind=OptionKind.TEXT,
                help="Only completions with this metadata: key=value[,key=value]",
                aliases=("metadata",),
                placeholder="KEY=VALUE",
            ),
            OptionSpec(
                name="since",
                kind=OptionKind.TEXT,
                help="Only completions newer than this: 30m, 12h, 7d (default 7d)",
                placeholder="7d",
            ),
            OptionSpec(
                name="limit",
                kind=OptionKind.INT,
                help="At most this many examples (default 500)",
                minimum=1,
                maximum=10_000,
            ),
            OptionSpec(
                name="alias",
                kind=OptionKind.ALIAS,
                help="The alias to upload the file under (default from-logs-<date>)",
            ),
            OptionSpec(
                name="confirm",
                kind=OptionKind.CHOICE,
                help="yes: upload without showing the draft first",
                choices=("yes", "no"),
            ),
        ),
        examples=(
            "/finetune dataset from-logs model=gpt-4.1-mini-2025-04-14 meta=app=support since=7d",
            "/finetune dataset from-logs model=gpt-4.1-mini meta=app=support confirm=yes",
        ),
        build=_build_dataset,
        mutating=True,
    ),
)
_COMMANDS = (*_COMMANDS, *_EVALUATION_COMMANDS)


def _approval_option() -> OptionSpec:
    return OptionSpec(
        name="request",
        kind=OptionKind.APPROVAL,
        help="The approval request id, e.g. apr-1a2b3c4d",
        required=True,
        positional=True,
        aliases=("id", "job", "approval"),
        placeholder="REQUEST_ID",
    )


def _build_access(v: Mapping[str, object]) -> Request:
    action = _opt_str(v, "action") or "list"
    user, role = _opt_str(v, "user"), _opt_str(v, "role")
    usage = SPECS["access"].usage
    if action == "grant" and (user is None or role is None):
        raise UsageError("Say whom and which role: access grant @user ROLE.", usage=usage)
    if action == "revoke" and user is None:
        raise UsageError("Say whom: access revoke @user.", usage=usage)
    return AccessRequest(action=action, user=user, role=Role(role) if role else None)


_TEAM_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        name="setup",
        request_type=SetupRequest,
        summary="Admins: set the team's own provider and key in a private form (never as text).",
        options=(
            OptionSpec(
                name="action",
                kind=OptionKind.CHOICE,
                help="show: the current provider; remove: forget the team's key",
                choices=("show", "remove"),
                positional=True,
            ),
        ),
        examples=("/finetune setup", "/finetune setup show", "/finetune setup remove"),
        build=lambda v: SetupRequest(action=_opt_str(v, "action")),
        mutating=True,
        form=Form.SETUP,
    ),
    CommandSpec(
        name="access",
        request_type=AccessRequest,
        summary="Who may do what in this team; admins grant and revoke roles.",
        options=(
            OptionSpec(
                name="action",
                kind=OptionKind.CHOICE,
                help="list, grant or revoke",
                choices=("list", "grant", "revoke"),
                positional=True,
            ),
            OptionSpec(
                name="user",
                kind=OptionKind.USER,
                help="The member, as a mention (@name) or a user id",
                positional=True,
                placeholder="@USER",
            ),
            OptionSpec(
                name="role",
                kind=OptionKind.CHOICE,
                help="viewer, operator or admin",
                choices=tuple(r.value for r in Role),
                positional=True,
            ),
        ),
        examples=(
            "/finetune access list",
            "/finetune access grant @dana operator",
            "/finetune access revoke @dana",
        ),
        build=_build_access,
        aliases=("roles",),
        mutating=True,
    ),
    CommandSpec(
        name="budget",
        request_type=BudgetRequest,
        summary="This month's spend and cap; admins set the cap and the approval threshold.",
        options=(
            OptionSpec(
                name="cap",
                kind=OptionKind.FLOAT,
                help="Monthly cap in USD (0 removes it)",
                minimum=0,
                maximum=10_000_000,
                placeholder="USD",
            ),
            OptionSpec(
                name="approve_over",
                kind=OptionKind.FLOAT,
                help="Starts estimated above this many USD wait for an admin (0 removes it)",
                minimum=0,
                maximum=10_000_000,
                aliases=("approval", "threshold"),
                placeholder="USD",
            ),
        ),
        examples=("/finetune budget", "/finetune budget cap=200 approve_over=50"),
        build=lambda v: BudgetRequest(
            cap=_opt_float(v, "cap"), approve_over=_opt_float(v, "approve_over")
        ),
        mutating=True,
    ),
    CommandSpec(
        name="approve",
        request_type=ApproveRequest,
        summary="Admins: approve a start waiting for approval (not your own).",
        options=(_approval_option(),),
        examples=("/finetune approve apr-1a2b3c4d",),
        build=lambda v: ApproveRequest(approval_id=_str(v, "request")),
        mutating=True,
    ),
    CommandSpec(
        name="reject",
        request_type=RejectRequest,
        summary="Admins: reject a start waiting for approval.",
        options=(_approval_option(),),
        examples=("/finetune reject apr-1a2b3c4d",),
        build=lambda v: RejectRequest(approval_id=_str(v, "request")),
        mutating=True,
    ),
    CommandSpec(
        name="audit",
        request_type=AuditRequest,
        summary="Admins: the team's latest mutating actions (who, what, result, when).",
        options=(
            OptionSpec(
                name="limit",
                kind=OptionKind.INT,
                help="How many entries (default 20)",
                minimum=1,
                maximum=200,
                positional=True,
                aliases=("n",),
            ),
        ),
        examples=("/finetune audit", "/finetune audit 50"),
        build=lambda v: AuditRequest(limit=_opt_int(v, "limit") or 20),
    ),
)
_COMMANDS = (*_COMMANDS, *_TEAM_COMMANDS)

SPECS: dict[str, CommandSpec] = {spec.name: spec for spec in _COMMANDS}
ALIASES: dict[str, str] = {alias: spec.name for spec in _COMMANDS for alias in spec.aliases}
_NAMES: dict[type, str] = {spec.request_type: spec.name for spec in _COMMANDS}


def command_of(request: Request) -> CommandSpec:
    """The spec of the command a request belongs to."""
    return SPECS[_NAMES[type(request)]]


def command_names() -> tuple[str, ...]:
    return tuple(SPECS)


def resolve_command(name: str) -> CommandSpec | None:
    key = name.lower()
    return SPECS.get(ALIASES.get(key, key))


def button_values(command: str, value: str) -> dict[str, object]:
    """A button's value fills its command's first positional option (a job, model, draft id)."""
    spec = resolve_command(command)
    first = spec.positionals[0].name if spec is not None and spec.positionals else "job"
    return {first: value}


def build_request(command: str, values: Mapping[str, object]) -> Request:
    """Check and convert option values (text or typed) and build the command's request.

    Raises UsageError naming the problem and the command's usage.
    """
    spec = resolve_command(command)
    if spec is None:
        raise UsageError(
            f"Unknown command '{_clip(command)}'. Commands: {', '.join(SPECS)}.",
            usage="/finetune help",
        )
    if any(isinstance(v, str) and looks_like_secret(v) for v in values.values()):
        raise UsageError(KEY_IN_TEXT, usage=SPECS["setup"].usage)
    converted: dict[str, object] = {}
    for raw_name, raw_value in values.items():
        option = spec.option(raw_name)
        if option is None:
            known = ", ".join(o.name for o in spec.options) or "none"
            raise UsageError(
                f"Unknown option '{_clip(raw_name)}' for {spec.name} (options: {known}).",
                usage=spec.usage,
            )
        if option.name in converted:
            raise UsageError(f"Option '{option.name}' is given twice.", usage=spec.usage)
        if raw_value is None:
            continue
        converted[option.name] = coerce(spec, option, raw_value)
    missing = [o.name for o in spec.options if o.required and o.name not in converted]
    if missing:
        raise UsageError(
            f"Missing {', '.join(missing)} for {spec.name}.",
            usage=spec.usage,
        )
    return spec.build(converted)


def coerce(spec: CommandSpec, option: OptionSpec, raw: object) -> object:
    """One option value, converted and range-checked."""

    def fail(why: str) -> UsageError:
        return UsageError(f"{option.name}={_clip(str(raw))} {why}.", usage=spec.usage)

    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and text == "":
        raise fail("is empty")
    match option.kind:
        case OptionKind.INT:
            if isinstance(text, bool):
                raise fail("is not a whole number")
            if isinstance(text, int):
                number: int | float = text
            else:
                try:
                    number = int(str(text), 10)
                except ValueError:
                    raise fail("is not a whole number") from None
            return _check_range(option, number, fail)
        case OptionKind.FLOAT:
            if isinstance(text, bool):
                raise fail("is not a number")
            try:
                value = float(text) if isinstance(text, int | float) else float(str(text))
            except ValueError:
                raise fail("is not a number") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise fail("is not a number")
            return _check_range(option, value, fail)
        case OptionKind.CHOICE:
            choice = str(text).lower()
            if choice not in option.choices:
                raise fail(f"is not one of {', '.join(option.choices)}")
            return choice
        case OptionKind.SUFFIX:
            suffix = str(text)
            if len(suffix) > MAX_SUFFIX:
                raise fail(f"is longer than {MAX_SUFFIX} characters ({len(suffix)})")
            if not _SUFFIX_RE.match(suffix):
                raise fail("may only hold letters, digits, '-', '_' and '.'")
            return suffix
        case OptionKind.USER:
            found = _USER_RE.match(str(text))
            if not found:
                raise fail("is not a member: mention them (@name) or give their user id")
            return found.group(1) or found.group(2)
        case OptionKind.APPROVAL:
            ident = str(text)
            if not _ID_RE.match(ident):
                raise fail("is not a valid request id")
            return ident
        case OptionKind.ALIAS:
            alias = str(text)
            if not _ALIAS_RE.match(alias):
                raise fail("must be 1-64 letters, digits, '.', '-' or '_'")
            return alias
        case OptionKind.JOB_ID | OptionKind.FILE | OptionKind.MODEL:
            ident = str(text)
            if not _ID_RE.match(ident):
                raise fail("is not a valid id")
            return ident
        case OptionKind.DATA_FILE:
            if isinstance(raw, PrivateFile):
                return raw  # made by an adapter from a share or an attachment, never from text
            typed = str(text)
            if len(typed) > MAX_TEXT * 4:
                raise fail("is too long")
            return TypedPath(text=typed)
        case OptionKind.TEXT:
            value_text = str(text)
            if len(value_text) > MAX_TEXT * 4:
                raise fail("is too long")
            return value_text
    raise fail("is not understood")  # pragma: no cover - every kind is matched above


def _check_range(
    option: OptionSpec, number: float, fail: Callable[[str], UsageError]
) -> int | float:
    low, high = option.minimum, option.maximum
    if low is not None and (number <= low if option.exclusive_minimum else number < low):
        bound = f"above {_num(low)}" if option.exclusive_minimum else f"at least {_num(low)}"
        raise fail(f"must be {bound}" + (f" and at most {_num(high)}" if high is not None else ""))
    if high is not None and number > high:
        raise fail(f"must be at most {_num(high)}")
    return number


KEY_IN_TEXT = (
    f"That looks like an API key or token ({REDACTED} here). Never type keys in a channel: "
    "an admin runs /finetune setup and pastes it in the private form. If it was a real key, "
    "rotate it at the provider."
)
"""The refusal for a key-shaped value in command text; quotes no part of it."""


def _clip(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    if looks_like_secret(flat):
        return REDACTED
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
