"""Core layer: what a job looks like in a channel: the card, thread updates, completion notice."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from handlers.actions import button_value, offered
from handlers.model import Job, JobEvent, JobState, MetricPoint
from handlers.profile import Capability, JobStatus
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    Content,
    Field,
    Part,
    Reply,
    TimeRef,
    TimeStyle,
    Tone,
    UserRef,
    rich,
)
from handlers.text import clip_line, decimal, duration, money

STATUS_TONE: dict[str, Tone] = {
    JobStatus.SUCCEEDED: Tone.SUCCESS,
    JobStatus.FAILED: Tone.ERROR,
    JobStatus.CANCELLED: Tone.WARNING,
    JobStatus.PAUSED: Tone.WARNING,
    JobStatus.GONE: Tone.WARNING,
}
BAR_WIDTH = 20


def progress_bar(step: int, total: int | None, width: int = BAR_WIDTH) -> str:
    """A text bar such as `[########------------] 40%`; unknown totals show the step only."""
    if not total or total <= 0:
        return f"step {step}"
    fraction = min(max(step / total, 0.0), 1.0)
    filled = round(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction:.0%} (step {step}/{total})"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def estimate_finish(state: JobState, latest: MetricPoint | None, now: datetime) -> datetime | None:
    """The provider's estimate when it gives one, else a straight-line extrapolation of steps."""
    if state.terminal:
        return None
    if state.estimated_finish:
        return state.estimated_finish
    if (
        state.status != JobStatus.RUNNING
        or latest is None
        or not latest.total_steps
        or latest.step <= 0
    ):
        return None
    elapsed = now - state.created_at
    remaining = latest.total_steps - latest.step
    return now + elapsed * (remaining / latest.step)


def job_buttons(
    job_id: str, status: str, capabilities: Collection[Capability], *, trained: bool = True
) -> tuple[Button, ...]:
    """The card's controls for this status, only those the job's provider can do; `trained`
    says whether it has metrics to chart (a job that failed before training has none)."""
    return _offered(_status_buttons(job_id, status, trained=trained), capabilities)


def _status_buttons(job_id: str, status: str, *, trained: bool = True) -> tuple[Button, ...]:
    if status == JobStatus.GONE:
        return ()  # nothing at the provider to act on
    if status == JobStatus.CANCELLED:
        return ()  # stopped on purpose: nothing more to do with it from its card
    if status == JobStatus.FAILED and not trained:
        return ()  # it never trained: no chart to draw; its notice offers the next step
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return (Button(label="Chart", action="chart", value=job_id),)
    toggle = (
        Button(label="Resume", action="resume", value=job_id, style=ButtonStyle.PRIMARY)
        if status == JobStatus.PAUSED
        else Button(label="Pause", action="pause", value=job_id)
    )
    return (
        Button(
            label="Cancel",
            action="cancel",
            value=job_id,
            style=ButtonStyle.DANGER,
            confirm=f"Cancel {job_id}? Training stops and cannot be resumed.",
        ),
        toggle,
        Button(label="Refresh", action="inspect", value=job_id),
        Button(label="Chart", action="chart", value=job_id),
    )


def _offered(
    buttons: tuple[Button, ...], capabilities: Collection[Capability]
) -> tuple[Button, ...]:
    # A provider that cannot pause never shows Pause, whatever the job's status says.
    return tuple(b for b in buttons if offered(b.action, capabilities))


def _progress(latest: MetricPoint | None, state: JobState) -> str:
    if latest is None:
        return "not started"
    bar = progress_bar(latest.step, latest.total_steps)
    if latest.epoch is None:
        return bar
    epochs = state.hyperparameters.n_epochs
    return f"{bar} · epoch {latest.epoch}" + (f" of {epochs}" if epochs else "")


def job_card(
    job: Job,
    latest: MetricPoint | None,
    now: datetime,
    *,
    capabilities: Collection[Capability],
    simulation: str | None = None,
    metrics_note: str = "",
) -> Reply:
    """The one message per job that is edited in place as the job moves; `capabilities` are
    its provider's (its profile's), which decide the buttons; `simulation` names a provider
    that only simulates training, so the card says so; `metrics_note` is the profile's word
    on its metrics, said while no point has come."""
    state = job.state
    end = state.finished_at or now
    fields = [
        Field(name="Status", value=state.shown_status),
        Field(name="Job", value=state.id),
        Field(name="Model", value=state.fine_tuned_model or state.model),
        Field(name="Progress", value=_progress(latest, state), inline=False),
        Field(name="Train loss", value=decimal(latest.train_loss if latest else None)),
        Field(name="Valid loss", value=decimal(latest.valid_loss if latest else None)),
        Field(name="Token accuracy", value=_pct(latest.train_accuracy if latest else None)),
        Field(name="Elapsed", value=duration(end - state.created_at)),
    ]
    eta = estimate_finish(state, latest, now)
    if eta:
        fields.append(Field(name="ETA", value=eta_text(eta, now)))
    if state.error:
        fields.append(Field(name="Error", value=state.error, inline=False))
    if metrics_note and latest is None and not state.terminal:
        fields.append(Field(name="Metrics", value=metrics_note, inline=False))
    requester: tuple[Part, ...] = (
        (" · started by ", UserRef(user_id=job.requester_id)) if job.requester_id else ()
    )
    return Reply(
        title=f"{job_name(job)} · {state.shown_status}",
        fields=tuple(fields),
        tone=STATUS_TONE.get(state.status, Tone.INFO),
        buttons=job_buttons(state.id, state.status, capabilities, trained=latest is not None),
        footer=rich(f"base {state.model}", *requester, *_simulated(simulation)),
    )


