"""Core layer: the command catalogue (SPECS) and `build_request`, which every adapter uses.

One CommandSpec per command (options, help, builder) drives the parser, help, the Discord
schema and the README.

Every adapter builds requests through `build_request`, so a value is checked the same way
whether it came from Slack text, a console line or a typed Discord option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from handlers.commands.options import CommandSpec, Form, OptionKind, OptionSpec, coerce, quoted
from handlers.commands.requests import (
    AccessRequest,
    ApproveRequest,
    AuditRequest,
    BudgetRequest,
    CancelRequest,
    ChartRequest,
    CheckpointsRequest,
    CompareRequest,
    DatasetRequest,
    EventsRequest,
    FilesRequest,
    HelpRequest,
    InspectRequest,
    ListRequest,
    ModelsRequest,
    PauseRequest,
    ProvidersRequest,
    RejectRequest,
    Request,
    ResumeRequest,
    RmFileRequest,
    SettingsRequest,
    SetupRequest,
    ShareRequest,
    StartRequest,
    SubscribeRequest,
    SubscriptionsRequest,
    TryRequest,
    UnsubscribeRequest,
    UploadRequest,
    ValidateRequest,
)
from handlers.compare import DEFAULT_MAX_EXAMPLES
from handlers.errors import UsageError
from handlers.model import KNOWN_STATUSES, Method, Role, SubscriptionFilter
from handlers.secrets import REDACTED, looks_like_secret
from handlers.sources import FileSource, PrivateFile, TypedPath
from handlers.suggest import closest, did_you_mean

CONFIRM_ID = re.compile(r"^cs-[0-9a-f]{12}$")
"""A start held for its requester's confirmation (handlers/confirmations.py makes them)."""


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


_JobIdRequest = InspectRequest | CheckpointsRequest | CancelRequest | PauseRequest | ResumeRequest
"""The commands that take a job id and nothing else."""


def _job_command(
    name: str,
    request_type: type[_JobIdRequest],
    summary: str,
    *,
    examples: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    mutating: bool = False,
) -> CommandSpec:
    """A command whose one option is the job id; its example names a job unless given."""
    return CommandSpec(
        name=name,
        request_type=request_type,
        summary=summary,
        options=(_job_option(),),
        examples=examples or (f"/finetune {name} ftjob-abc123",),
        build=lambda v: request_type(job_id=_str(v, "job")),
        aliases=aliases,
        mutating=mutating,
    )


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
        provider=_opt_str(v, "provider"),
    )


def _build_start(v: Mapping[str, object]) -> Request:
    method = Method(_opt_str(v, "method") or Method.SUPERVISED.value)
    beta = _opt_float(v, "beta")
    if beta is not None and method is not Method.DPO:
        raise UsageError("beta only applies to method=dpo.", usage=SPECS["start"].usage_ref)
    defaults = _opt_str(v, "defaults")
    like = _opt_str(v, "like")
    if defaults == "yes" and like is None:
        raise UsageError(
            "defaults=yes only applies to a replay: start like=JOB ...",
            usage=SPECS["start"].usage_ref,
        )
    confirm = _opt_str(v, "confirm")
    if confirm is not None and confirm not in ("yes", "no") and not CONFIRM_ID.match(confirm):
        raise UsageError(
            f"confirm={quoted(confirm)} is not yes, no or a held start's id (cs-...).",
            usage=SPECS["start"].usage,
        )
    held = confirm is not None and CONFIRM_ID.match(confirm) is not None
    missing = [name for name in ("file", "model") if not held and like is None and name not in v]
    if missing:
        raise UsageError(f"Missing {', '.join(missing)} for start.", usage=SPECS["start"].usage)
    return StartRequest(
        confirm=confirm if confirm != "no" else None,
        model=_opt_str(v, "model") or "",
        training_file=_opt_str(v, "file") or "",
        validation_file=_opt_str(v, "validation"),
        method=method,
        n_epochs=_opt_int(v, "epochs"),
        learning_rate_multiplier=_opt_float(v, "lr"),
        batch_size=_opt_int(v, "batch_size"),
        beta=beta,
        suffix=_opt_str(v, "suffix"),
        seed=_opt_int(v, "seed"),
        n_checkpoints=_opt_int(v, "checkpoints"),
        n_evals=_opt_int(v, "evals"),
        warmup_ratio=_opt_float(v, "warmup"),
        lora_r=_opt_int(v, "lora_r"),
        lora_alpha=_opt_int(v, "lora_alpha"),
        warmup_steps=_opt_int(v, "warmup_steps"),
        context_length=_opt_int(v, "context_length"),
        training_type=_opt_str(v, "training_type"),
        provider=_opt_str(v, "provider"),
        like=like,
        defaults=defaults == "yes",
    )


