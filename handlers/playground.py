"""Core layer: evaluate and try: `try`, `compare` (with progress card and cancel) and
`dataset from-logs`, scoped by team like every other command.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from handlers.cards import progress_bar
from handlers.chat import ChatMessage, StoredCompletion
from handlers.compare import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_EXAMPLES,
    Answer,
    CompareRun,
    ModelSummary,
    disagreements,
    parse_test_set,
    results_csv,
    run_comparison,
    summarize,
)
from handlers.datasets import DatasetReport, summary_lines
from handlers.errors import ConflictError, DataError, NotFoundError, UsageError
from handlers.features.routing import Routes
from handlers.model import Actor, Job, TeamFile
from handlers.ports import Clock, OutboxMessage, Provider, ProviderDirectory, Store, WatchStore
from handlers.pricing import PriceTable
from handlers.profile import Capability, JobStatus
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    Content,
    Field,
    Reply,
    Table,
    Tone,
    UserRef,
    rich,
)
from handlers.requests import SPECS, CompareRequest, DatasetRequest, TryRequest, UploadRequest
from handlers.scope import TEAM_KEY, TeamScopedProvider
from handlers.sources import PrivateFile, remove_private, write_private
from handlers.text import clip_line, count, money, seconds

log = logging.getLogger(__name__)

RUN_PREFIX = "cmp-"
DRAFT_PREFIX = "ds-"
DRAFT_TTL = timedelta(minutes=30)
MAX_DRAFTS = 50
DEFAULT_SINCE = "7d"
SAMPLE_SHOWN = 2
PROGRESS_STEPS = 10
"""The progress card is edited at most this many times (each 10 %) plus start and end."""
_DURATION = re.compile(r"^(\d{1,5})\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaygroundSettings:
    concurrency: int = DEFAULT_CONCURRENCY
    """Chat calls in flight at once per comparison."""
    max_examples: int = DEFAULT_MAX_EXAMPLES
    """The test-set cap: `n` above it is refused."""
    scratch_dir: Path | None = None
    """Where drafts are written while checked and uploaded: the bot's private temp directory
    (swept at start-up); None is the system's."""
    store_completions: bool = False
    """`try` asks the provider to store its completion, tagged with the team (where the
    family keeps stored completions), so `dataset from-logs` can build from them: the
    console's choice, where the one person trying models is the one building the dataset."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    """A model this team may call: a team model knows its base and the job that made it."""

    name: str
    base: str | None = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    id: str
    team_id: str
    content: bytes
    examples: int
    alias: str
    created_at: datetime


Validate = Callable[[Path], Awaitable[DatasetReport | None]]
Upload = Callable[[UploadRequest, Actor], Awaitable[Reply]]


class Playground:
    """Runs chat calls for one team at a time; remembers live runs and dataset drafts."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        providers: ProviderDirectory,
        clock: Clock,
        prices: PriceTable,
        validate: Validate,
        upload: Upload,
        settings: PlaygroundSettings | None = None,
    ) -> None:
        self._store = store
        self._watch = watch_store
        self._providers = providers
        self._clock = clock
        self._prices = prices
        self._validate = validate
        self._upload = upload
        self.settings = settings or PlaygroundSettings()
        self._runs: dict[tuple[str, str], CompareRun] = {}
        self._drafts: dict[tuple[str, str], Draft] = {}

    def routes(self) -> Routes:
        return {
            TryRequest: self.try_model,
            # The progress is the run's card, edited in place on every platform (the console
            # too): no separate progress lines beside it.
            CompareRequest: self.compare,
            DatasetRequest: self.dataset,
        }

    # ------------------------------------------------------------------ models

    async def resolve(self, team: str, name: str, provider: Provider) -> Resolved:
        """A team model, or a base model; another team's model reads as unknown."""
        own = await self._store.get_model(team, name)
        if own is None:
            # A completion notice's buttons carry the job id: the model it made.
            job = await self._store.get_job(team, name)
            if job is not None and job.state.fine_tuned_model:
                own = await self._store.get_model(team, job.state.fine_tuned_model)
            elif job is not None:
                raise ConflictError(_no_model_yet(job))
        if own is not None:
            return Resolved(name=own.name, base=own.base_model, job_id=own.job_id)
        if not provider.profile.is_tuned_model(name):
            if provider.profile.is_fine_tunable(name) or self._prices.lookup(name) is not None:
                return Resolved(name=name)
            listed = await provider.list_models()
            if any(m.id == name for m in listed):
                return Resolved(name=name)
        raise NotFoundError(
            f"No model '{clip_line(name, 80)}' in this team. See /finetune models for the team's "
            "fine-tuned models; base models are named like gpt-4.1-mini-2025-04-14."
        )

    async def _job_files(self, team: str, model: Resolved) -> tuple[TeamFile | None, str]:
        """The test set a team model's job brings: its validation file (else none) and why."""
        if model.job_id is None:
            return None, ""
        job = await self._store.get_job(team, model.job_id)
        if job is None or job.state.validation_file is None:
            return None, f"the job of {model.name} had no validation file"
        found = await self._store.get_file(team, job.state.validation_file)
        if found is None:
            return None, f"the validation file of {model.job_id} is not one of the team's files"
        return found, ""

    async def _family_of(self, team: str, model: str) -> str | None:
        """The family serving a model: a team model's (or a job's, by its id) own; else the
        first family the team can use whose names it looks like; None: the team's default."""
        own = await self._store.get_model(team, model)
        if own is not None:
            return own.provider or None
        job = await self._store.get_job(team, model)
        if job is not None:
            return job.provider or None
        for family in await self._providers.available(team):
            profile = (await self._providers.for_team(team, family)).profile
            if profile.is_tuned_model(model) or profile.is_fine_tunable(model):
                return family
        return None

    async def _at_family(self, team: str, name: str) -> tuple[Resolved, Provider]:
        """A model the team may call, and the team's view of the family that serves it."""
        provider = await self._providers.for_team(team, await self._family_of(team, name))
        return await self.resolve(team, name, provider), provider

    async def _origin(self, team: str, model: Resolved) -> tuple[Resolved, Provider] | None:
        """For a model a replay made (`start like=JOB`), the model of the job it replayed."""
        if model.job_id is None:
            return None
        job = await self._store.get_job(team, model.job_id)
        if job is None or job.origin is None:
            return None
        origin = await self._store.get_job(team, job.origin)
        if origin is None or not origin.state.fine_tuned_model:
            return None
        return await self._at_family(team, origin.state.fine_tuned_model)

    # ------------------------------------------------------------------ try

    async def try_model(self, request: TryRequest, actor: Actor) -> Reply:
        team = actor.team_id
        provider = await self._providers.for_team(team, await self._family_of(team, request.model))
        model = await self.resolve(team, request.model, provider)
        reference: str | None = None
        source = ""
        messages: list[ChatMessage] = []
        if request.system:
            messages.append(ChatMessage(role="system", content=request.system))
        if request.prompt:
            messages.append(ChatMessage(role="user", content=request.prompt))
        else:
            file, _ = await self._job_files(team, model)
            if file is None and model.job_id is not None:
                job = await self._store.get_job(team, model.job_id)
                if job is not None:
                    file = await self._store.get_file(team, job.state.training_file)
            if file is None:
                raise UsageError(
                    "What should I ask? Give a prompt after the model.",
                    usage=SPECS["try"].usage_ref,
                )
            cases = parse_test_set(
                await self._content(team, file, provider), limit=self.settings.max_examples
            )
            # No randomness in the core: the clock picks the example, so presses vary.
            case = cases[int(self._clock.now().timestamp()) % len(cases)]
            messages = [*messages, *case.prompt] if request.system else list(case.prompt)
            reference = case.reference
            source = f"line {case.index} of '{file.alias}'"
        keep = self.settings.store_completions and provider.profile.can(
            Capability.STORED_COMPLETIONS
        )
        result = await provider.chat(
            model.name,
            messages,
            max_tokens=1024,
            store=keep,
            metadata={TEAM_KEY: team} if keep else None,
        )
        cost = self._prices.chat_cost(model.name, result.prompt_tokens, result.completion_tokens)
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        lines = [
            f"Prompt ({source}): {clip_line(question, 300)}" if source else f"Prompt: {question}"
        ]
        lines += ["", result.content or "(empty answer)"]
        if reference is not None:
            lines += ["", f"Reference answer: {clip_line(reference, 500)}"]
        if provider.is_simulation:
            lines.append(f"Note: {provider.label}: a simulated answer, not a real model.")
        fields = [
            Field(
                name="Tokens", value=f"{result.prompt_tokens} in · {result.completion_tokens} out"
            ),
            Field(name="Latency", value=f"{result.latency_s:.2f} s"),
            Field(name="Est. cost", value=_money(cost)),
        ]
        if result.finish_reason != "stop":
            fields.append(Field(name="Finish", value=result.finish_reason))
        return Reply(title=f"{model.name} answered", lines=tuple(lines), fields=tuple(fields))

    # ------------------------------------------------------------------ compare

    async def compare(
        self,
        request: CompareRequest,
        actor: Actor,
    ) -> Reply:
        """Both models on the test set; the progress is one card, edited in place, then the
        result."""
        team = actor.team_id
        if request.model_a == "cancel":
            if not request.model_b:
                raise UsageError(
                    "Which run? Give its id.", usage="/finetune compare cancel RUN_ID"
                )
            return self.cancel(team, request.model_b, actor)
        cap = self.settings.max_examples
        if request.n > cap:
            raise UsageError(
                f"n={request.n} is over this bot's test-set cap of {cap} examples; "
                f"ask for n={cap} or fewer.",
                usage=SPECS["compare"].usage_ref,
            )
        # Each model answers at its own family: a replay at Together beside its OpenAI origin.
        model_a, provider_a = await self._at_family(team, request.model_a)
        origin = None if request.model_b else await self._origin(team, model_a)
        if request.model_b:
            model_b, provider_b = await self._at_family(team, request.model_b)
        elif origin is not None:
            model_b, provider_b = origin
        elif model_a.base is not None:
            model_b, provider_b = Resolved(name=model_a.base), provider_a
        else:
            raise UsageError(
                f"{model_a.name} is a base model: name the second model to compare it with.",
                usage=SPECS["compare"].usage_ref,
            )
        if model_a.name == model_b.name:
            raise UsageError("Compare two different models.", usage=SPECS["compare"].usage_ref)
        grading = await self._at_family(team, request.grader) if request.grader else None
        grader = grading[0] if grading is not None else None
        providers = {model_a.name: provider_a, model_b.name: provider_b}
        if grading is not None:
            providers.setdefault(grading[0].name, grading[1])
        test_file = await self._test_file(team, request.file, model_a, model_b)
        if test_file.format not in ("chat", ""):
            raise DataError(
                f"'{test_file.alias}' is a {test_file.format} file; a test set is a chat file "
                "whose examples end with the assistant's reference answer."
            )
        content = await self._content(
            team, test_file, await self._providers.for_team(team, test_file.provider or None)
        )
        cases = parse_test_set(content, limit=request.n)
        run = CompareRun(
            id=f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}",
            model_a=model_a.name,
            model_b=model_b.name,
            cases=cases,
            source=test_file.alias,
            grader=grader.name if grader else None,
        )
        self._runs[(team, run.id)] = run
        card = _Card(self, run, actor)
        try:
            await card.post(run)
            await run_comparison(
                run, providers, concurrency=self.settings.concurrency, progress=card.post
            )
        finally:
            self._runs.pop((team, run.id), None)
        await card.post(run, final=True)
        return self._summary(run, providers)

    async def _content(self, team: str, file: TeamFile, provider: Provider) -> bytes:
        """The file's bytes: the copy kept at upload, else the provider's (when it allows)."""
        copy = await self._store.file_copy(team, file.provider_file_id)
        if copy is not None:
            return copy
        return await provider.file_content(file.provider_file_id)

    async def _test_file(self, team: str, alias: str | None, a: Resolved, b: Resolved) -> TeamFile:
        if alias:
            found = await self._store.get_file(team, alias)
            if found is None:
                raise NotFoundError(f"No file '{alias}' in this team. See /finetune files.")
            return found
        why = ""
        for model in (a, b):
            found, reason = await self._job_files(team, model)
            if found is not None:
                return found
            why = why or reason
        raise UsageError(
            f"Which test set? {why.capitalize() + '; ' if why else ''}give file=ALIAS "
            "(a chat file of this team).",
            usage=SPECS["compare"].usage_ref,
        )

    def cancel(self, team: str, run_id: str, actor: Actor) -> Reply:
        run = self._runs.get((team, run_id))
        if run is None:
            raise NotFoundError(f"No comparison '{clip_line(run_id, 40)}' running in this team.")
        run.cancel(actor.user_id)
        return Reply(
            title=f"Stopping {run_id}",
            lines=(
                "Calls in flight finish; no new ones start. The partial results are posted "
                "with their CSV.",
            ),
            tone=Tone.WARNING,
        )

    def live_runs(self, team: str) -> list[str]:
        """The ids of this team's comparisons still running in this process."""
        return [run_id for owner, run_id in self._runs if owner == team]

    def is_run(self, ident: str) -> bool:
        return ident.startswith(RUN_PREFIX)

    def _summary(self, run: CompareRun, providers: Mapping[str, Provider]) -> Reply:
        a = summarize(run, run.model_a, self._prices)
        b = summarize(run, run.model_b, self._prices)
        done, total = len(run.complete_cases), len(run.cases)
        if run.stopped_by:
            state, tone = "stopped by a provider error", Tone.ERROR
        elif run.cancelled_by:
            state, tone = "cancelled", Tone.WARNING
        else:
            state, tone = "done", Tone.SUCCESS
        rows = [
            (EXACT, _share(a.exact, a.answered), _share(b.exact, b.answered)),
            (NORMALIZED, _share(a.normalized, a.answered), _share(b.normalized, b.answered)),
        ]
        if run.grader:
            rows.append((GRADE, _grade(a), _grade(b)))
        rows += [
            ("mean latency", seconds(a.latency_mean_s), seconds(b.latency_mean_s)),
            ("tokens in / out", _tokens(a), _tokens(b)),
            ("est. cost", _money(a.cost), _money(b.cost)),
            ("errors", str(a.errors), str(b.errors)),
        ]
        a_at, b_at = providers[run.model_a], providers[run.model_b]
        apart = a_at.profile.name != b_at.profile.name
        lines: list[Content] = [
            f"A = {run.model_a}" + (f" ({a_at.profile.label})" if apart else ""),
            f"B = {run.model_b}" + (f" ({b_at.profile.label})" if apart else ""),
            _verdict(a, b, run),
            _scores_named(run.grader),
        ]
        if run.stopped_by:
            lines.append(
                f"Stopped after {done} of {total} examples: {run.stopped_by}. Every answer "
                "received is in the summary and the CSV."
            )
        elif run.cancelled_by:
            lines.append(
                rich(
                    "Cancelled by ",
                    UserRef(user_id=run.cancelled_by),
                    f" after {done} of {total} examples; "
                    "the partial results are below and in the CSV.",
                )
            )
        grader_errors = [
            x.grader_error for x in run.answers.values() if x.grader_error is not None
        ]
        if grader_errors:
            lines.append(
                f"The grader failed on {count(len(grader_errors), 'answer')} (first: "
                f"{grader_errors[0]}); those are scored by normalized match only."
            )
        worst = disagreements(run)
        if worst:
            lines += ["", "Where they disagree most:"]
            for case in worst:
                ans_a = run.answers[(case.index, run.model_a)]
                ans_b = run.answers[(case.index, run.model_b)]
                lines += [
                    f"• line {case.index}: {clip_line(case.question, 100)}",
                    f"  reference: {clip_line(case.reference, 100)}",
                    f"  A ({_case_score(ans_a)}): {clip_line(ans_a.error or ans_a.content, 100)}",
                    f"  B ({_case_score(ans_b)}): {clip_line(ans_b.error or ans_b.content, 100)}",
                ]
        for shown in dict.fromkeys(p.label for p in (a_at, b_at) if p.is_simulation):
            lines.append(f"Note: {shown}: simulated answers, not real models.")
        return Reply(
            title=f"Comparison {run.id} {state}: {done}/{total} examples of '{run.source}'",
            table=Table(headers=("", "A", "B"), rows=tuple(rows)),
            lines=tuple(lines),
            tone=tone,
            attachments=(
                Attachment(
                    filename=f"{run.id}.csv",
                    content=results_csv(run),
                    mime_type="text/csv",
                    title=f"{run.id}: every example's answers and scores",
                ),
            ),
        )

    # ------------------------------------------------------------------ dataset from logs

    async def dataset(self, request: DatasetRequest, actor: Actor) -> Reply:
        team = actor.team_id
        now = self._clock.now()
        self._expire_drafts(now)
        if request.action.startswith(DRAFT_PREFIX):
            draft = self._drafts.pop((team, request.action), None)
            if draft is None:
                raise NotFoundError(
                    f"No draft '{clip_line(request.action, 40)}' in this team (drafts last "
                    f"{int(DRAFT_TTL.total_seconds() // 60)} minutes); run dataset from-logs "
                    "again."
                )
            return await self._upload_draft(draft, actor)
        assert request.model is not None  # the request builder insists on it
        since = now - parse_since(request.since or DEFAULT_SINCE)
        meta = parse_meta(request.meta)
        provider = await self._providers.for_team(team)
        found = await provider.list_stored_completions(
            model=request.model, metadata=meta or None, since=since, limit=request.limit
        )
        lines, skipped = training_lines(found)
        if not lines:
            filters = f"model {request.model}" + "".join(f", {k}={v}" for k, v in meta.items())
            shared = isinstance(provider, TeamScopedProvider) and provider.shared
            raise DataError(
                f"No stored completions to build from ({filters}, since "
                f"{since:%Y-%m-%d %H:%M} UTC)"
                + (f"; {skipped} had no user message or answer" if skipped else "")
                + ". Completions are kept only when the app calls with store=true"
                + (
                    f" and, on this bot's shared account, with metadata {TEAM_KEY}={team}."
                    if shared
                    else "."
                )
            )
        content = ("\n".join(lines) + "\n").encode("utf-8")
        report = await self._validate_bytes(content)
        alias = request.alias or f"from-logs-{now:%Y%m%d-%H%M}"
        draft = Draft(
            id=f"{DRAFT_PREFIX}{uuid.uuid4().hex[:8]}",
            team_id=team,
            content=content,
            examples=len(lines),
            alias=alias,
            created_at=now,
        )
        if request.confirm:
            return await self._upload_draft(draft, actor)
        self._drafts[(team, draft.id)] = draft
        sample = [
            f"  {clip_line(_turns(line), 200)}" for line in lines[:SAMPLE_SHOWN]
        ]  # what a user checks before paying for training on it
        body = [
            f"{count(len(found), 'stored completion')} found; {count(len(lines), 'example')} built"
            + (
                f", {skipped} skipped (no user message or answer, or duplicates)"
                if skipped
                else ""
            )
            + ".",
            "Sample:",
            *sample,
            "",
            *(summary_lines(report) if report else ()),
            *(report.problems if report else ()),
            "",
            f"Upload it as '{alias}' with the button, or: /finetune dataset {draft.id}",
        ]
        ok = report is None or report.ok
        return Reply(
            title=f"Draft {draft.id}: {count(len(lines), 'training example')} from the logs of "
            f"{request.model}",
            lines=tuple(body),
            tone=Tone.INFO if ok else Tone.WARNING,
            buttons=(
                Button(
                    label="Confirm upload",
                    action="dataset",
                    value=draft.id,
                    style=ButtonStyle.PRIMARY,
                ),
            ),
        )

    async def _validate_bytes(self, content: bytes) -> DatasetReport | None:
        path = await asyncio.to_thread(
            write_private, content, self.settings.scratch_dir, kind="logs"
        )
        try:
            return await self._validate(path)
        finally:
            await asyncio.to_thread(remove_private, path)

    async def _upload_draft(self, draft: Draft, actor: Actor) -> Reply:
        path = await asyncio.to_thread(
            write_private, draft.content, self.settings.scratch_dir, kind="logs"
        )
        try:
            return await self._upload(
                UploadRequest(
                    file=PrivateFile(path=path, name=f"{draft.alias}.jsonl"), alias=draft.alias
                ),
                actor,
            )
        finally:
            await asyncio.to_thread(remove_private, path)

    def _expire_drafts(self, now: datetime) -> None:
        for key, draft in list(self._drafts.items()):
            if now - draft.created_at > DRAFT_TTL:
                del self._drafts[key]
        while len(self._drafts) > MAX_DRAFTS:
            del self._drafts[next(iter(self._drafts))]


