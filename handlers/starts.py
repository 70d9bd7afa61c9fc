"""Core layer: start intents: the key a start uses at the provider, and settling it once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from handlers.governance import encode_start, month_of, settle_spend
from handlers.model import (
    ChannelAddress,
    Job,
    JobState,
    SpendEntry,
    StartIntent,
    model_made_by,
)
from handlers.ports import Store
from handlers.requests import StartRequest

INTENT_METADATA_KEY = "ftbot_intent"
"""Metadata key carrying a job's start intent key, so recovery finds the job an intent made."""

REPEAT_WINDOW = timedelta(minutes=5)
"""A user's identical start within this window is answered with the job the first one made."""

INTENT_GRACE = timedelta(minutes=10)
"""An intent with no job at the provider after this long made nothing (no create in flight)."""


def start_fingerprint(request: StartRequest, channel: ChannelAddress) -> str:
    """Digest of every field of a start and where it was asked: the same fingerprint is the
    same start (a retry), one asked in another channel is another job."""
    canonical = json.dumps(
        {"channel": channel.key, **encode_start(request)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def recipe_of_intent(request: Mapping[str, object]) -> dict[str, object]:
    """What a job keeps of its start request: the recipe a replay reads (no replay switch)."""
    return {k: v for k, v in request.items() if k != "defaults"}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def request_key(team_id: str, request_id: str) -> str:
    """The provider idempotency key of a start made by one chat request (its identity)."""
    return "req-" + hashlib.sha256(f"{team_id}\n{request_id}".encode()).hexdigest()[:40]


def approval_key(approval_id: str) -> str:
    """An approved start's key: a repeated approve or a crash reuses it, so one job at most."""
    return f"approval-{approval_id}"


async def settle_started(
    store: Store, intent: StartIntent, state: JobState, now: datetime
) -> bool:
    """Record the job an intent made, bill it once and close the intent.

    Every step is idempotent (job and spend are unique per job), so the service after the
    create and recovery after a crash may both run it; True only for the call that closed it.
    """
    team = intent.team_id
    await store.link_intent(team, intent.key, state.id)
    job = Job(
        team_id=team,
        state=state,
        channel=intent.channel,
        requester_id=intent.requester_id,
        updated_at=now,
        provider=intent.provider,
        account=intent.provider_account,
        recipe=recipe_of_intent(intent.request),
        origin=_text(intent.request.get("like")),
    )
    await store.add_job(job, next_poll_at=None if state.terminal else now)
    await store.add_spend(
        SpendEntry(
            team_id=team,
            job_id=state.id,
            month=month_of(intent.created_at),
            estimated=intent.estimated or 0.0,
            price_per_million=intent.price_per_million,
        )
    )
    await settle_spend(store, team, state)
    if intent.approval_id is not None:
        await store.set_approval_job(team, intent.approval_id, state.id)
    made = model_made_by(
        team, state, now=now, provider=intent.provider, account=intent.provider_account
    )
    if made is not None:
        await store.add_model(made)
    return await store.settle_intent(team, intent.key, job_id=state.id, at=now)