_JOB_COMMANDS: tuple[CommandSpec, ...] = (
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
            OptionSpec(
                name="provider",
                kind=OptionKind.TEXT,
                help="The provider family to upload to (default: the team's; see providers)",
                placeholder="FAMILY",
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
                unless=("like", "confirm"),
            ),
            OptionSpec(
                name="model",
                kind=OptionKind.MODEL,
                help="Base model, e.g. gpt-4.1-mini-2025-04-14",
                required=True,
                aliases=("base", "base_model"),
                placeholder="MODEL",
                unless=("like", "confirm"),
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
                aliases=("n_epochs",),
            ),
            OptionSpec(
                name="lr",
                kind=OptionKind.FLOAT,
                help=(
                    "Learning rate as the provider takes it: a multiplier of its own rate or "
                    "an absolute rate (see providers; default: auto)"
                ),
                minimum=0,
                exclusive_minimum=True,
                aliases=("learning_rate_multiplier", "lr_multiplier"),
                placeholder="FLOAT",
            ),
            OptionSpec(
                name="batch_size",
                kind=OptionKind.INT,
                help="Batch size (default: auto)",
                minimum=1,
                aliases=("batch",),
            ),
            OptionSpec(
                name="beta",
                kind=OptionKind.FLOAT,
                help="DPO beta (method=dpo only)",
                minimum=0,
                exclusive_minimum=True,
                placeholder="FLOAT",
            ),
            OptionSpec(
                name="suffix",
                kind=OptionKind.SUFFIX,
                help="Letters, digits, '-', '_' or '.' added to the model name",
            ),
            OptionSpec(
                name="seed",
                kind=OptionKind.INT,
                help="Seed for reproducible training",
                minimum=0,
                placeholder="INT",
            ),
            OptionSpec(
                name="training_type",
                kind=OptionKind.CHOICE,
                help="lora or full fine-tuning, where the provider offers both (default: lora)",
                choices=("lora", "full"),
            ),
            OptionSpec(
                name="lora_r",
                kind=OptionKind.INT,
                help="LoRA rank (default: the model's)",
                minimum=1,
                aliases=("rank",),
                placeholder="INT",
            ),
            OptionSpec(
                name="lora_alpha",
                kind=OptionKind.INT,
                help="LoRA alpha (default: twice the rank)",
                minimum=1,
                placeholder="INT",
            ),
            OptionSpec(
                name="checkpoints",
                kind=OptionKind.INT,
                help="How many checkpoints to keep (default: 1)",
                minimum=1,
                aliases=("n_checkpoints",),
                placeholder="INT",
            ),
            OptionSpec(
                name="evals",
                kind=OptionKind.INT,
                help="How many evaluations on the validation file (default: 0)",
                minimum=0,
                aliases=("n_evals",),
                placeholder="INT",
            ),
            OptionSpec(
                name="warmup",
                kind=OptionKind.FLOAT,
                help="Warm-up share of the steps, 0-1 (default: 0)",
                minimum=0,
                maximum=1,
                aliases=("warmup_ratio",),
                placeholder="FLOAT",
            ),
            OptionSpec(
                name="warmup_steps",
                kind=OptionKind.INT,
                help="Warm-up in steps, where the provider counts it so (default: the provider's)",
                minimum=0,
                placeholder="INT",
            ),
            OptionSpec(
                name="context_length",
                kind=OptionKind.INT,
                help="The longest example in tokens the job trains on (default: the model's)",
                minimum=1,
                aliases=("max_context_length",),
                placeholder="INT",
            ),
            OptionSpec(
                name="provider",
                kind=OptionKind.TEXT,
                help="The provider family to train at (default: the team's; see providers)",
                placeholder="FAMILY",
            ),
            OptionSpec(
                name="like",
                kind=OptionKind.JOB_ID,
                help=(
                    "Replay a job's recipe: its data, options and suffix, at provider= "
                    "(file and model then come from the job; alone, it shows the plan)"
                ),
                aliases=("recipe", "replay"),
                placeholder="JOB_ID",
            ),
            OptionSpec(
                name="defaults",
                kind=OptionKind.CHOICE,
                help="yes: with like=, use the provider's defaults for options it cannot take",
                choices=("yes", "no"),
            ),
            OptionSpec(
                name="confirm",
                kind=OptionKind.TEXT,
                help=(
                    "yes: start without asking, even above the deployment's confirmation "
                    "amount; a held start's id (cs-...) starts the one shown"
                ),
                placeholder="yes",
            ),
        ),
        examples=(
            "/finetune start file=train model=gpt-4.1-mini-2025-04-14 epochs=3 suffix=support",
            "/finetune start like=JOB provider=FAMILY model=MODEL",
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
    _job_command(
        "inspect",
        InspectRequest,
        "Show a job: status, model, hyperparameters, tokens, result, ETA.",
        examples=("/finetune inspect ftjob-abc123", "/finetune status ftjob-abc123"),
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
    _job_command(
        "checkpoints", CheckpointsRequest, "List a job's checkpoints with their metrics."
    ),
    _job_command("cancel", CancelRequest, "Cancel a running or queued job.", mutating=True),
    _job_command("pause", PauseRequest, "Pause a running job.", mutating=True),
    _job_command("resume", ResumeRequest, "Resume a paused job.", mutating=True),
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
            f"dataset {quoted(action)}: say from-logs (or a draft id ds-...).",
            usage=SPECS["dataset"].usage_ref,
        )
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
                help="How many examples (default 50; at most this bot's test-set cap)",
                minimum=1,
                maximum=DEFAULT_MAX_EXAMPLES,
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
                help="Only completions made with this model (from-logs needs it)",
                placeholder="MODEL",
                required_when=("action", "from-logs"),
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
    usage = SPECS["access"].usage_ref
    if action == "grant" and (user is None or role is None):
        raise UsageError("Say whom and which role: access grant @user ROLE.", usage=usage)
    if action == "revoke" and user is None:
        raise UsageError("Say whom: access revoke @user.", usage=usage)
    return AccessRequest(action=action, user=user, role=Role(role) if role else None)


_TEAM_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        name="providers",
        request_type=ProvidersRequest,
        summary="The provider families: which the team set up, its default, what each can do.",
        options=(),
        examples=("/finetune providers",),
        build=lambda v: ProvidersRequest(),
    ),
    CommandSpec(
        name="setup",
        request_type=SetupRequest,
        summary="Admins: set the team's own provider and key in a private form (never as text).",
        options=(
            OptionSpec(
                name="action",
                kind=OptionKind.CHOICE,
                help="show: the team's providers and keys; remove: forget one family's key",
                choices=("show", "remove"),
                positional=True,
            ),
            OptionSpec(
                name="provider",
                kind=OptionKind.TEXT,
                help="with remove: the family whose key to forget; alone: that account "
                "kind's own setup form",
            ),
            OptionSpec(
                name="default",
                kind=OptionKind.TEXT,
                help="the provider family start uses when it names none",
            ),
        ),
        examples=(
            "/finetune setup",
            "/finetune setup show",
            "/finetune setup default=FAMILY",
            "/finetune setup provider=KIND",
            "/finetune setup remove provider=FAMILY",
        ),
        build=lambda v: SetupRequest(
            action=_opt_str(v, "action"),
            family=_opt_str(v, "provider"),
            default=_opt_str(v, "default"),
        ),
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
        name="share",
        request_type=ShareRequest,
        summary="Post a private answer in the channel, once (its Share in channel button).",
        options=(
            OptionSpec(
                name="id",
                kind=OptionKind.APPROVAL,
                help="The answer's share id (sh-...), which its button carries",
                required=True,
                positional=True,
                placeholder="SHARE_ID",
            ),
        ),
        examples=("/finetune share sh-1a2b3c4d5e6f",),
        build=lambda v: ShareRequest(share_id=_str(v, "id")),
    ),
    CommandSpec(
        name="approve",
        request_type=ApproveRequest,
        summary="Admins: approve a start waiting for approval (not your own, by default).",
        options=(_approval_option(),),
        examples=("/finetune approve apr-1a2b3c4d",),
        build=lambda v: ApproveRequest(approval_id=_str(v, "request")),
        mutating=True,
    ),
    CommandSpec(
        name="reject",
        request_type=RejectRequest,
        summary="Admins: reject a start waiting for approval; whoever asked may withdraw it.",
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
_COMMANDS = (*_JOB_COMMANDS, *_EVALUATION_COMMANDS, *_TEAM_COMMANDS)

SPECS: dict[str, CommandSpec] = {spec.name: spec for spec in _COMMANDS}
ALIASES: dict[str, str] = {alias: spec.name for spec in _COMMANDS for alias in spec.aliases}
_NAMES: dict[type, str] = {spec.request_type: spec.name for spec in _COMMANDS}


def cap_option(command: str, option: str, maximum: int) -> None:
    """A deployment's bound on an option (compare's n: FINETUNE_BOT_COMPARE_MAX_EXAMPLES),
    set once at start-up before any adapter is built, so that parsing, the refusal's usage,
    every platform's help and Discord's typed slots all read the same bound."""
    spec = SPECS[command]
    options = tuple(replace(o, maximum=maximum) if o.name == option else o for o in spec.options)
    if options == spec.options:
        return
    SPECS[command] = replace(spec, options=options)


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
            f"Unknown command '{quoted(command)}'.{did_you_mean(command, [*SPECS, *ALIASES])} "
            f"Commands: {', '.join(SPECS)}.",
            usage="/finetune help",
        )
    if any(isinstance(v, str) and looks_like_secret(v) for v in values.values()):
        raise UsageError(KEY_IN_TEXT, usage=SPECS["setup"].usage_ref)
    converted: dict[str, object] = {}
    for raw_name, raw_value in values.items():
        option = spec.option(raw_name)
        if option is None:
            near = closest(raw_name, [n for o in spec.options for n in (o.name, *o.aliases)])
            guess = spec.option(near) if near else None
            hint = f" Did you mean '{guess.name}'?" if guess else ""
            listed = ", ".join(o.name for o in spec.options) or "none"
            raise UsageError(
                f"Unknown option '{quoted(raw_name)}' for {spec.name}.{hint} Options: {listed}.",
                usage=spec.usage_ref,
            )
        if option.name in converted:
            raise UsageError(f"Option '{option.name}' is given twice.", usage=spec.usage_ref)
        if raw_value is None:
            continue
        converted[option.name] = coerce(spec, option, raw_value)
    missing = [o.name for o in spec.options if o.missing_from(converted)]
    if missing:
        raise UsageError(
            f"Missing {', '.join(missing)} for {spec.name}.",
            usage=spec.usage_ref,
        )
    return spec.build(converted)


KEY_IN_TEXT = (
    f"That looks like an API key or token ({REDACTED} here). Never type keys in a channel: "
    "an admin runs /finetune setup and pastes it in the private form. If it was a real key, "
    "rotate it at the provider."
)
"""The refusal for a key-shaped value in command text; quotes no part of it."""
