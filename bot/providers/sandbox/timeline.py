"""Provider adapter: a sandbox job's history as a pure function of its record: the plan of its
events, status changes and checkpoints, and the events and metrics a caller is shown."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

from bot.providers.sandbox.records import JobRecord, to_datetime
from handlers.model import TERMINAL_STATUSES, Checkpoint, JobEvent, MetricValue

if TYPE_CHECKING:
    from bot.providers.sandbox.shape import SandboxShape

EVENT_PREFIX: Final = "[sandbox] "
"""Starts every event message, so no reader takes a simulated job for real training."""

KEPT_CHECKPOINTS: Final = 3  # the real API keeps only the last three epochs' checkpoints
_MASK64: Final = (1 << 64) - 1


class Entry(NamedTuple):
    """One event of a plan, kept compact: messages and metrics are built only when returned."""

    at: int
    kind: str  # "message" | "metrics" | "checkpoint"
    text: str = ""
    step: int = 0
    level: str = "info"
    status: str = ""  # the status the job enters with this event, if any


@dataclass(slots=True, kw_only=True)
class Plan:
    """A job's whole event list, stored compactly: a sweep keeps 10,000 of these cached.

    `refs[i] > 0` says event i is the metrics event of that step; otherwise it is the
    message `others[-refs[i]]`. Only the events a call returns become JobEvent objects.
    """

    times: array[int]
    refs: array[int]
    others: list[Entry]
    transitions: list[tuple[int, str]]
    transition_times: list[int]
    checkpoints: list[tuple[int, int]]
    success_us: int | None


CANCELLING: Final = "cancelling"
"""The phase of a job whose cancel has not landed yet (a shape with `cancel_steps`)."""


def build_plan(record: JobRecord, shape: SandboxShape) -> Plan:
    """Every event of the job as its timeline stands, in order; the caller cuts at `now`.

    Each mutation happens at `now` and only adds events at or after it, so what a caller has
    already seen stays a prefix of every later plan: event ids (their position) never shift.
    """
    cancel_at = next((at for kind, at in record.actions if kind == "cancel"), None)
    times: array[int] = array("q")
    refs: array[int] = array("l")
    others: list[Entry] = []
    transitions: list[tuple[int, str]] = []
    checkpoints: list[tuple[int, int]] = []
    for entry in _natural_entries(record, shape):
        if cancel_at is not None and entry.at > cancel_at:
            break
        _add_entry(entry, times, refs, others)
        if entry.status:
            transitions.append((entry.at, entry.status))
        if entry.kind == "checkpoint":
            checkpoints.append((entry.at, entry.step))
    if cancel_at is not None and transitions[-1][1] not in TERMINAL_STATUSES:
        landed = cancel_at + shape.cancel_steps * record.step_us
        if landed > cancel_at:
            asked = Entry(cancel_at, "message", "Cancel requested", status=CANCELLING)
            _add_entry(asked, times, refs, others)
            transitions.append((cancel_at, CANCELLING))
        cancelled = Entry(landed, "message", "Fine-tuning job cancelled", status="cancelled")
        _add_entry(cancelled, times, refs, others)
        transitions.append((landed, "cancelled"))
    final_at, final_status = transitions[-1]
    return Plan(
        times=times,
        refs=refs,
        others=others,
        transitions=transitions,
        transition_times=[at for at, _ in transitions],
        checkpoints=checkpoints,
        success_us=final_at if final_status == "succeeded" else None,
    )


def _add_entry(entry: Entry, times: array[int], refs: array[int], others: list[Entry]) -> None:
    times.append(entry.at)
    if entry.kind == "metrics":
        refs.append(entry.step)
    else:
        refs.append(-len(others))
        others.append(entry)


def _natural_entries(record: JobRecord, shape: SandboxShape) -> Iterator[Entry]:
    """The job's events had it never been cancelled; pauses stop the step clock."""
    t0 = record.created_us
    yield Entry(t0, "message", f"Created fine-tuning job: {record.id}", status="validating_files")
    yield Entry(t0, "message", f"Validating training file: {record.training_file}")
    if record.validation_file is not None:
        yield Entry(t0, "message", f"Validating validation file: {record.validation_file}")
    validated = t0 + record.validating_us
    if record.problem is not None:
        yield Entry(validated, "message", record.problem, level="error", status="failed")
        return
    yield Entry(
        validated, "message", "Files validated, moving job to queued state", status="queued"
    )
    started = validated + record.queued_us
    yield Entry(started, "message", "Fine-tuning job started", status="running")

    total = record.total_steps
    checkpoint_steps = {
        round(total * epoch / record.n_epochs) for epoch in range(1, record.n_epochs + 1)
    }
    pauses = _pauses(record.actions)
    next_pause = 0
    segment_start = started  # wall time the current running stretch began
    banked = 0  # running time done before segment_start
    at = started
    for step in range(1, total + 1):
        needed = step * record.step_us
        at = segment_start + needed - banked
        # A pause at exactly a step's end comes after that step (the caller saw it running).
        while next_pause < len(pauses) and pauses[next_pause][0] < at:
            paused_at, resumed_at = pauses[next_pause]
            next_pause += 1
            done = f"{step - 1}/{total}"
            yield Entry(
                paused_at, "message", f"Fine-tuning job paused at step {done}", status="paused"
            )
            if resumed_at is None:
                return
            banked += paused_at - segment_start
            segment_start = resumed_at
            yield Entry(
                resumed_at, "message", f"Fine-tuning job resumed at step {done}", status="running"
            )
            at = segment_start + needed - banked
        yield Entry(at, "metrics", step=step)
        if step in checkpoint_steps:
            yield Entry(at, "checkpoint", f"Checkpoint created at step {step}", step=step)
    for phase in shape.finishing:
        yield Entry(at, "message", f"Fine-tuning job {phase}", status=phase)
        at += record.step_us
    yield Entry(at, "message", f"New fine-tuned model created: {shape.model_name(record)}")
    yield Entry(at, "message", "The job has successfully completed", status="succeeded")