class _Card:
    """The comparison's progress message: one card edited in place through the outbox."""

    def __init__(
        self,
        playground: Playground,
        run: CompareRun,
        actor: Actor,
    ) -> None:
        self._pg = playground
        self._actor = actor
        self._posted_step = -1
        self._run = run

    async def post(self, run: CompareRun, *, final: bool = False) -> None:
        step = run.done_calls * PROGRESS_STEPS // max(run.total_calls, 1)
        if not final and step == self._posted_step:
            return
        self._posted_step = step
        done_cases = len(run.complete_cases)
        if final:
            status = (
                "stopped" if run.stopped_by else "cancelled" if run.cancelled_by else "finished"
            )
            title = f"Comparison {run.id} {status}: {done_cases}/{len(run.cases)} examples"
            buttons: tuple[Button, ...] = ()
        else:
            title = f"Comparing {run.id}: {run.model_a} vs {run.model_b}"
            buttons = (
                Button(
                    label="Cancel",
                    action="cancel",
                    value=run.id,
                    style=ButtonStyle.DANGER,
                    confirm=f"Stop {run.id}? The partial results are kept.",
                ),
            )
        reply = Reply(
            title=title,
            fields=(
                Field(
                    name="Progress",
                    value=progress_bar(run.done_calls, run.total_calls).replace("step", "calls"),
                    inline=False,
                ),
                Field(name="Test set", value=f"'{run.source}' ({len(run.cases)} examples)"),
            ),
            buttons=buttons,
            tone=Tone.INFO,
        )
        key = f"compare:{run.id}"
        message = OutboxMessage(
            dedupe_key=f"{key}:{'end' if final else step}",
            team_id=self._actor.team_id,
            target=self._actor.channel,
            kind="compare",
            reply=reply,
            card_key=key,
        )
        try:
            await self._pg._watch.enqueue([message], now=self._pg._clock.now())
        except Exception:
            # Progress is a courtesy: a failed card write must not lose the run's answers.
            log.exception("compare progress card failed", extra={"run": run.id})