def _simulated(simulation: str | None) -> tuple[str, ...]:
    return (f" · {simulation}: simulated, no real model is trained",) if simulation else ()


def metric_update(job_id: str, point: MetricPoint) -> Reply:
    """A line in the card's thread: the thread says which job, so the line does not."""
    parts = [progress_bar(point.step, point.total_steps)]
    parts.append(f"train loss {decimal(point.train_loss)}")
    if point.valid_loss is not None:
        parts.append(f"valid loss {decimal(point.valid_loss)}")
    if point.train_accuracy is not None:
        parts.append(f"token accuracy {_pct(point.train_accuracy)}")
    return Reply(title=" · ".join(parts))


def event_update(
    job_id: str, event: JobEvent, *, aliases: Mapping[str, str] | None = None
) -> Reply:
    """The provider's message in the card's thread, its files named by their aliases
    (`aliases`: provider file id -> the team's alias)."""
    tone = {"error": Tone.ERROR, "warn": Tone.WARNING}.get(event.level, Tone.INFO)
    return Reply(title=by_alias(event.message, aliases or {}), tone=tone)


def by_alias(text: str, aliases: Mapping[str, str]) -> str:
    """Provider file ids in a provider's text replaced by what the team calls them."""
    for file_id, alias in sorted(aliases.items(), key=lambda kv: -len(kv[0])):
        if file_id and alias and alias != file_id:
            text = text.replace(file_id, alias)
    return text


def job_name(job: Job) -> str:
    """What people call a job: its suffix, its training file's alias, its base model and
    provider (`support · train-v2 on gpt-4.1-mini-2025-04-14 (openai)`); the id is a field."""
    state = job.state
    recipe = job.recipe or {}
    suffix = state.suffix or _text_of(recipe.get("suffix"))
    data = _text_of(recipe.get("training_file")) or state.training_file
    where = f" ({job.provider})" if job.provider else ""
    named = f"{data} on {state.model}{where}" if data else f"{state.model}{where}"
    return f"{suffix} · {named}" if suffix else named


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def eta_text(eta: datetime, now: datetime) -> Content:
    """When a job should end, in each reader's time, and how long that is from now."""
    return rich(
        TimeRef(at=eta),
        " (",
        TimeRef(at=eta, style=TimeStyle.RELATIVE, fallback=f"in {duration(eta - now)}"),
        ")",
    )