def _pauses(actions: Sequence[tuple[str, int]]) -> list[tuple[int, int | None]]:
    """Pair each pause with the resume that ended it (None while still paused)."""
    pairs: list[tuple[int, int | None]] = []
    for kind, at in actions:
        if kind == "pause":
            pairs.append((at, None))
        elif kind == "resume" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], max(at, pairs[-1][0]))
    return pairs


def event_at(record: JobRecord, plan: Plan, index: int, shape: SandboxShape) -> JobEvent:
    """The plan's event at `index`; its id is its 1-based position, stable by construction."""
    event_id = f"ftevent-{record.short}-{index + 1:06d}"
    created = to_datetime(plan.times[index])
    ref = plan.refs[index]
    if ref > 0:
        numbers = _metrics(record, ref)
        data, point = shape.metrics(numbers)
        return JobEvent(
            id=event_id,
            job_id=record.id,
            created_at=created,
            message=(
                f"{EVENT_PREFIX}Step {ref}/{record.total_steps}: "
                f"training loss={numbers['train_loss']:.4f}"
            ),
            type="metrics",
            data=data,
            metrics=point,
        )
    entry = plan.others[-ref]
    extra: dict[str, MetricValue] = {}
    if entry.kind == "checkpoint":
        extra = {
            "step": entry.step,
            "fine_tuned_model_checkpoint": shape.checkpoint_name(record, entry.step),
        }
    return JobEvent(
        id=event_id,
        job_id=record.id,
        created_at=created,
        level=entry.level,
        message=EVENT_PREFIX + entry.text,
        data=extra,
    )


def _metrics(record: JobRecord, step: int, *, all_valid: bool = False) -> dict[str, MetricValue]:
    """Step metrics: loss falls and accuracy rises along a seeded curve with seeded noise.

    Noise comes from hashing (seed, step), not from a running RNG, so any step is computed
    alone in O(1) and never depends on which steps were computed before.
    """
    seed, total = record.seed, record.total_steps
    progress = step / total
    decay = math.exp(-4.0 * progress)
    start_loss = 2.1 + 0.3 * _noise(seed, 0, 1)
    floor_loss = 0.35 + 0.1 * _noise(seed, 0, 2)
    start_acc = 0.5 + 0.05 * _noise(seed, 0, 3)
    top_acc = 0.9 + 0.04 * _noise(seed, 0, 4)
    loss = floor_loss + (start_loss - floor_loss) * decay
    accuracy = top_acc - (top_acc - start_acc) * decay
    jitter = 1.0 - 0.5 * progress  # late steps are steadier, as real curves are
    data: dict[str, MetricValue] = {
        "step": step,
        "total_steps": total,
        "train_loss": round(max(0.01, loss + 0.08 * jitter * _noise(seed, step, 5)), 4),
        "train_mean_token_accuracy": round(
            min(0.999, max(0.0, accuracy + 0.02 * jitter * _noise(seed, step, 6))), 4
        ),
    }
    last = step == total
    if all_valid or last or step % record.eval_every == 0:
        data["valid_loss"] = round(max(0.01, loss + 0.1 + 0.05 * _noise(seed, step, 7)), 4)
        data["valid_mean_token_accuracy"] = round(
            min(0.999, max(0.0, accuracy - 0.03 + 0.02 * _noise(seed, step, 8))), 4
        )
    if all_valid or last:
        data["full_valid_loss"] = round(max(0.01, loss + 0.1 + 0.02 * _noise(seed, step, 9)), 4)
        data["full_valid_mean_token_accuracy"] = round(
            min(0.999, max(0.0, accuracy - 0.03 + 0.01 * _noise(seed, step, 10))), 4
        )
    return data


def _noise(seed: int, step: int, channel: int) -> float:
    """A deterministic number in [-1, 1) for one (seed, step, channel).

    A splitmix64 finaliser over the three integers: stable across processes and Python builds
    (unlike hash()) and a few times cheaper than a cryptographic digest, which matters when a
    watcher sweep materialises hundreds of thousands of metrics events.
    """
    x = (
        seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + channel * 0x94D049BB133111EB
    ) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return x / 2**63 - 1.0


def checkpoint_at(record: JobRecord, at: int, step: int, shape: SandboxShape) -> Checkpoint:
    metrics = _metrics(record, step, all_valid=True)
    metrics.pop("total_steps")
    return Checkpoint(
        id=f"ftckpt-{record.short}-{step:06d}",
        job_id=record.id,
        created_at=to_datetime(at),
        step=step,
        model_name=shape.checkpoint_name(record, step),
        metrics=metrics,
    )


def cursor_seq(cursor: str | None, short: str, visible: int) -> int:
    """How many events the cursor says were seen; 0 (all) for None or a foreign cursor."""
    prefix = f"ftevent-{short}-"
    if cursor is None or not cursor.startswith(prefix):
        return 0
    tail = cursor[len(prefix) :]
    if not tail.isdigit():
        return 0
    seq = int(tail)
    return seq if 1 <= seq <= visible else 0


def not_now(done: str, status: str, needed: str) -> str:
    if status in TERMINAL_STATUSES:
        return f"job already {status}"
    if status == needed == "paused":
        return f"job is {status}; only a paused job can be {done}"
    return f"job is {status}; only a {needed} job can be {done}"
