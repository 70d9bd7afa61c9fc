"""Core layer: `handle(request, actor) -> Reply`: scoping, validation and orchestration."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from handlers.cards import format_duration, format_time, job_card, progress_bar
from handlers.datasets import (
    DatasetReport,
    EstimateTokenizer,
    Format,
    ProgressCallback,
    example_hashes,
    summary_lines,
    validate_file,
)
from handlers.errors import (
    ConflictError,
    DataError,
    FineTuneError,
    NotFoundError,
    ProviderError,
    ProviderErrorKind,
    UsageError,
)
from handlers.fairness import LongWork, Slot, is_long
from handlers.governance import (
    DEFAULT_APPROVAL_TTL,
    Governance,
    StartCost,
    encode_start,
    settle_spend,
)
from handlers.model import (
    Actor,
    Approval,
    AuditEntry,
    ChannelAddress,
    Hyperparameters,
    Job,
    JobSpec,
    JobState,
    MetricPoint,
    ProviderFile,
    Role,
    StartIntent,
    Subscription,
    Team,
    TeamFile,
    model_made_by,
)
from handlers.parse import parse
from handlers.playground import Playground, PlaygroundSettings
from handlers.ports import (
    ChartRenderer,
    Clock,
    KeyChecker,
    Provider,
    ProviderDirectory,
    Store,
    Tokenizer,
    WatchStore,
)
from handlers.pricing import PriceTable, estimate, load_price_table
from handlers.profile import AccountKind, Capability
from handlers.replies import (
    Attachment,
    ChannelRef,
    Field,
    Reply,
    Table,
    Tone,
    UserRef,
    Visibility,
    error_reply,
    plain,
    rich,
)
from handlers.requests import (
    SPECS,
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
    RejectRequest,
    Request,
    ResumeRequest,
    RmFileRequest,
    SettingsRequest,
    SetupRequest,
    StartRequest,
    SubscribeRequest,
    SubscriptionsRequest,
    TryRequest,
    UnsubscribeRequest,
    UploadRequest,
    ValidateRequest,
    command_of,
    resolve_command,
)
from handlers.secrets import Secret, redact, safe_endpoint
from handlers.sources import LocalPathRefusedError, local_file
from handlers.starts import (
    INTENT_METADATA_KEY,
    REPEAT_WINDOW,
    approval_key,
    request_key,
    settle_started,
    start_fingerprint,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
DEFAULT_CPU_THREADS = 1
"""Validations that run at once when the composition root gives no pool of its own."""

BOT_METADATA_KEY = "ftbot"
"""Every job the bot creates carries this metadata key, so `resync` can find it again."""


class Service:
    """The one entry for every command; never posts, only answers."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        providers: ProviderDirectory,
        clock: Clock,
        charts: ChartRenderer,
        instance: str = "default",
        tokenizer: Tokenizer | None = None,
        prices: PriceTable | None = None,
        keys: KeyChecker | None = None,
        default_role: Role = Role.OPERATOR,
        approval_ttl: timedelta = DEFAULT_APPROVAL_TTL,
        credentials_changed: Callable[[str], None] | None = None,
        playground: PlaygroundSettings | None = None,
        accounts: Mapping[str, AccountKind] | None = None,
        long_work: LongWork | None = None,
        cpu: Executor | None = None,
    ) -> None:
        # Without a real tokenizer counts are estimates, and every report says so.
        self._tokenizer: Tokenizer = tokenizer or EstimateTokenizer()
        self._prices = prices or load_price_table()
        self._store = store
        self._watch = watch_store
        self._providers = providers
        self._clock = clock
        self._charts = charts
        self._instance = instance
        self.long_work = long_work or LongWork()
        self._teams: set[str] = set()
        # Validation gets its own few threads: on the default pool (which file and temp-file
        # work of every command shares) eight big files would make everyone else queue.
        self._cpu = cpu or ThreadPoolExecutor(
            max_workers=DEFAULT_CPU_THREADS, thread_name_prefix="ftbot-cpu"
        )
        self.governance = Governance(
            store=store,
            watch_store=watch_store,
            clock=clock,
            prices=self._prices,
            keys=keys,
            default_role=default_role,
            approval_ttl=approval_ttl,
            credentials_changed=credentials_changed,
            accounts=accounts,
        )
        self.playground = Playground(
            store=store,
            watch_store=watch_store,
            providers=providers,
            clock=clock,
            prices=self._prices,
            validate=lambda path: self._cpu_bound(self._check_file, path, "chat"),
            upload=self._upload,
            settings=playground,
        )

    async def handle(
        self, request: Request, actor: Actor, *, progress: Progress | None = None
    ) -> Reply:
        """Answer one command for one actor; every failure becomes one plain reply.

        `progress(stage, done, total)` hears how validation ("validating", from a worker
        thread) and the upload ("uploading", on the loop) of a large file advance.
        """
        _progress.set(progress)
        name = command_of(request).name
        audited = SPECS[name].mutating
        try:
            await self._ensure_team(actor)
            await self.governance.authorize(request, actor)
            if is_long(request) and not self.long_work.holds(actor.team_id):
                with self.long_work.claim(actor.team_id):
                    reply = await self._dispatch(request, actor)
            else:
                reply = await self._dispatch(request, actor)
        except UsageError as error:
            reply = error_reply(error.message, usage=error.usage)
        except DataError as error:
            reply = Reply(
                title=error.message,
                lines=error.problems,
                tone=Tone.ERROR,
                visibility=Visibility.EPHEMERAL,
            )
        except FineTuneError as error:
            reply = error_reply(error.message)
            # A path typed in chat is an attempt on the bot's disk: recorded whatever the command.
            audited = audited or isinstance(error, LocalPathRefusedError)
        except Exception:
            log.exception("command failed", extra={"command": name, "team": actor.team_id})
            reply = error_reply("Something went wrong on our side; the error was logged.")
        if audited:
            await self._audit(actor, name, request, reply)
        return reply

    async def permit(self, request: Request, actor: Actor) -> Reply | None:
        """May the actor run this request? Adapters ask before any work for it (a download, a
        form): None, or the one private refusal, audited as `handle` would."""
        try:
            await self.governance.authorize(request, actor)
        except FineTuneError as error:
            reply = error_reply(error.message)
            name = command_of(request).name
            if SPECS[name].mutating:
                await self._audit(actor, name, request, reply)
            return reply
        return None

    async def admit(self, request: Request, actor: Actor) -> Slot:
        """For an adapter that does long work of its own before `handle` (a download): the
        role check first, then the team's long-task slot; a FineTuneError says why not."""
        await self._ensure_team(actor)
        await self.governance.authorize(request, actor)
        return self.long_work.claim(actor.team_id)

    async def _ensure_team(self, actor: Actor) -> None:
        """Record the team once per process: teams are never deleted, and a write per command
        would make every short command wait for SQLite's one writer behind long work."""
        if actor.team_id in self._teams:
            return
        await self._store.ensure_team(
            Team(id=actor.team_id, platform=actor.platform, workspace_id=actor.workspace_id)
        )
        self._teams.add(actor.team_id)

    async def handle_text(
        self, text: str, actor: Actor, *, progress: Progress | None = None
    ) -> Reply:
        """Parse one command line (Slack text, console) and answer it; bad text gets usage."""
        try:
            request = parse(text)
        except UsageError as error:
            return error_reply(error.message, usage=error.usage)
        return await self.handle(request, actor, progress=progress)

    async def estimate_start(
        self, actor: Actor, *, training_file: str, model: str, n_epochs: int | None = None
    ) -> tuple[str, ...]:
        """What a start would bill and cost, for the start forms to show before submission."""
        training = await self._store.get_file(actor.team_id, training_file)
        if training is None:
            return (f"No file '{training_file}' in this team. See /finetune files.",)
        if training.tokens is None:
            return (
                f"{training.alias} has no token count (uploaded before counting), so its "
                "cost cannot be estimated; upload it again to count it.",
            )
        found = estimate(
            self._prices,
            model=model,
            examples=training.examples,
            billed_tokens_per_epoch=training.tokens,
            epochs=n_epochs,
        )
        return found.lines()

    async def fine_tunable_models(self, actor: Actor, query: str = "") -> list[str]:
        """Base models the provider offers for fine-tuning, plus the team's own models."""
        provider = await self._providers.for_team(actor.team_id)
        listed = await provider.list_models()
        names = [m.id for m in listed if provider.profile.is_fine_tunable(m.id)]
        own = [m.name for m in await self._store.list_models(actor.team_id)]
        wanted = query.lower()
        return [n for n in dict.fromkeys(names + own) if wanted in n.lower()]

    async def _dispatch(self, request: Request, actor: Actor) -> Reply:
        team = actor.team_id
        match request:
            case HelpRequest(topic=topic):
                return help_reply(topic)
            case UploadRequest():
                return await self._upload(request, actor)
            case ValidateRequest():
                return await self._validate(request, actor)
            case RmFileRequest(alias=alias):
                return await self._rm_file(team, alias)
            case FilesRequest():
                return await self._files(team)
            case StartRequest():
                return await self._start(request, actor)
            case ListRequest(status=status, limit=limit):
                return await self._list(team, status, limit)
            case InspectRequest(job_id=job_id):
                return await self._inspect(team, job_id)
            case EventsRequest(job_id=job_id, limit=limit):
                return await self._events(team, job_id, limit)
            case CheckpointsRequest(job_id=job_id):
                return await self._checkpoints(team, job_id)
            case CancelRequest(job_id=job_id) if self.playground.is_run(job_id):
                return self.playground.cancel(team, job_id, actor)
            case CancelRequest(job_id=job_id):
                return await self._control(team, job_id, "cancel")
            case PauseRequest(job_id=job_id):
                return await self._control(team, job_id, "pause")
            case ResumeRequest(job_id=job_id):
                return await self._control(team, job_id, "resume")
            case ModelsRequest():
                return await self._models(team)
            case ChartRequest(job_id=job_id):
                return await self._chart(team, job_id)
            case SubscribeRequest(filter=filter_):
                await self._store.add_subscription(
                    Subscription(
                        team_id=team,
                        channel=actor.channel,
                        filter=filter_,
                        created_by=actor.user_id,
                    )
                )
                return Reply(
                    title=f"This channel now receives {filter_.value} job notices of the team.",
                    tone=Tone.SUCCESS,
                )
            case UnsubscribeRequest():
                removed = await self._store.remove_subscription(team, actor.channel)
                if not removed:
                    raise NotFoundError("This channel was not subscribed.")
                return Reply(title="This channel no longer receives the team's job notices.")
            case TryRequest():
                return await self.playground.try_model(request, actor)
            case CompareRequest():
                progress = _stage(_progress.get(), "comparing")
                return await self.playground.compare(request, actor, progress=progress)
            case DatasetRequest():
                return await self.playground.dataset(request, actor)
            case SetupRequest():
                return await self.governance.setup(request, actor)
            case AccessRequest():
                return await self.governance.access(request, actor)
            case BudgetRequest():
                return await self.governance.budget(request, actor)
            case ApproveRequest() | RejectRequest():
                return await self.governance.decide(request, actor, self._launch_approved)
            case AuditRequest():
                return await self.governance.audit(request, actor)
            case SettingsRequest(metric_interval=interval):
                return await self._settings(team, interval)
            case SubscriptionsRequest():
                subs = await self._store.list_subscriptions(team)
                if not subs:
                    return Reply(
                        title="No subscribed channels.",
                        lines=(
                            "Notices go to the channel a job was started in. "
                            "Run /finetune subscribe in another channel to add it.",
                        ),
                    )
                return Reply(
                    title=f"{len(subs)} subscribed channel(s)",
                    table=Table(
                        headers=("channel", "filter", "by"),
                        rows=tuple(
                            (
                                rich(ChannelRef(channel_id=s.channel.channel_id)),
                                s.filter.value,
                                rich(UserRef(user_id=s.created_by)) if s.created_by else "—",
                            )
                            for s in subs
                        ),
                    ),
                )
        raise UsageError("Unknown command.", usage="/finetune help")  # pragma: no cover

    async def _settings(self, team_id: str, metric_interval: int | None) -> Reply:
        if metric_interval is not None:
            await self._store.set_metric_interval(team_id, metric_interval)
        team = await self._store.get_team(team_id)
        seconds = team.metric_interval_seconds if team else metric_interval
        every = "every poll" if seconds == 0 else f"at most one per job every {seconds} s"
        return Reply(
            title="Settings updated" if metric_interval is not None else "Team settings",
            fields=(Field(name="Metric updates (metric_interval)", value=every),),
            lines=("Change one with /finetune settings metric_interval=SECONDS",),
            tone=Tone.SUCCESS if metric_interval is not None else Tone.INFO,
        )

    # ------------------------------------------------------------------ files

    async def _upload(self, request: UploadRequest, actor: Actor) -> Reply:
        path, filename = local_file(request.file, actor, "upload")
        alias = request.alias or _default_alias(filename)
        # Reading a large file must not stall every other team's commands on the event loop.
        report = await self._cpu_bound(self._check_file, path, request.format)
        if report is None:
            raise UsageError(f"No readable file {filename}.", usage=SPECS["upload"].usage)
        if not report.ok and not request.force:
            raise DataError(
                f"{filename} is not ready for fine-tuning: {report.problem_count:,} error(s).",
                problems=(*report.problems, FORCE_RISK),
            )
        team = actor.team_id
        same = await self._store.find_file_by_sha256(team, report.sha256)
        if same is not None:
            return Reply(
                title=f"{filename} was already uploaded as '{same.alias}' "
                f"({same.provider_file_id}).",
                lines=(
                    "Nothing uploaded again. Start a job with "
                    f"/finetune start file={same.alias} model=MODEL",
                ),
            )
        if await self._store.get_file(team, alias) is not None:
            raise ConflictError(
                f"The alias '{alias}' is taken in this team; pick another with alias=NAME."
            )
        provider = await self._providers.for_team(team)
        uploaded = await self._upload_file(provider, path, filename)
        record = TeamFile(
            team_id=team,
            alias=alias,
            provider_file_id=uploaded.id,
            filename=filename,
            sha256=report.sha256,
            format=report.format,
            examples=report.examples,
            bytes=report.bytes,
            tokens=report.total_tokens,
            created_at=self._clock.now(),
            uploaded_by=actor.user_id,
        )
        try:
            await self._store.add_file(record)
        except ConflictError:
            await provider.delete_file(uploaded.id)  # a racing upload took the alias first
            raise
        if report.bytes <= LOCAL_COPY_MAX_BYTES:
            # OpenAI does not hand fine-tuning files back; try and compare read this copy.
            content = await asyncio.to_thread(path.read_bytes)
            await self._store.save_file_copy(actor.team_id, uploaded.id, content)
        return Reply(
            title=f"Uploaded {filename} as '{alias}'",
            fields=(
                Field(name="File id", value=uploaded.id),
                Field(name="Examples", value=str(report.examples)),
                Field(name="Size", value=_size(report.bytes)),
                Field(name="Format", value=report.format),
            ),
            lines=(
                *_forced_lines(report),
                *(p for p in report.problems if report.ok),
                f"Next: /finetune start file={alias} model=MODEL",
            ),
            tone=Tone.SUCCESS,
        )

    async def _files(self, team: str) -> Reply:
        files = await self._store.list_files(team)
        if not files:
            return Reply(
                title="No files yet.",
                lines=("Share a .jsonl file, then run /finetune upload alias=NAME",),
            )
        return Reply(
            title=f"{len(files)} file(s)",
            table=Table(
                headers=("alias", "file id", "format", "examples", "tokens", "size", "uploaded"),
                rows=tuple(
                    (
                        f.alias,
                        f.provider_file_id,
                        f.format,
                        f"{f.examples:,}",
                        f"{f.tokens:,}" if f.tokens is not None else "—",
                        _size(f.bytes),
                        format_time(f.created_at),
                    )
                    for f in files
                ),
            ),
        )

    async def _cpu_bound(self, work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run CPU-heavy work on the service's bounded pool, with this task's context
        (the progress callback rides in a context variable)."""
        run = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._cpu, run)

    def _check_file(
        self,
        path: Path,
        data_format: str | None,
        *,
        model: str = "",
        training: Path | None = None,
    ) -> DatasetReport | None:
        """Validate in the calling (worker) thread; None when there is no such file."""
        if not path.is_file():
            return None
        report = _progress.get()
        try:
            return validate_file(
                path,
                self._tokenizer,
                model=model,
                token_limit=self._prices.token_limit(model) if model else 65_536,
                format=Format(data_format) if data_format else None,
                training_hashes=example_hashes(training) if training is not None else None,
                progress=_stage(report, "validating"),
            )
        except OSError as error:  # gone or changed while read: say so, not "went wrong"
            reason = error.strerror or "it could not be read"
            raise UsageError(f"Could not read {path.name}: {reason}.") from None

    async def _upload_file(self, provider: Provider, path: Path, filename: str) -> ProviderFile:
        progress = _stage(_progress.get(), "uploading")
        if progress is None:
            return await provider.upload_file(path, filename=filename)
        return await provider.upload_file(path, filename=filename, progress=progress)

    async def _validate(self, request: ValidateRequest, actor: Actor) -> Reply:
        model = request.model or DEFAULT_ESTIMATE_MODEL
        # The validation file first: a path typed there is refused (and audited) even when
        # the training file is missing.
        other = (
            local_file(request.validation, actor, "validate")
            if request.validation is not None
            else None
        )
        path, name = local_file(request.file, actor, "validate")
        usage = SPECS["validate"].usage
        report = await self._cpu_bound(self._check_file, path, request.format, model=model)
        if report is None:
            raise UsageError(f"No readable file {name}.", usage=usage)
        lines = [*summary_lines(report)]
        cost = estimate(
            self._prices,
            model=model,
            examples=report.examples,
            billed_tokens_per_epoch=report.billed_tokens_per_epoch,
        )
        lines += cost.lines(exact_tokens=report.exact_tokens)
        lines += report.problems
        worst = report
        if other is not None:
            checked = await self._cpu_bound(
                self._check_file,
                other[0],
                report.format,
                model=model,
                training=path,
            )
            if checked is None:
                raise UsageError(f"No readable file {other[1]}.", usage=usage)
            lines += ["", f"Validation file {other[1]}:"]
            lines += summary_lines(checked)
            lines += checked.problems
            worst = checked if not checked.ok else report
        if worst.ok and report.ok:
            title, tone = f"{name} is ready for fine-tuning", Tone.SUCCESS
            if report.warning_count:
                title += f" ({report.warning_count:,} warning(s))"
        else:
            errors = report.problem_count + (worst.problem_count if worst is not report else 0)
            title, tone = f"{name}: {errors:,} error(s) to fix before uploading", Tone.ERROR
        return Reply(title=title, lines=tuple(lines), tone=tone)

    async def _rm_file(self, team: str, alias: str) -> Reply:
        record = await self._store.get_file(team, alias)
        if record is None:
            raise NotFoundError(f"No file '{alias}' in this team. See /finetune files.")
        provider = await self._providers.for_team(team)
        try:
            await provider.delete_file(record.provider_file_id)
        except ProviderError as error:
            if error.kind is not ProviderErrorKind.NOT_FOUND:
                raise  # the provider still has it: keep the alias so the file can be found
        await self._store.delete_file(team, record.alias)
        return Reply(
            title=f"Deleted '{record.alias}' ({record.provider_file_id})",
            lines=("Jobs already started with it are not affected.",),
            tone=Tone.SUCCESS,
        )

    # ------------------------------------------------------------------ jobs

    async def _start(self, request: StartRequest, actor: Actor) -> Reply:
        team = actor.team_id
        training = await self._store.get_file(team, request.training_file)
        if training is None:
            raise NotFoundError(
                f"No file '{request.training_file}' in this team. See /finetune files."
            )
        validation: TeamFile | None = None
        if request.validation_file:
            validation = await self._store.get_file(team, request.validation_file)
            if validation is None:
                raise NotFoundError(
                    f"No file '{request.validation_file}' in this team. See /finetune files."
                )
        await self._own_model(team, request.model)
        # Before the budget: a retry of a start already made is answered, never refused.
        earlier = await self._store.find_intent(
            team,
            requester_id=actor.user_id,
            fingerprint=start_fingerprint(request, actor.channel),
            since=self._clock.now() - REPEAT_WINDOW,
        )
        if earlier is not None and earlier.job_id is not None:
            return await self._already_started(team, earlier.job_id, earlier.created_at)
        cost = self.governance.cost_of(request, training)
        await self.governance.check_budget(team, cost)
        if await self.governance.needs_approval(team, cost):
            return await self.governance.request_approval(request, actor, cost)
        # An identical start whose job is not known yet (a crash, a lost answer) retries with
        # the same key: the provider hands back the job it made, never a second one.
        key = (
            earlier.key
            if earlier is not None
            else request_key(team, actor.request_id or uuid.uuid4().hex)
        )
        return await self._launch(
            request,
            team=team,
            channel=actor.channel,
            requester=actor.user_id,
            training=training,
            validation=validation,
            cost=cost,
            key=key,
        )

    async def _launch(
        self,
        request: StartRequest,
        *,
        team: str,
        channel: ChannelAddress,
        requester: str,
        training: TeamFile,
        validation: TeamFile | None,
        cost: StartCost,
        key: str,
        approval_id: str | None = None,
    ) -> Reply:
        """Create the job at the provider (only here, after any budget check and approval).

        The start is written down as an intent first and its key is the provider's
        idempotency key on every try, so a crash, a retry or a replay makes one job at most.
        """
        now = self._clock.now()
        spec = JobSpec(
            model=request.model,
            training_file=training.provider_file_id,
            validation_file=validation.provider_file_id if validation else None,
            method=request.method,
            hyperparameters=Hyperparameters(
                n_epochs=request.n_epochs,
                batch_size=request.batch_size,
                learning_rate_multiplier=request.learning_rate_multiplier,
                beta=request.beta,
            ),
            suffix=request.suffix,
            seed=request.seed,
            metadata={
                BOT_METADATA_KEY: self._instance,
                "ftbot_team": team,
                "ftbot_channel": channel.channel_id,
                "ftbot_user": requester,
                INTENT_METADATA_KEY: key,
            },
        )
        provider = await self._providers.for_team(team)
        intent = await self._store.add_intent(
            StartIntent(
                key=key,
                team_id=team,
                requester_id=requester,
                channel=channel,
                fingerprint=start_fingerprint(request, channel),
                request=encode_start(request),
                estimated=cost.cost,
                price_per_million=cost.price_per_million,
                account=provider.label,
                created_at=now,
                approval_id=approval_id,
            )
        )
        state = await provider.create_job(spec, idempotency_key=intent.key)
        await settle_started(self._store, intent, state, self._clock.now())
        hp = spec.hyperparameters
        lines = ["I'll post progress in this channel and mention you when it ends."]
        if provider.is_simulation:
            lines.append(f"Note: {provider.label}: no real model is trained.")
        return Reply(
            title=f"Started {state.id}",
            fields=(
                Field(name="Status", value=state.shown_status),
                Field(name="Base model", value=state.model),
                Field(
                    name="Training file", value=f"{training.alias} ({training.provider_file_id})"
                ),
                Field(name="Validation file", value=validation.alias if validation else "—"),
                Field(name="Method", value=spec.method.value),
                Field(name="Epochs", value=_auto(hp.n_epochs)),
                Field(name="LR multiplier", value=_auto(hp.learning_rate_multiplier)),
                Field(name="Batch size", value=_auto(hp.batch_size)),
                Field(name="Suffix", value=spec.suffix or "—"),
            ),
            lines=tuple(lines),
            tone=Tone.SUCCESS,
        )

    async def _already_started(self, team: str, job_id: str, at: datetime) -> Reply:
        job = await self._store.get_job(team, job_id)
        status = job.state.status if job is not None else "unknown"
        return Reply(
            title=f"Already started {job_id} for this same request (status: {status})",
            lines=(
                f"You asked for an identical job {format_time(at)}; nothing new was started. "
                "To start another one, change an option (e.g. seed=N) or wait "
                f"{int(REPEAT_WINDOW.total_seconds() // 60)} minutes.",
            ),
            tone=Tone.INFO,
        )

    async def _launch_approved(self, request: StartRequest, approval: Approval) -> Reply:
        team = approval.team_id
        training = await self._store.get_file(team, request.training_file)
        if training is None:
            raise NotFoundError(f"The file '{request.training_file}' is gone; nothing started.")
        validation: TeamFile | None = None
        if request.validation_file:
            validation = await self._store.get_file(team, request.validation_file)
            if validation is None:
                raise NotFoundError(
                    f"The file '{request.validation_file}' is gone; nothing started."
                )
        return await self._launch(
            request,
            team=team,
            channel=approval.channel,
            requester=approval.requester_id,
            training=training,
            validation=validation,
            cost=self.governance.cost_of(request, training),
            key=approval_key(approval.id),
            approval_id=approval.id,
        )

    async def _own_model(self, team: str, model: str) -> None:
        """A fine-tuned base model must be one of the team's own (the account may be shared)."""
        provider = await self._providers.for_team(team)
        tuned = provider.profile.is_tuned_model(model)
        if tuned and await self._store.get_model(team, model) is None:
            raise NotFoundError(f"No model '{model}' in this team. See /finetune models.")

    async def _list(self, team: str, status: str | None, limit: int) -> Reply:
        jobs = await self._store.list_jobs(team, status=status, limit=limit)
        if not jobs:
            which = f" with status {status}" if status else ""
            return Reply(
                title=f"No jobs{which}.",
                lines=("Start one with /finetune start file=ALIAS model=MODEL",),
            )
        return Reply(
            title=f"{len(jobs)} job(s), newest first",
            table=Table(
                headers=("job", "status", "model", "created", "result"),
                rows=tuple(
                    (
                        j.state.id,
                        j.state.shown_status,
                        j.state.model,
                        format_time(j.state.created_at),
                        j.state.fine_tuned_model or (j.state.error or "")[:60],
                    )
                    for j in jobs
                ),
            ),
        )

    async def _job(self, team: str, job_id: str) -> Job:
        job = await self._store.get_job(team, job_id)
        if job is None:
            raise NotFoundError(f"No job '{job_id}' in this team. See /finetune list.")
        return job

    async def _inspect(self, team: str, job_id: str) -> Reply:
        job = await self._job(team, job_id)
        provider = await self._providers.for_team(team)
        stale_note = ""
        try:
            state = await provider.get_job(job_id)
            if state != job.state:
                await self._store.update_job_state(team, state, poll_now=True)
                await self._remember_model(team, state)
                await settle_spend(self._store, team, state)
            job = replace(job, state=state)
        except ProviderError as error:
            if error.kind is ProviderErrorKind.NOT_FOUND:
                raise NotFoundError(f"The provider no longer knows job '{job_id}'.") from None
            stale_note = f"Showing the last known state: {error.message}"
        points = await self._watch.list_metric_points(team, job_id)
        latest = points[-1] if points else None
        s = job.state
        hp = s.hyperparameters
        fields = [
            Field(name="Status", value=s.shown_status),
            Field(name="Base model", value=s.model),
            Field(name="Method", value=s.method),
            Field(name="Epochs", value=_auto(hp.n_epochs)),
            Field(name="LR multiplier", value=_auto(hp.learning_rate_multiplier)),
            Field(name="Batch size", value=_auto(hp.batch_size)),
            Field(name="Training file", value=s.training_file),
            Field(name="Validation file", value=s.validation_file or "—"),
            Field(
                name="Trained tokens", value=f"{s.trained_tokens:,}" if s.trained_tokens else "—"
            ),
            Field(name="Fine-tuned model", value=s.fine_tuned_model or "—", inline=False),
            Field(name="Created", value=format_time(s.created_at)),
            Field(name="Finished", value=format_time(s.finished_at)),
        ]
        if latest:
            fields.append(
                Field(
                    name="Progress",
                    value=progress_bar(latest.step, latest.total_steps),
                    inline=False,
                )
            )
        card = job_card(job, latest, self._clock.now())
        eta = next((f for f in card.fields if f.name == "ETA"), None)
        if eta:
            fields.append(eta)
        if s.error:
            fields.append(Field(name="Error", value=s.error, inline=False))
        if s.suffix:
            fields.append(Field(name="Suffix", value=s.suffix))
        return Reply(
            title=f"Job {s.id}",
            fields=tuple(fields),
            lines=(stale_note,) if stale_note else (),
            tone=card.tone,
            buttons=card.buttons,
        )

    async def _events(self, team: str, job_id: str, limit: int) -> Reply:
        await self._job(team, job_id)
        provider = await self._providers.for_team(team)
        events = await provider.list_events_after(job_id, None)
        latest = list(events)[-limit:]
        if not latest:
            return Reply(title=f"No events yet for {job_id}.")
        return Reply(
            title=f"Latest {len(latest)} event(s) of {job_id}",
            lines=tuple(
                f"{format_time(e.created_at)}  [{e.level}] {e.message}" for e in reversed(latest)
            ),
        )

    async def _checkpoints(self, team: str, job_id: str) -> Reply:
        await self._job(team, job_id)
        provider = await self._providers.for_team(team)
        checkpoints = await provider.list_checkpoints(job_id)
        if not checkpoints:
            return Reply(title=f"No checkpoints yet for {job_id}.")
        return Reply(
            title=f"{len(checkpoints)} checkpoint(s) of {job_id}",
            table=Table(
                headers=("step", "model", "train loss", "valid loss"),
                rows=tuple(
                    (
                        str(c.step),
                        c.model_name,
                        _metric(c.metrics.get("train_loss")),
                        _metric(c.metrics.get("full_valid_loss", c.metrics.get("valid_loss"))),
                    )
                    for c in checkpoints
                ),
            ),
        )

    async def _control(self, team: str, job_id: str, action: str) -> Reply:
        job = await self._job(team, job_id)
        if job.state.terminal:
            raise ConflictError(f"{job_id} already {job.state.status}; nothing to {action}.")
        provider = await self._providers.for_team(team)
        if not provider.profile.can(Capability(action)):
            # The profile answers; the provider is never asked to do what it cannot.
            raise ConflictError(f"{provider.label} cannot {action} a job.")
        match action:
            case "cancel":
                state = await provider.cancel_job(job_id)
            case "pause":
                state = await provider.pause_job(job_id)
            case _:
                state = await provider.resume_job(job_id)
        await self._store.update_job_state(team, state, poll_now=True)
        verb = {"cancel": "Cancelling", "pause": "Paused", "resume": "Resumed"}[action]
        return Reply(
            title=f"{verb} {job_id} (status: {state.shown_status})",
            tone=Tone.WARNING if action == "cancel" else Tone.SUCCESS,
        )

    async def _models(self, team: str) -> Reply:
        models = await self._store.list_models(team)
        if not models:
            return Reply(
                title="No fine-tuned models yet.",
                lines=("They appear here when a job of this team succeeds.",),
            )
        return Reply(
            title=f"{len(models)} fine-tuned model(s)",
            table=Table(
                headers=("model", "base", "job", "created"),
                rows=tuple(
                    (m.name, m.base_model, m.job_id, format_time(m.created_at)) for m in models
                ),
            ),
        )

    async def _chart(self, team: str, job_id: str) -> Reply:
        job = await self._job(team, job_id)
        points: Sequence[MetricPoint] = await self._watch.list_metric_points(team, job_id)
        if not points:
            provider = await self._providers.for_team(team)
            events = await provider.list_events_after(job_id, None)
            points = [p for e in events if (p := MetricPoint.from_event(e)) is not None]
        if not points:
            return Reply(title=f"No metrics yet for {job_id}; try again once training runs.")
        png = self._charts.render(f"{job_id} ({job.state.model})", points)
        last = points[-1]
        return Reply(
            title=f"Loss and token accuracy of {job_id}",
            lines=(f"{len(points)} steps; last {progress_bar(last.step, last.total_steps)}",),
            attachments=(
                Attachment(
                    filename=f"{job_id}-loss.png",
                    content=png,
                    mime_type="image/png",
                    title=f"{job_id} loss and accuracy",
                ),
            ),
        )

    async def _remember_model(self, team: str, state: JobState) -> None:
        made = model_made_by(team, state, now=self._clock.now())
        if made is not None:
            await self._store.add_model(made)

    async def _audit(self, actor: Actor, name: str, request: Request, reply: Reply) -> None:
        result = "error" if reply.tone is Tone.ERROR else "ok"
        try:
            await self._store.record_audit(
                AuditEntry(
                    team_id=actor.team_id,
                    user_id=actor.user_id,
                    command=name,
                    arguments=_describe(request),
                    result=f"{result}: {plain(reply.title)[:200]}",
                    at=self._clock.now(),
                )
            )
        except Exception:
            log.exception("audit write failed", extra={"command": name, "team": actor.team_id})


def help_reply(topic: str | None) -> Reply:
    """The overall command list, or one command's usage, options and examples."""
    if topic:
        spec = resolve_command(topic)
        if spec is None:
            raise UsageError(
                f"No command '{topic[:40]}'. Commands: {', '.join(SPECS)}.",
                usage="/finetune help",
            )
        lines = [spec.summary, "", f"Usage: {spec.usage}"]
        if spec.options:
            lines.append("Options:")
            lines.extend(f"  {o.name}: {o.help}" for o in spec.options)
        if spec.aliases:
            lines.append(f"Also: {', '.join(spec.aliases)}")
        lines.append("Examples:")
        lines.extend(f"  {e}" for e in spec.examples)
        return Reply(
            title=f"/finetune {spec.name}", lines=tuple(lines), visibility=Visibility.EPHEMERAL
        )
    lines = [f"/finetune {s.name} — {s.summary}" for s in SPECS.values()]
    lines.append("")
    lines.append("Details of one command: /finetune help COMMAND")
    return Reply(
        title="finetune-bot commands", lines=tuple(lines), visibility=Visibility.EPHEMERAL
    )


LOCAL_COPY_MAX_BYTES = 8 << 20
"""Files up to this size are also kept in the store, as test sets for try and compare."""

Progress = Callable[[str, int, int], None]
"""(stage, done, total): bytes for "validating" and "uploading", chat calls for "comparing"."""

_progress: ContextVar[Progress | None] = ContextVar("finetune_progress", default=None)

DEFAULT_ESTIMATE_MODEL = "gpt-4.1-mini-2025-04-14"

FORCE_RISK = (
    "Fix them and upload again, or add force=yes to upload anyway: the provider may refuse "
    "the file when a job starts (the job fails while validating files), or train on the "
    "broken examples you are billed for."
)


def _stage(progress: Progress | None, stage: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _forced_lines(report: DatasetReport) -> tuple[str, ...]:
    if report.ok:
        return ()
    return (
        f"Uploaded with {report.problem_count:,} error(s) because force=yes: the job may fail "
        "while the provider validates the file, or train on the broken examples.",
    )


def _describe(request: Request) -> str:
    parts = []
    for key in getattr(request, "__dataclass_fields__", {}):
        value = getattr(request, key)
        if key == "endpoint" and isinstance(value, str):
            value = safe_endpoint(value)  # a typed ?token= or user:pass@ is never audited
        if value is not None and not isinstance(value, Secret):
            parts.append(redact(f"{key}={value}"))
    return " ".join(parts)[:500]


def _default_alias(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if filename.endswith(".jsonl") else filename
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-.")
    return (cleaned or "file")[:64]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _auto(value: float | None) -> str:
    return "auto" if value is None else f"{value:g}"


def _metric(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "—"


__all__ = ["BOT_METADATA_KEY", "Service", "format_duration", "help_reply"]
