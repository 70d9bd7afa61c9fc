"""Core layer: the jobs feature: start, launch, list, inspect, events, control, chart, models."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from handlers.cards import by_alias, job_card, progress_bar
from handlers.errors import (
    BudgetError,
    ConflictError,
    FineTuneError,
    NotFoundError,
    ProviderError,
    ProviderErrorKind,
    UsageError,
)
from handlers.families import pick_family, shown_provider
from handlers.features.routing import Routes
from handlers.governance import (
    LOCAL_ESTIMATE,
    Governance,
    StartCost,
    encode_start,
    settle_spend,
)
from handlers.held import Holder
from handlers.model import (
    Actor,
    Approval,
    ChannelAddress,
    Hyperparameters,
    Job,
    JobSpec,
    JobState,
    MetricPoint,
    StartIntent,
    TeamFile,
    gone,
    model_made_by,
)
from handlers.playground import Playground
from handlers.ports import (
    ChartRenderer,
    Clock,
    MetricFiles,
    ModelLimitsSource,
    PriceEstimates,
    Provider,
    ProviderDirectory,
    Store,
    WatchStore,
)
from handlers.pricing import PriceTable, estimate, stale_warning
from handlers.profile import Capability, JobStatus, ProviderProfile
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    Field,
    Reply,
    Table,
    TimeRef,
    Tone,
    Visibility,
    moment,
    rich,
)
from handlers.requests import (
    CancelRequest,
    ChartRequest,
    CheckpointsRequest,
    EventsRequest,
    FormField,
    InspectRequest,
    ListRequest,
    ModelsRequest,
    OptionRefused,
    PauseRequest,
    ResumeRequest,
    StartRequest,
    check_examples,
    check_formats,
    check_limits,
    check_start,
    form_fields,
    start_refusal,
)
from handlers.scope import account_of
from handlers.starts import (
    INTENT_METADATA_KEY,
    REPEAT_WINDOW,
    approval_key,
    request_key,
    settle_started,
    start_fingerprint,
)
from handlers.text import MISSING, count, decimal, money, timestamp
from handlers.watch import Shown, card_message

HELD_START = "cs-"
"""A costly typed start waiting for its requester's Start button (the `confirm=` id)."""
HOLD_START_FOR = timedelta(minutes=15)
"""As long as a start form's own confirmation lives."""

BOT_METADATA_KEY = "ftbot"
"""Every job the bot creates carries this metadata key, so `resync` can find it again."""


