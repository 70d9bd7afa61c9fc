"""Core layer: what a job looks like in a channel: the card, thread updates, completion notice."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from handlers.actions import offered
from handlers.model import Job, JobEvent, JobState, MetricPoint
from handlers.profile import Capability, JobStatus
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    Field,
    Part,
    Reply,
    Tone,
    UserRef,
    rich,
)
from handlers.text import clip_line, decimal, duration, money, timestamp

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
    job_id: str, status: str, capabilities: Collection[Capability]
) -> tuple[Button, ...]:
    """The card's controls for this status, only those the job's provider can do."""
    return _offered(_status_buttons(job_id, status), capabilities)


def _status_buttons(job_id: str, status: str) -> tuple[Button, ...]:
    if status == JobStatus.GONE:
        return ()  # nothing at the provider to act on
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
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
        Field(name="Model", value=state.fine_tuned_model or state.model),
        Field(
            name="Progress",
            value=progress_bar(latest.step, latest.total_steps) if latest else "not started",
            inline=False,
        ),
        Field(name="Train loss", value=decimal(latest.train_loss if latest else None)),
        Field(name="Valid loss", value=decimal(latest.valid_loss if latest else None)),
        Field(name="Token accuracy", value=_pct(latest.train_accuracy if latest else None)),
        Field(name="Elapsed", value=duration(end - state.created_at)),
    ]
    eta = estimate_finish(state, latest, now)
    if eta:
        fields.append(Field(name="ETA", value=f"{timestamp(eta)} (in {duration(eta - now)})"))
    if state.error:
        fields.append(Field(name="Error", value=state.error, inline=False))
    if metrics_note and latest is None and not state.terminal:
        fields.append(Field(name="Metrics", value=metrics_note, inline=False))
    requester: tuple[Part, ...] = (
        (" · started by ", UserRef(user_id=job.requester_id)) if job.requester_id else ()
    )
    return Reply(
        title=f"Fine-tuning {state.id} · {state.shown_status}",
        fields=tuple(fields),
        tone=STATUS_TONE.get(state.status, Tone.INFO),
        buttons=job_buttons(state.id, state.status, capabilities),
        footer=rich(f"base {state.model}", *requester, *_simulated(simulation)),
    )


def _simulated(simulation: str | None) -> tuple[str, ...]:
    return (f" · {simulation}: simulated, no real model is trained",) if simulation else ()


def metric_update(job_id: str, point: MetricPoint) -> Reply:
    parts = [progress_bar(point.step, point.total_steps)]
    parts.append(f"train loss {decimal(point.train_loss)}")
    if point.valid_loss is not None:
        parts.append(f"valid loss {decimal(point.valid_loss)}")
    if point.train_accuracy is not None:
        parts.append(f"token accuracy {_pct(point.train_accuracy)}")
    return Reply(title=f"{job_id}: " + " · ".join(parts))


def event_update(job_id: str, event: JobEvent) -> Reply:
    tone = {"error": Tone.ERROR, "warn": Tone.WARNING}.get(event.level, Tone.INFO)
    return Reply(title=f"{job_id}: {event.message}", tone=tone)


def completion_notice(
    job: Job,
    points: Sequence[MetricPoint],
    chart_png: bytes | None,
    *,
    capabilities: Collection[Capability],
    origin_model: str | None = None,
    simulation: str | None = None,
    chart_missing: str | None = None,
    deploy_note: str = "",
) -> Reply:
    """A new message (edits notify nobody) naming the result and mentioning the requester;
    `origin_model` is the model of the job whose recipe this one replayed (compare with it);
    `chart_missing` is why a succeeded job has no loss chart, where its family has one;
    `deploy_note` is what the provider needs before the new model answers Try and Compare
    (its profile's, where a fine-tuned model must be deployed first)."""
    state = job.state
    mention = (job.requester_id,) if job.requester_id else ()
    who: tuple[Part, ...] = (UserRef(user_id=job.requester_id), " ") if job.requester_id else ()
    latest = points[-1] if points else None
    fields: list[Field] = []
    if state.status == JobStatus.SUCCEEDED:
        title = rich(*who, f"{state.id} succeeded: {state.fine_tuned_model or 'model ready'}")
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
        title = rich(*who, f"{state.id} failed: {state.error or 'no reason given'}")
    else:
        title = rich(*who, f"{state.id} was {state.shown_status}")
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
    return Reply(
        title=title,
        fields=tuple(fields),
        tone=STATUS_TONE.get(state.status, Tone.INFO),
        mentions=mention,
        attachments=attachments,
        footer=rich(*_simulated(simulation)) if simulation else "",
        buttons=_offered(
            (
                Button(label="Chart", action="chart", value=state.id),
                *_try_buttons(state, origin_model),
            ),
            capabilities,
        ),
    )


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