# ---------------------------------------------------------------------- from-logs helpers


def parse_since(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` -> a duration; anything else is a UsageError."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        raise UsageError(
            f"since={clip_line(text, 20)} is not a duration like 30m, 12h, 7d or 2w.",
            usage=SPECS["dataset"].usage_ref,
        )
    amount, unit = int(found.group(1)), found.group(2)
    return timedelta(**{_UNITS[unit]: amount})


def parse_meta(text: str | None) -> dict[str, str]:
    """`app=support,env=prod` -> {"app": "support", "env": "prod"}."""
    if not text:
        return {}
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(
                f"meta={clip_line(text, 40)}: write key=value pairs separated by commas.",
                usage=SPECS["dataset"].usage_ref,
            )
        pairs[key.strip()] = value.strip()
    return pairs


def training_lines(completions: Sequence[StoredCompletion]) -> tuple[list[str], int]:
    """One chat training example per stored completion (request messages + its answer),
    oldest first, duplicates dropped; also how many were skipped."""
    seen: set[str] = set()
    lines: list[str] = []
    skipped = 0
    for item in reversed(completions):
        messages = [
            m for m in item.messages if m.role in ("system", "developer", "user", "assistant")
        ]
        if not item.answer.strip() or not any(m.role == "user" for m in messages):
            skipped += 1
            continue
        turns = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.content}
            for m in messages
        ]
        turns.append({"role": "assistant", "content": item.answer})
        line = json.dumps({"messages": turns}, ensure_ascii=False)
        if line in seen:
            skipped += 1
            continue
        seen.add(line)
        lines.append(line)
    return lines, skipped


def _turns(line: str) -> str:
    messages: Sequence[Mapping[str, str]] = json.loads(line)["messages"]
    return " → ".join(f"{m['role']}: {m['content']}" for m in messages if m["role"] != "system")


# ---------------------------------------------------------------------- formatting


def _share(count: int, of: int) -> str:
    return "—" if of == 0 else f"{count}/{of} ({count / of:.0%})"


def _grade(summary: ModelSummary) -> str:
    if summary.grade_mean is None:
        return "—"
    return f"{summary.grade_mean * 10:.1f}/10 ({summary.graded} graded)"


def _tokens(summary: ModelSummary) -> str:
    return f"{summary.prompt_tokens:,} / {summary.completion_tokens:,}"


def _money(value: float | None) -> str:
    # A test run costs fractions of a cent: four decimals below a dollar tell two apart.
    return money(value, missing="no price known", digits_below_a_dollar=4)


EXACT = "exact match"
NORMALIZED = "normalized match"
GRADE = "grade out of 10"


def _scores_named(grader: str | None) -> str:
    """What each score of the table is, in one line under it."""
    named = (
        f"{EXACT}: the answer is the reference, character for character; {NORMALIZED}: the "
        "same once case, punctuation and spacing are ignored"
    )
    if grader:
        named += f"; {GRADE}: {grader}'s mean rating of each answer against the reference"
    return f"Scores: {named}."


def _case_score(answer: Answer) -> str:
    """One example's score in the table's units."""
    if answer.error is not None:
        return "error"
    if answer.grade is not None:
        return f"grade {answer.grade * 10:.0f}/10"
    if answer.exact:
        return EXACT
    return NORMALIZED if answer.normalized else "no match"


def _verdict(a: ModelSummary, b: ModelSummary, run: CompareRun) -> str:
    """Who scores higher, in the same units as the table's row it reads."""
    graded = bool(run.grader) and a.grade_mean is not None and b.grade_mean is not None

    def score(s: ModelSummary) -> float:
        if graded and s.grade_mean is not None:
            return s.grade_mean
        return s.normalized / s.answered if s.answered else 0.0

    def shown(s: ModelSummary) -> str:
        return _grade(s) if graded else _share(s.normalized, s.answered)

    what = GRADE.removesuffix(" out of 10") if graded else NORMALIZED
    sa, sb = score(a), score(b)
    if abs(sa - sb) < 1e-9:
        return f"A and B tie on {what} ({shown(a)} each)."
    better, worse = (a, b) if sa > sb else (b, a)
    first, second = ("A", "B") if sa > sb else ("B", "A")
    return f"{first} scores higher on {what}: {shown(better)} against {shown(worse)} for {second}."


def _no_model_yet(job: Job) -> str:
    """Why a job id names no model to try or compare, with what to do."""
    state = job.state
    match state.status:
        case JobStatus.FAILED:
            why = f": {clip_line(state.error, 200)}" if state.error else ""
            return (
                f"{job.id} failed, so it made no model to try{why}. Check the training file "
                f"with /finetune validate and start again (/finetune start like={job.id})."
            )
        case JobStatus.CANCELLED:
            return f"{job.id} was cancelled, so it made no model to try."
        case _:
            return (
                f"{job.id} is {state.shown_status}: its model can be tried once it succeeds "
                "(the completion notice has a Try button)."
            )


__all__ = [
    "DRAFT_PREFIX",
    "RUN_PREFIX",
    "Playground",
    "PlaygroundSettings",
    "parse_meta",
    "parse_since",
    "training_lines",
]
