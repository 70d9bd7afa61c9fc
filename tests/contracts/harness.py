"""Contract suite support: what a provider fixture gives the suite, and the suite's few helpers.

How a status is read (`canonical`, `assert_status`, `assert_carries_unknown`) and how metric
points come out of events (`points`) or a metrics file (`filed_points`) live here and nowhere
else; what a provider can do is its
profile's `Capability` set (handlers/profile.py), the same names the core consults.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import JobEvent, JobSpec, JobState, MetricPoint
from handlers.ports import MetricFiles, Provider
from handlers.profile import Capability, JobStatus


class FailNext(Protocol):
    def __call__(
        self,
        kind: ProviderErrorKind,
        *,
        operation: str,
        took_effect: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The next call of port operation `operation` fails as `kind` (a rate limit with
        `retry_after` seconds); with `took_effect` the provider did the work first and only
        the answer was lost."""
        ...


class Finish(Protocol):
    def __call__(self, job_id: str, *, as_: str) -> None:
        """End a live job now as "succeeded" or "failed". A fake that scripts outcomes sets
        it; a simulation whose outcome follows from the data runs its clock out (the suite
        makes a job it wants failed from a broken file, so both agree)."""
        ...


class ReportStatus(Protocol):
    def __call__(self, job_id: str, status: str | None) -> None:
        """Make every read of the job carry the provider string `status` (None: its own)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderUnderTest:
    """One provider as the contract suite drives it: the port, plus the fake's controls."""

    name: str
    provider: Provider
    advance: Callable[[], None]
    """One tick of the provider's own world: every live job moves at most one phase or one
    training step on. Paused and finished jobs do not move."""
    fail_next: FailNext
    finish: Finish
    report_status: ReportStatus
    jobs_at_provider: Callable[[], Awaitable[int]]
    """How many jobs exist at the provider, by its own record (not through `list_jobs`)."""
    base_model: str
    """A model the provider fine-tunes and chats with."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderEntry:
    """One line of the suite's parametrization: a name, what it can do, how to open it."""

    name: str
    capabilities: frozenset[Capability]
    open: Callable[[Path], AbstractAsyncContextManager[ProviderUnderTest]]


# -- statuses: the only place that knows how the port spells them ----------------------------

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def canonical(state: JobState) -> str:
    """The core's status (the provider's own string is `provider_status`, beside it)."""
    return str(state.status)


def assert_status(state: JobState, *expected: str) -> None:
    """The job is in one of the canonical `expected` statuses, and terminal exactly if that
    status is."""
    found = canonical(state)
    assert found in expected, f"{state.id} is {state.status!r}, expected one of {expected}"
    assert state.terminal is (found in TERMINAL), f"{state.id}: terminal={state.terminal}"


def assert_carries_unknown(state: JobState, raw: str) -> None:
    """A status string the provider newly sends is kept as it came, and counts as live."""
    assert state.provider_status == raw, (
        f"{state.id} shows {state.provider_status!r}, the provider sent {raw!r}"
    )
    assert not state.terminal


def expected_path(put: ProviderUnderTest, *statuses: str) -> list[str]:
    """The canonical path a provider goes through: one whose profile has no validating
    status (Together) checks the file while the job is queued."""
    validates = JobStatus.VALIDATING in put.provider.profile.statuses.values()
    seen: list[str] = []
    for status in statuses:
        shown = status if validates or status != "validating" else "queued"
        if not seen or seen[-1] != shown:
            seen.append(shown)
    return seen


def listed_by(put: ProviderUnderTest, metadata: dict[str, str]) -> dict[str, str] | None:
    """The metadata filter to list a test's jobs by: a family whose jobs carry no metadata
    (no JOB_TAGS, e.g. Together) is listed whole, and each test's provider starts empty."""
    return metadata if put.provider.profile.can(Capability.JOB_TAGS) else None


def path(states: Sequence[JobState]) -> list[str]:
    """The canonical statuses a job went through, each once, in the order seen."""
    seen: list[str] = []
    for state in states:
        if not seen or seen[-1] != canonical(state):
            seen.append(canonical(state))
    return seen


# -- metrics -----------------------------------------------------------------------------------


async def filed_points(put: ProviderUnderTest, job_id: str) -> list[MetricPoint]:
    """The job's metric points as its family's metrics file has them (Capability.METRICS:
    asked only of a family that declares it)."""
    provider = put.provider
    assert isinstance(provider, MetricFiles), f"{put.name} declares METRICS, has no port"
    return list(await provider.metric_points(job_id))


def points(events: Sequence[JobEvent]) -> list[MetricPoint]:
    """The metric points among `events`, in their order (the seam: `event.metrics`)."""
    return [p for p in (MetricPoint.from_event(e) for e in events) if p is not None]


# -- driving a job -------------------------------------------------------------------------------

MAX_TICKS = 200
"""A bound on every wait, so a job that never moves fails the test instead of hanging it."""


def chat_examples(count: int) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"question {n}"},
                    {"role": "assistant", "content": f"answer {n}"},
                ]
            }
        )
        for n in range(count)
    ]
    return "".join(line + "\n" for line in lines).encode()


BROKEN_EXAMPLES = chat_examples(1) + b"{not json\n" + chat_examples(1)
"""A training file whose second line is not JSON: every provider fails a job made from it."""


async def start(
    put: ProviderUnderTest,
    tmp_path: Path,
    *,
    key: str = "key-1",
    content: bytes | None = None,
    metadata: dict[str, str] | None = None,
) -> JobState:
    """Upload a training file and create a job from it."""
    source = tmp_path / f"{key}.jsonl"
    source.write_bytes(content if content is not None else chat_examples(3))
    uploaded = await put.provider.upload_file(source, filename="train.jsonl")
    spec = JobSpec(model=put.base_model, training_file=uploaded.id, metadata=dict(metadata or {}))
    return await put.provider.create_job(spec, idempotency_key=key)


async def watch(put: ProviderUnderTest, job_id: str) -> list[JobState]:
    """Read the job after every tick until it is terminal; every state seen, in order."""
    states = [await put.provider.get_job(job_id)]
    for _ in range(MAX_TICKS):
        if states[-1].terminal:
            return states
        put.advance()
        states.append(await put.provider.get_job(job_id))
    raise AssertionError(f"{job_id} still {states[-1].status!r} after {MAX_TICKS} ticks")


async def advance_until(
    put: ProviderUnderTest, job_id: str, ready: Callable[[JobState], Awaitable[bool]]
) -> JobState:
    """Tick until `ready(state)`; the state it was ready in."""
    for _ in range(MAX_TICKS):
        state = await put.provider.get_job(job_id)
        if await ready(state):
            return state
        assert not state.terminal, f"{job_id} ended {state.status!r} before it was ready"
        put.advance()
    raise AssertionError(f"{job_id} not ready after {MAX_TICKS} ticks")


async def events_of(put: ProviderUnderTest, job_id: str) -> list[JobEvent]:
    """Every event so far, oldest first, paging with the cursor (any page size is fine); none
    for a family without EVENTS (Fireworks: no events endpoint), which is never asked."""
    if not put.provider.profile.can(Capability.EVENTS):
        return []
    found: list[JobEvent] = []
    cursor: str | None = None
    for _ in range(MAX_TICKS):
        page = await put.provider.list_events_after(job_id, cursor)
        if not page:
            return found
        found.extend(page)
        cursor = page[-1].id
    raise AssertionError(f"the events of {job_id} never ended")


async def expect_error(kind: ProviderErrorKind, call: Awaitable[object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await call
    assert caught.value.kind is kind, f"expected {kind}, got {caught.value.kind}"
    return caught.value