def completion_notice(
    job: Job,
    points: Sequence[MetricPoint],
    chart_png: bytes | None,
    *,
    capabilities: Collection[Capability],
    origin_model: str | None = None,
    simulation: str | None = None,
    chart_missing: str | None = None,
    price_per_million: float | None = None,
    deploy_note: str = "",
) -> Reply:
    """A new message (edits notify nobody) naming the result and mentioning the requester;
    `origin_model` is the model of the job whose recipe this one replayed (compare with it);
    `chart_missing` is why a succeeded job has no loss chart, where its family has one;
    `price_per_million` the price its start was estimated at (the cost at the end uses it);
    `deploy_note` is what the provider needs before the new model answers Try and Compare
    (its profile's, where a fine-tuned model must be deployed first)."""
    state = job.state
    mention = (job.requester_id,) if job.requester_id else ()
    who: tuple[Part, ...] = (UserRef(user_id=job.requester_id), " ") if job.requester_id else ()
    latest = points[-1] if points else None
    name = job_name(job)
    fields: list[Field] = [Field(name="Job", value=state.id)]
    lines: list[Content] = []
    if state.status == JobStatus.SUCCEEDED:
        title = rich(*who, f"{name} succeeded: {state.fine_tuned_model or 'model ready'}")
        fields.append(
            Field(name="Fine-tuned model", value=state.fine_tuned_model or "—", inline=False)
        )
        if state.trained_tokens is not None:
            fields.append(Field(name="Trained tokens", value=f"{state.trained_tokens:,}"))
        if state.provider_cost is not None:
            fields.append(
                Field(name="Provider's estimate", value=f"{money(state.provider_cost)} (its own)")
            )
        if latest:
            fields.append(Field(name="Final train loss", value=decimal(latest.train_loss)))
            if latest.valid_loss is not None:
                fields.append(Field(name="Final valid loss", value=decimal(latest.valid_loss)))
        elif chart_missing:
            fields.append(
                Field(name="Loss chart", value=f"missing: {chart_missing}", inline=False)
            )
        if deploy_note and state.fine_tuned_model:
            fields.append(Field(name="Before Try", value=deploy_note, inline=False))
    elif state.status == JobStatus.FAILED:
        title = rich(*who, f"{name} failed: {state.error or 'no reason given'}")
        lines.extend(failure_next_steps(job))
    else:
        title = rich(*who, f"{name} was {state.shown_status}")
    fields.extend(money_fields(state, price_per_million))
    attachments = (
        (
            Attachment(
                filename=f"{state.id}-loss.png",
                content=chart_png,
                mime_type="image/png",
                title=f"{state.id} loss and accuracy",
            ),
        )
        if chart_png
        else ()
    )
    chart = (
        (Button(label="Chart", action="chart", value=state.id),)
        if state.status == JobStatus.SUCCEEDED or (state.status == JobStatus.FAILED and points)
        else ()
    )
    return Reply(
        title=title,
        fields=tuple(fields),
        lines=tuple(lines),
        tone=STATUS_TONE.get(state.status, Tone.INFO),
        mentions=mention,
        attachments=attachments,
        footer=rich(*_simulated(simulation)) if simulation else "",
        buttons=_offered(
            (*chart, *_try_buttons(state, origin_model), *_again_buttons(job)),
            capabilities,
        ),
    )


def failure_next_steps(job: Job) -> tuple[str, ...]:
    """What to do after a failed job: check the file, then start it again as it was."""
    data = _text_of((job.recipe or {}).get("training_file")) or job.state.training_file
    again = (
        f"start it again with the same settings: Start again, or /finetune start like={job.id}"
        if job.recipe is not None
        else "start it again with /finetune start"
    )
    return (
        f"Next: check {data} with /finetune validate (share the file; model="
        f"{job.state.model}) for what the provider refuses, fix it and upload it again; then "
        f"{again}.",
    )


def _again_buttons(job: Job) -> tuple[Button, ...]:
    """A failed job's "Start again": its recipe replayed at its own family (a new job)."""
    if job.state.status != JobStatus.FAILED or job.recipe is None or not job.provider:
        return ()
    return (
        Button(
            label="Start again",
            action="replay",
            value=button_value(job.id, job.provider),
            style=ButtonStyle.PRIMARY,
        ),
    )


def money_fields(state: JobState, price_per_million: float | None) -> tuple[Field, ...]:
    """What the job took and cost at its end: its duration, trained tokens (when the
    success fields did not already show them) and their cost at the price of its estimate."""
    out: list[Field] = []
    if state.finished_at is not None:
        out.append(Field(name="Duration", value=duration(state.finished_at - state.created_at)))
    tokens = state.trained_tokens
    if tokens is not None and state.status != JobStatus.SUCCEEDED:
        out.append(Field(name="Trained tokens", value=f"{tokens:,}"))
    if state.status == JobStatus.FAILED and not tokens:
        out.append(Field(name="Cost", value="nothing billed: no tokens were trained"))
    elif tokens and price_per_million is not None:
        cost = tokens * price_per_million / 1_000_000
        out.append(
            Field(
                name="Cost",
                value=f"{money(cost)} ({tokens:,} tokens at ${price_per_million:g} per 1M, "
                "the price of the start's estimate)",
                inline=False,
            )
        )
    return tuple(out)


def _try_buttons(state: JobState, origin_model: str | None) -> tuple[Button, ...]:
    """Try asks the new model a prompt of its validation (else training) file and shows the
    reference beside the answer; Compare runs the validation file on it and on its base, or
    on the model of the job a replay came from. "Run this recipe on..." plans a replay.
    The value is the job id: short enough for any platform's button, and scoped by team."""
    if state.status != JobStatus.SUCCEEDED or not state.fine_tuned_model:
        return ()
    against = (
        clip_line(f"Compare with {origin_model}", BUTTON_LABEL_MAX)
        if origin_model
        else "Compare with base"
    )
    return (
        Button(label="Try", action="try", value=state.id, style=ButtonStyle.PRIMARY),
        Button(label=against, action="compare", value=state.id),
        Button(label="Run this recipe on…", action="recipe", value=state.id),
    )


BUTTON_LABEL_MAX = 75
"""The longest label every platform shows whole (Slack's button text limit)."""
