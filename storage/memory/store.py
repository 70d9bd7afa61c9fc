"""Storage layer: MemoryStore, the Store and WatchStore ports over one in-memory database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from handlers.errors import ConflictError
from handlers.model import (
    AuditEntry,
    ChannelAddress,
    Job,
    JobState,
    Platform,
    Subscription,
    SubscriptionFilter,
    Team,
    TeamFile,
    TeamModel,
)
from handlers.ports import Store, WatchStore
from storage.memory.access import MemoryAccess
from storage.memory.base import (
    FileCopyRow,
    JobRow,
    SubscriptionRow,
    TeamRow,
    read_job,
    stored_state,
    utc,
)
from storage.memory.starts import MemoryStarts
from storage.memory.watch import MemoryWatch


def _same_channel(a: ChannelAddress, b: ChannelAddress) -> bool:
    """The subscriptions table's unique key: a thread does not make another channel."""
    return (a.platform, a.workspace_id, a.channel_id) == (b.platform, b.workspace_id, b.channel_id)


class MemoryStore(MemoryAccess, MemoryStarts, MemoryWatch):
    """handlers.ports.Store and handlers.ports.WatchStore in process memory, for the core's
    tests and anything else that must run without a database; what SqlStore does, it does.

    Teams own files, jobs, models and subscriptions as through SQL foreign keys: call
    ensure_team before writing any of them (else IntegrityError). Stores built over one
    MemoryDatabase share it, as engines share a database. Nothing survives the process.
    """

    # teams

    async def ensure_team(self, team: Team) -> Team:
        """Create the team if new; a non-empty name refreshes the stored one. Returns it."""
        await self._turn()
        row = self._db.teams.get(team.id)
        if row is None:
            stored = replace(team, platform=Platform(team.platform))
            row = self._db.teams[team.id] = TeamRow(team=stored, created_at=utc(self._clock()))
        elif team.name and row.team.name != team.name:
            row.team = replace(row.team, name=team.name)
        return row.team

    async def get_team(self, team_id: str) -> Team | None:
        await self._turn()
        row = self._db.teams.get(team_id)
        return None if row is None else row.team

    async def list_teams(self) -> Sequence[Team]:
        await self._turn()
        return [self._db.teams[team_id].team for team_id in sorted(self._db.teams)]

    async def set_metric_interval(self, team_id: str, seconds: int) -> bool:
        """Returns False when there is no such team."""
        await self._turn()
        row = self._db.teams.get(team_id)
        if row is None:
            return False
        row.team = replace(row.team, metric_interval_seconds=seconds)
        return True

    # files

    async def add_file(self, file: TeamFile) -> None:
        """Raises ConflictError when the team already has a file under that alias."""
        await self._turn()
        self._require_team(file.team_id)
        if any(
            f.team_id == file.team_id and f.alias == file.alias for f in self._db.files.values()
        ):
            raise ConflictError(f"The alias {file.alias!r} is already taken in this team.")
        self._db.files[self._db.new_id()] = replace(file, created_at=utc(file.created_at))

    async def get_file(self, team_id: str, alias_or_id: str) -> TeamFile | None:
        """By alias first, else by the provider's file id; only within the team."""
        await self._turn()
        found = [
            (row_id, f)
            for row_id, f in self._db.files.items()
            if f.team_id == team_id and alias_or_id in (f.alias, f.provider_file_id)
        ]
        found.sort(key=lambda item: (item[1].alias != alias_or_id, -item[0]))
        return found[0][1] if found else None

    async def find_file_by_sha256(
        self, team_id: str, sha256: str, *, provider: str | None = None
    ) -> TeamFile | None:
        await self._turn()
        found = [
            (row_id, f)
            for row_id, f in self._db.files.items()
            if f.team_id == team_id
            and f.sha256 == sha256
            and (provider is None or f.provider == provider)
        ]
        return max(found, key=lambda item: item[0])[1] if found else None

    async def list_files(self, team_id: str) -> Sequence[TeamFile]:
        """Newest first."""
        await self._turn()
        found = [(row_id, f) for row_id, f in self._db.files.items() if f.team_id == team_id]
        found.sort(key=lambda item: (item[1].created_at, item[0]), reverse=True)
        return [f for _, f in found]

    async def delete_file(self, team_id: str, alias: str) -> bool:
        await self._turn()
        files = self._db.files
        row_id = next(
            (i for i, f in files.items() if f.team_id == team_id and f.alias == alias), None
        )
        if row_id is None:
            return False
        provider_file_id = files.pop(row_id).provider_file_id
        still_used = any(
            f.team_id == team_id and f.provider_file_id == provider_file_id for f in files.values()
        )
        if not still_used:
            self._db.file_copies.pop((team_id, provider_file_id), None)
        return True

    async def save_file_copy(self, team_id: str, provider_file_id: str, content: bytes) -> None:
        await self._turn()
        self._require_team(team_id)
        self._db.file_copies.setdefault(
            (team_id, provider_file_id),
            FileCopyRow(content=bytes(content), created_at=utc(self._clock())),
        )

    async def file_copy(self, team_id: str, provider_file_id: str) -> bytes | None:
        await self._turn()
        row = self._db.file_copies.get((team_id, provider_file_id))
        return None if row is None else row.content

    # jobs

    async def add_job(self, job: Job, *, next_poll_at: datetime | None) -> None:
        """Insert the job and its watch state; adding the same provider job id again is a no-op
        (the provider's create is idempotent, so a retried start may add it twice)."""
        await self._turn()
        self._require_team(job.team_id)
        if job.id in self._db.jobs:
            return
        stored = replace(
            job, state=stored_state(job.state), updated_at=utc(job.updated_at or self._clock())
        )
        self._db.jobs[job.id] = JobRow(
            id=self._db.new_id(),
            job=stored,
            next_poll_at=None if next_poll_at is None else utc(next_poll_at),
        )

    async def get_job(self, team_id: str, job_id: str) -> Job | None:
        await self._turn()
        row = self._db.jobs.get(job_id)
        return None if row is None or row.job.team_id != team_id else read_job(row.job)

    async def find_job_anywhere(self, job_id: str) -> Job | None:
        await self._turn()
        row = self._db.jobs.get(job_id)
        return None if row is None else read_job(row.job)

    async def list_jobs(
        self, team_id: str, *, status: str | None = None, limit: int = 20
    ) -> Sequence[Job]:
        """Newest first (by the provider's created_at)."""
        await self._turn()
        rows = [
            row
            for row in self._db.jobs.values()
            if row.job.team_id == team_id and (status is None or row.job.state.status == status)
        ]
        rows.sort(key=lambda row: (row.job.state.created_at, row.id), reverse=True)
        return [read_job(row.job) for row in rows[: max(limit, 0)]]

    async def update_job_state(self, team_id: str, state: JobState, *, poll_now: bool) -> None:
        await self._turn()
        row = self._db.jobs.get(state.id)
        if row is None or row.job.team_id != team_id:
            return
        now = utc(self._clock())
        row.job = replace(row.job, state=stored_state(state), updated_at=now)
        if poll_now:
            row.next_poll_at = now

    # models

    async def add_model(self, model: TeamModel) -> None:
        """Idempotent: the watcher and the service may both record the same model."""
        await self._turn()
        self._require_team(model.team_id)
        models = self._db.models
        if any(m.team_id == model.team_id and m.name == model.name for m in models.values()):
            return
        models[self._db.new_id()] = replace(model, created_at=utc(model.created_at))

    async def list_models(self, team_id: str) -> Sequence[TeamModel]:
        """Newest first."""
        await self._turn()
        found = [(row_id, m) for row_id, m in self._db.models.items() if m.team_id == team_id]
        found.sort(key=lambda item: (item[1].created_at, item[0]), reverse=True)
        return [m for _, m in found]

    async def get_model(self, team_id: str, name: str) -> TeamModel | None:
        await self._turn()
        return next(
            (m for m in self._db.models.values() if m.team_id == team_id and m.name == name),
            None,
        )

    # subscriptions

    async def add_subscription(self, subscription: Subscription) -> None:
        """One subscription per team and channel: adding again replaces the filter."""
        await self._turn()
        self._require_team(subscription.team_id)
        wanted = replace(subscription, filter=SubscriptionFilter(subscription.filter))
        for row in self._db.subscriptions.values():
            held = row.subscription
            if held.team_id == subscription.team_id and _same_channel(
                held.channel, subscription.channel
            ):
                channel = replace(held.channel, thread_id=subscription.channel.thread_id)
                row.subscription = replace(held, channel=channel, filter=wanted.filter)
                return
        row_id = self._db.new_id()
        self._db.subscriptions[row_id] = SubscriptionRow(
            id=row_id, subscription=wanted, created_at=utc(self._clock())
        )

    async def remove_subscription(self, team_id: str, channel: ChannelAddress) -> bool:
        await self._turn()
        subscriptions = self._db.subscriptions
        row_id = next(
            (
                i
                for i, row in subscriptions.items()
                if row.subscription.team_id == team_id
                and _same_channel(row.subscription.channel, channel)
            ),
            None,
        )
        if row_id is None:
            return False
        del subscriptions[row_id]
        return True

    async def list_subscriptions(self, team_id: str) -> Sequence[Subscription]:
        await self._turn()
        return [
            row.subscription
            for row in self._db.subscriptions.values()
            if row.subscription.team_id == team_id
        ]

    # audit

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._turn()
        self._db.audit[self._db.new_id()] = replace(entry, at=utc(entry.at))

    async def list_audit(self, team_id: str, *, limit: int = 20) -> Sequence[AuditEntry]:
        """Newest first."""
        await self._turn()
        found = [(row_id, e) for row_id, e in self._db.audit.items() if e.team_id == team_id]
        found.sort(key=lambda item: (item[1].at, item[0]), reverse=True)
        return [e for _, e in found[: max(limit, 0)]]

    # webhooks

    async def webhook_seen(self, webhook_id: str, now: datetime) -> bool:
        """Remember a webhook delivery id: True the first time, False for a redelivery."""
        await self._turn()
        if webhook_id in self._db.webhook_inbox:
            return False
        self._db.webhook_inbox[webhook_id] = utc(now)
        return True


if TYPE_CHECKING:  # mypy proves the in-memory store implements both ports in full
    _store: Store = MemoryStore()
    _watch: WatchStore = MemoryStore()