class Jobs:
    """A team's fine-tuning jobs and the models they made."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        providers: ProviderDirectory,
        clock: Clock,
        charts: ChartRenderer,
        prices: PriceTable,
        instance: str,
        governance: Governance,
        playground: Playground,
        confirm_over: float | None = None,
    ) -> None:
        self._store = store
        self._watch = watch_store
        self._providers = providers
        self._clock = clock
        self._charts = charts
        self.wake: Callable[[], None] = _nothing
        """Called once a job is created and its card queued, or made due after a refused
        control (the app wakes its watcher and dispatcher: the card goes out, the job is
        polled at once)."""
        self._prices = prices
        self._instance = instance
        self._governance = governance
        self._playground = playground
        self._confirm_over = confirm_over
        self._held: Holder[StartRequest] = Holder(HELD_START, HOLD_START_FOR)

    def routes(self) -> Routes:
        return {
            ListRequest: lambda r, a: self._list(a.team_id, r.status, r.limit),
            InspectRequest: lambda r, a: self._inspect(a.team_id, r.job_id),
            EventsRequest: lambda r, a: self._events(a.team_id, r.job_id, r.limit),
            CheckpointsRequest: lambda r, a: self._checkpoints(a.team_id, r.job_id),
            CancelRequest: self._cancel,
            PauseRequest: lambda r, a: self._control(a.team_id, r.job_id, "pause"),
            ResumeRequest: lambda r, a: self._control(a.team_id, r.job_id, "resume"),
            ModelsRequest: lambda r, a: self._models(a.team_id),
            ChartRequest: lambda r, a: self._chart(a.team_id, r.job_id),
        }

    async def _cancel(self, request: CancelRequest, actor: Actor) -> Reply:
        # A compare run's id is cancelled where it runs; a job's at its provider.
        if self._playground.is_run(request.job_id):
            return self._playground.cancel(actor.team_id, request.job_id, actor)
        return await self._control(actor.team_id, request.job_id, "cancel")

    async def estimate_start(
        self,
        actor: Actor,
        *,
        training_file: str,
        model: str,
        n_epochs: int | None = None,
        family: str | None = None,
    ) -> tuple[str, ...]:
        """What a start would bill and cost, for the start forms to show before submission,
        and when training that model ends at the family (None: the team's default), if an end
        is announced for it."""
        # A family the team cannot use is the start's to refuse; the estimate shows the default's.
        usable = family if family in await self._providers.available(actor.team_id) else None
        ends = (await self._profile(actor.team_id, usable)).model_end_line(model)
        own = await self._own_estimate(actor, training_file, model, n_epochs, usable)
        return (
            *await self._estimate(actor, training_file, model, n_epochs),
            *own,
            *_given(ends),
        )

    async def _own_estimate(
        self,
        actor: Actor,
        training_file: str,
        model: str,
        n_epochs: int | None,
        family: str | None,
    ) -> tuple[str, ...]:
        """The provider's own price for the form's start, where its family prices jobs itself
        and the file is already there; the line the start itself would act on."""
        team = actor.team_id
        chosen = pick_family(await self._providers.available(team), family)
        provider = await self._providers.for_team(team, chosen)
        training = await self._store.get_file(team, training_file)
        if (
            training is None
            or training.provider not in ("", chosen)
            or not provider.profile.can(Capability.PROVIDER_ESTIMATE)
        ):
            return ()
        request = StartRequest(
            model=model, training_file=training_file, n_epochs=n_epochs, provider=chosen
        )
        try:
            cost = await self._cost(request, training, None, team)
        except FineTuneError as refused:
            return (refused.message,)
        if cost.cost is None or cost.source == LOCAL_ESTIMATE:
            return ()
        return (f"{cost.source}: {money(cost.cost)} (what the start is checked against).",)

    async def _estimate(
        self, actor: Actor, training_file: str, model: str, n_epochs: int | None
    ) -> tuple[str, ...]:
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
        stale = stale_warning(self._prices, self._clock.now().date())
        return found.lines() + ((stale,) if stale else ())

    async def _profile(self, team: str, family: str | None) -> ProviderProfile:
        """The profile of the family a start goes to: the one named, else the team's default."""
        chosen = pick_family(await self._providers.available(team), family)
        return (await self._providers.for_team(team, chosen)).profile

    async def start_fields(self, actor: Actor, family: str | None = None) -> tuple[FormField, ...]:
        """The start forms' training options, as the chosen family's provider takes them."""
        return form_fields(await self._profile(actor.team_id, family))

    async def start_refusal(self, actor: Actor, request: StartRequest) -> OptionRefused | None:
        """What the start's provider would refuse in this start, before the form closes."""
        chosen = pick_family(await self._providers.available(actor.team_id), request.provider)
        provider = await self._providers.for_team(actor.team_id, chosen)
        refused = start_refusal(request, provider.profile)
        if refused is not None:
            return refused
        try:
            await self._check_limits(provider, request)
        except OptionRefused as beyond:
            return beyond
        return None

    async def _check_limits(self, provider: Provider, request: StartRequest) -> None:
        """Where the provider says per base model what a job may ask, an option beyond it is
        refused now, naming the model's bound; if the limits cannot be read, the provider
        checks the create itself."""
        if not provider.profile.can(Capability.MODEL_LIMITS) or not isinstance(
            provider, ModelLimitsSource
        ):
            return
        try:
            limits = await provider.model_limits(
                request.model, method=request.method, training_type=request.training_type
            )
        except ProviderError as error:
            if error.kind in (ProviderErrorKind.AUTH, ProviderErrorKind.PERMISSION):
                raise
            return
        check_limits(request, limits, provider.profile.label)

    async def fine_tunable_models(
        self, actor: Actor, query: str = "", family: str | None = None
    ) -> list[str]:
        """Base models a family (None: the team's default) offers for fine-tuning, plus the
        team's own models made there."""
        chosen = pick_family(await self._providers.available(actor.team_id), family)
        provider = await self._providers.for_team(actor.team_id, chosen)
        listed = await provider.list_models()
        names = [m.id for m in listed if provider.profile.is_fine_tunable(m.id)]
        own = [
            m.name
            for m in await self._store.list_models(actor.team_id)
            if m.provider in ("", provider.profile.name)
        ]
        wanted = query.lower()
        return [n for n in dict.fromkeys(names + own) if wanted in n.lower()]

    async def start(self, request: StartRequest, actor: Actor) -> Reply:
        """A new job (the recipes feature routes every start, a replay's too, here)."""
        team = actor.team_id
        if request.confirm is not None and request.confirm.startswith(HELD_START):
            try:
                held = self._held.take(team, actor.user_id, request.confirm, self._clock.now())
            except KeyError:
                raise ConflictError(
                    "That start is no longer waiting for you (started already, or shown over "
                    f"{self._held.minutes} minutes ago); nothing was started. "
                    "Type the start again to see its cost."
                ) from None
            request = replace(held, confirm="yes")
        available = await self._providers.available(team)
        family = pick_family(available, request.provider)
        request = replace(request, provider=family)
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
        for file in (training, validation):
            _same_family(file, family, available)
        await self._own_model(team, request.model, family, available)
        # Before the budget or an approval: an option the provider cannot take is refused
        # once, naming what it does take, and nothing is sent.
        target = await self._providers.for_team(team, family)
        profile = target.profile
        check_start(request, profile)
        # What the provider would refuse while validating files, said now with the fix.
        check_formats(
            request,
            profile,
            {f.alias: f.format for f in (training, validation) if f is not None},
        )
        check_examples(profile, training.alias, training.examples)
        await self._check_limits(target, request)
        # Before the budget: a retry of a start already made is answered, never refused.
        earlier = await self._store.find_intent(
            team,
            requester_id=actor.user_id,
            fingerprint=start_fingerprint(request, actor.channel),
            since=self._clock.now() - REPEAT_WINDOW,
        )
        if earlier is not None and earlier.job_id is not None:
            return await self._already_started(team, earlier.job_id, earlier.created_at)
        cost = await self._cost(request, training, validation, team)
        await self._governance.check_budget(team, cost)
        if self._asks_first(request, cost):
            token = self._held.hold(team, actor.user_id, request, self._clock.now())
            return self._confirmation(request, training, cost, token)
        if await self._governance.needs_approval(team, cost):
            return await self._governance.request_approval(request, actor, cost)
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

    def _asks_first(self, request: StartRequest, cost: StartCost) -> bool:
        """A start above the deployment's confirmation amount waits for its Start button."""
        return (
            request.confirm != "yes"
            and self._confirm_over is not None
            and cost.cost is not None
            and cost.cost > self._confirm_over
        )

    def _confirmation(
        self, request: StartRequest, training: TeamFile, cost: StartCost, token: str
    ) -> Reply:
        """What the start would cost, privately, with the one button that starts it."""
        minutes = self._held.minutes
        stale = stale_warning(self._prices, self._clock.now().date())
        return Reply(
            title=f"Start {request.model} on {training.alias} for about {money(cost.cost)}?",
            fields=(
                Field(name="Est. cost", value=cost.describe(), inline=False),
                Field(name="Base model", value=request.model),
                Field(name="Training file", value=training.alias),
                Field(name="Provider", value=request.provider or "—"),
            ),
            lines=tuple(
                line
                for line in (
                    f"That is above this deployment's {money(self._confirm_over)} confirmation "
                    f"amount. Nothing is created until you press Start (within {minutes} "
                    "minutes); or type the start again with confirm=yes.",
                    stale or "",
                )
                if line
            ),
            buttons=(
                Button(
                    label="Start", action="confirm_start", value=token, style=ButtonStyle.PRIMARY
                ),
            ),
            tone=Tone.WARNING,
            visibility=Visibility.EPHEMERAL,
        )

    async def _cost(
        self, request: StartRequest, training: TeamFile, validation: TeamFile | None, team: str
    ) -> StartCost:
        """What the start costs: the provider's own estimate where its family prices jobs
        itself (its files are uploaded already), else (or when that fails) the local one.
        A provider that says the account may not start it refuses the start here."""
        local = self._governance.cost_of(request, training)
        provider = await self._providers.for_team(team, request.provider)
        if not provider.profile.can(Capability.PROVIDER_ESTIMATE) or not isinstance(
            provider, PriceEstimates
        ):
            return local
        label = provider.profile.label
        try:
            priced = await provider.estimate_price(
                self._spec(request, training, validation, metadata={})
            )
        except ProviderError as error:
            if error.kind in (ProviderErrorKind.AUTH, ProviderErrorKind.PERMISSION):
                raise  # the key is refused: the start would be too
            return replace(local, source=f"{LOCAL_ESTIMATE} ({label} could not price it)")
        if priced.allowed_to_proceed is False:
            limit = f" (its limit: {money(priced.user_limit)})" if priced.user_limit else ""
            raise BudgetError(
                f"Not started: {label} says this account may not start this job, estimated at "
                f"{money(priced.price)}{limit}: add credit or raise the limit at {label}, "
                "or start a smaller job."
            )
        if priced.price is None:
            return local
        counted = (priced.train_tokens or 0) + (priced.eval_tokens or 0)
        return replace(
            local,
            cost=priced.price,
            source=f"{label}'s own estimate",
            billed_tokens=counted or local.billed_tokens,
        )

    def _spec(
        self,
        request: StartRequest,
        training: TeamFile,
        validation: TeamFile | None,
        *,
        metadata: Mapping[str, str],
    ) -> JobSpec:
        return JobSpec(
            model=request.model,
            training_file=training.provider_file_id,
            validation_file=validation.provider_file_id if validation else None,
            method=request.method,
            hyperparameters=Hyperparameters(
                n_epochs=request.n_epochs,
                batch_size=request.batch_size,
                learning_rate_multiplier=request.learning_rate_multiplier,
                beta=request.beta,
                n_checkpoints=request.n_checkpoints,
                n_evals=request.n_evals,
                warmup_ratio=request.warmup_ratio,
                lora_r=request.lora_r,
                lora_alpha=request.lora_alpha,
                warmup_steps=request.warmup_steps,
                context_length=request.context_length,
            ),
            training_type=request.training_type,
            suffix=request.suffix,
            seed=request.seed,
            metadata=metadata,
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
        spec = self._spec(
            request,
            training,
            validation,
            metadata={
                BOT_METADATA_KEY: self._instance,
                "ftbot_team": team,
                "ftbot_channel": channel.channel_id,
                "ftbot_user": requester,
                INTENT_METADATA_KEY: key,
            },
        )
        provider = await self._providers.for_team(team, request.provider)
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
                provider=provider.profile.name,
                provider_account=account_of(provider),
            )
        )
        try:
            state = await provider.create_job(spec, idempotency_key=intent.key)
        except ProviderError as error:
            if not error.retryable:
                # Refused (an option, a model, the key): no job exists, and the reply says
                # so once; recovery would otherwise tell the team again that nothing started.
                await self._store.settle_intent(team, intent.key, job_id=None, at=now)
            raise
        await settle_started(self._store, intent, state, self._clock.now())
        # The job's card goes out now (the dispatcher posts within its tick), with Cancel on
        # it, and is edited in place from then on; the watcher polls the job right away.
        job = await self._store.get_job(team, state.id)
        card = (
            card_message(
                job,
                None,
                self._clock.now(),
                Shown(
                    capabilities=provider.profile.capabilities,
                    simulation=provider.label if provider.is_simulation else None,
                ),
            )
            if job is not None
            else None
        )
        if card is not None:
            await self._watch.enqueue([card], now=self._clock.now())
        self.wake()
        hp = spec.hyperparameters
        lines = [
            "Its card is posted in this channel, edited as it moves; "
            "I'll mention you there when it ends."
            if card is not None
            else "I'll mention you when it ends."
        ]
        if stale := stale_warning(self._prices, now.date()):
            lines.append(stale)
        if provider.is_simulation:
            lines.append(f"Note: {provider.label}: no real model is trained.")
        ends = provider.profile.model_end_line(state.model)
        if ends is not None:
            lines.append(ends)
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
                Field(name=_lr_label(provider.profile), value=_auto(hp.learning_rate_multiplier)),
                Field(name="Batch size", value=_auto(hp.batch_size)),
                Field(name="Suffix", value=spec.suffix or "—"),
                Field(name="Est. cost", value=cost.describe(), inline=False),
                *_provider_cost(state, provider.label),
            ),
            lines=tuple(lines),
            tone=Tone.SUCCESS,
            # The card is the channel's one message about the job; this answer is the
            # requester's receipt (its cost and settings).
            visibility=Visibility.EPHEMERAL if card is not None else Visibility.PUBLIC,
        )

    async def _already_started(self, team: str, job_id: str, at: datetime) -> Reply:
        job = await self._store.get_job(team, job_id)
        status = job.state.shown_status if job is not None else "unknown"
        return Reply(
            title=f"Already started {job_id} for this same request (status: {status})",
            lines=(
                f"You asked for an identical job {timestamp(at)}; nothing new was started. "
                "To start another one, change an option (e.g. seed=N) or wait "
                f"{int(REPEAT_WINDOW.total_seconds() // 60)} minutes.",
            ),
            tone=Tone.INFO,
        )

    async def launch_approved(self, request: StartRequest, approval: Approval) -> Reply:
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
            cost=await self._cost(request, training, validation, team),
            key=approval_key(approval.id),
            approval_id=approval.id,
        )

    async def _own_model(
        self, team: str, model: str, family: str, available: Sequence[str] = ()
    ) -> None:
        """A fine-tuned base model must be one of the team's own (the account may be shared),
        made at the family the job goes to."""
        provider = await self._providers.for_team(team, family)
        tuned = provider.profile.is_tuned_model(model)
        own = await self._store.get_model(team, model) if tuned else None
        if tuned and own is None:
            raise NotFoundError(f"No model '{model}' in this team. See /finetune models.")
        if own is not None and own.provider != family and own.provider in available:
            raise UsageError(
                f"The model '{model}' is at {own.provider}, not {family}: start it with "
                f"provider={own.provider}."
            )

    async def _list(self, team: str, status: str | None, limit: int) -> Reply:
        jobs = await self._store.list_jobs(team, status=status, limit=limit)
        if not jobs:
            which = f" with status {status}" if status else ""
            return Reply(
                title=f"No jobs{which}.",
                lines=("Start one with /finetune start file=ALIAS model=MODEL",),
            )
        return Reply(
            title=f"{count(len(jobs), 'job')}, newest first",
            table=Table(
                headers=("job", "status", "model", "created", "result", "provider"),
                rows=tuple(
                    (
                        j.state.id,
                        j.state.shown_status,
                        j.state.model,
                        moment(j.state.created_at),
                        j.state.fine_tuned_model or (j.state.error or "")[:60],
                        shown_provider(j.provider, j.account),
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
        provider = await self._providers.for_team(team, job.provider or None)
        stale_note = ""
        try:
            state = await provider.get_job(job_id)
            # The provider's estimate is read, never stored: it alone is no change to write.
            if replace(state, provider_cost=None) != job.state:
                await self._store.update_job_state(team, state, poll_now=True)
                await self._remember_model(job, state)
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
            Field(name=_lr_label(provider.profile), value=_auto(hp.learning_rate_multiplier)),
            Field(name="Batch size", value=_auto(hp.batch_size)),
            Field(name="Training file", value=s.training_file),
            Field(name="Validation file", value=s.validation_file or "—"),
            Field(
                name="Trained tokens", value=f"{s.trained_tokens:,}" if s.trained_tokens else "—"
            ),
            Field(name="Fine-tuned model", value=s.fine_tuned_model or "—", inline=False),
            Field(name="Created", value=moment(s.created_at)),
            Field(name="Finished", value=moment(s.finished_at)),
            Field(name="Provider", value=shown_provider(job.provider, job.account)),
        ]
        if latest:
            fields.append(
                Field(
                    name="Progress",
                    # A succeeded job trained every step it took: its last one is the total
                    # (a total read from a percentage while it ran can be one off).
                    value=progress_bar(
                        latest.step,
                        latest.step if s.status == JobStatus.SUCCEEDED else latest.total_steps,
                    ),
                    inline=False,
                )
            )
        card = job_card(
            job,
            latest,
            self._clock.now(),
            capabilities=provider.profile.capabilities,
            metrics_note=provider.profile.metrics_note,
        )
        fields.extend(f for f in card.fields if f.name in ("ETA", "Metrics"))
        if s.error:
            fields.append(Field(name="Error", value=s.error, inline=False))
        if s.suffix:
            fields.append(Field(name="Suffix", value=s.suffix))
        fields.extend(_provider_cost(s, provider.label))
        return Reply(
            title=f"Job {s.id}",
            fields=tuple(fields),
            lines=tuple(
                line
                for line in (
                    stale_note,
                    f"Note: {provider.label}: no real model is trained."
                    if provider.is_simulation
                    else "",
                )
                if line
            ),
            tone=card.tone,
            buttons=card.buttons,
        )

    async def _events(self, team: str, job_id: str, limit: int) -> Reply:
        job = await self._job(team, job_id)
        provider = await self._providers.for_team(team, job.provider or None)
        events = await provider.list_events_after(job_id, None)
        latest = list(events)[-limit:]
        if not latest:
            return Reply(title=f"No events yet for {job_id}.")
        aliases = {
            f.provider_file_id: f.alias
            for file_id in (job.state.training_file, job.state.validation_file)
            if file_id and (f := await self._store.get_file(team, file_id)) is not None
        }
        return Reply(
            title=f"Latest {count(len(latest), 'event')} of {job_id}",
            lines=tuple(
                rich(TimeRef(at=e.created_at), f"  [{e.level}] {by_alias(e.message, aliases)}")
                for e in reversed(latest)
            ),
        )

    async def _checkpoints(self, team: str, job_id: str) -> Reply:
        job = await self._job(team, job_id)
        provider = await self._providers.for_team(team, job.provider or None)
        checkpoints = await provider.list_checkpoints(job_id)
        if not checkpoints:
            return Reply(title=f"No checkpoints yet for {job_id}.")
        return Reply(
            title=f"{count(len(checkpoints), 'checkpoint')} of {job_id}",
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
        provider = await self._providers.for_team(team, job.provider or None)
        if not provider.profile.can(Capability(action)):
            # The profile answers; the provider is never asked to do what it cannot.
            raise ConflictError(f"{provider.label} cannot {action} a job{_controls(provider)}.")
        try:
            match action:
                case "cancel":
                    state = await provider.cancel_job(job_id)
                case "pause":
                    state = await provider.pause_job(job_id)
                case _:
                    state = await provider.resume_job(job_id)
        except ProviderError as error:
            if error.kind not in (ProviderErrorKind.BAD_REQUEST, ProviderErrorKind.NOT_FOUND):
                raise
            # The provider refused ("job already failed"): what it says the job is now is
            # recorded, so `list` and the card never contradict the buttons.
            now = await self._refused(team, job, provider)
            if now is None or now.status == job.state.status:
                raise
            raise ConflictError(
                f"{error.message} {job_id} is {now.shown_status} at {provider.label}, so there "
                f"is nothing to {action}; its card and `list` show that now."
            ) from error
        await self._store.update_job_state(team, state, poll_now=True)
        verb = {"cancel": "Cancelling", "pause": "Paused", "resume": "Resumed"}[action]
        return Reply(
            title=f"{verb} {job_id} (status: {state.shown_status})",
            tone=Tone.WARNING if action == "cancel" else Tone.SUCCESS,
        )

    async def _refused(self, team: str, job: Job, provider: Provider) -> JobState | None:
        """After a refused control, the job's status as the provider has it now (gone if
        it no longer knows the job), written to the store; None if it cannot be read."""
        try:
            state = await provider.get_job(job.id)
        except ProviderError as lookup:
            if lookup.kind is not ProviderErrorKind.NOT_FOUND:
                return None
            state = gone(job.state, self._clock.now())
        if state.terminal:
            # The watcher records an ending (its notice, the bill, the model) on its next
            # sweep; made due now, it is the next job that sweep polls.
            await self._watch.mark_job_due(job.id, now=self._clock.now())
            self.wake()
        elif state != job.state:
            await self._store.update_job_state(team, state, poll_now=True)
        return state

    async def _models(self, team: str) -> Reply:
        models = await self._store.list_models(team)
        if not models:
            return Reply(
                title="No fine-tuned models yet.",
                lines=("They appear here when a job of this team succeeds.",),
            )
        return Reply(
            title=f"{count(len(models), 'fine-tuned model')}",
            table=Table(
                headers=("model", "base", "job", "created", "provider"),
                rows=tuple(
                    (
                        m.name,
                        m.base_model,
                        m.job_id,
                        moment(m.created_at),
                        shown_provider(m.provider, m.account),
                    )
                    for m in models
                ),
            ),
        )

    async def _chart(self, team: str, job_id: str) -> Reply:
        job = await self._job(team, job_id)
        points: Sequence[MetricPoint] = await self._watch.list_metric_points(team, job_id)
        if not points:
            provider = await self._providers.for_team(team, job.provider or None)
            events = await provider.list_events_after(job_id, None)
            points = [p for e in events if (p := MetricPoint.from_event(e)) is not None]
            metric_files = provider.profile.can(Capability.METRICS)
            if not points and metric_files and isinstance(provider, MetricFiles):
                points = list(await provider.metric_points(job_id))
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

    async def _remember_model(self, job: Job, state: JobState) -> None:
        made = model_made_by(
            job.team_id, state, now=self._clock.now(), provider=job.provider, account=job.account
        )
        if made is not None:
            await self._store.add_model(made)


def _same_family(file: TeamFile | None, family: str, available: Sequence[str]) -> None:
    """A file id means nothing at another of the team's families: say where the file is and
    what to do. A file recorded at a family the team cannot use now (a sandbox deployment's
    rows from before migration 0006 say openai) goes as it is; the provider answers for it."""
    if file is None or file.provider == family or file.provider not in available:
        return
    raise UsageError(
        f"The file '{file.alias}' is at {file.provider}, not {family}: upload it again with "
        f"/finetune upload alias=NAME provider={family}, or start with provider={file.provider}."
    )


def _lr_label(profile: ProviderProfile) -> str:
    """The learning rate's name as the family means it (an absolute rate or a multiplier)."""
    option = profile.hyperparameter("lr")
    absolute = option is not None and option.scale == "absolute"
    return "Learning rate" if absolute else "LR multiplier"


def _controls(provider: Provider) -> str:
    """What the family can do to a running job instead, said after a refused control."""
    can = [c.value for c in CONTROLS if provider.profile.can(c)]
    if not can:
        return "; it has no controls for a running job"
    shown = " and ".join(can)
    resume_only = provider.profile.can(Capability.RESUME) and not provider.profile.can(
        Capability.PAUSE
    )
    return f"; it can {shown}" + (
        f" (resume: a job {provider.label} paused)" if resume_only else ""
    )


CONTROLS = (Capability.CANCEL, Capability.PAUSE, Capability.RESUME)


def _provider_cost(state: JobState, label: str) -> tuple[Field, ...]:
    """The provider's own estimate on the job it made, beside the one the start was held to
    (a family that prices only the job it made says so after creation)."""
    if state.provider_cost is None:
        return ()
    return (
        Field(
            name=f"{label}'s estimate",
            value=f"{money(state.provider_cost)} ({label}'s own, on the job)",
            inline=False,
        ),
    )


def _auto(value: float | None) -> str:
    return "auto" if value is None else f"{value:g}"


def _metric(value: object) -> str:
    return decimal(value) if isinstance(value, int | float) else MISSING


def _given(line: str | None) -> tuple[str, ...]:
    return (line,) if line is not None else ()


def _nothing() -> None:
    """No watcher to wake (tests drive sweeps and dispatches themselves)."""
