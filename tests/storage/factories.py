"""Store test data: small builders for the core dataclasses the store takes."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.model import (
    ChannelAddress,
    Hyperparameters,
    Job,
    JobState,
    Platform,
    Team,
    TeamFile,
    team_id_for,
)
from handlers.ports import OutboxMessage
from handlers.profile import JobStatus
from handlers.replies import Reply
from tests.fakes.clock import T0


def team(workspace: str = "T1", *, platform: Platform = Platform.SLACK, name: str = "") -> Team:
    return Team(
        id=team_id_for(platform, workspace),
        platform=platform,
        workspace_id=workspace,
        name=name,
    )


def channel(workspace: str = "T1", channel_id: str = "C1") -> ChannelAddress:
    return ChannelAddress(platform=Platform.SLACK, workspace_id=workspace, channel_id=channel_id)


def state(
    job_id: str,
    *,
    status: str = "running",
    created_at: datetime = T0,
    fine_tuned_model: str | None = None,
) -> JobState:
    return JobState(
        id=job_id,
        model="gpt-4o-mini-2024-07-18",
        status=JobStatus(status),
        created_at=created_at,
        training_file="file-train",
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5),
        metadata={"team": "slack:T1"},
        fine_tuned_model=fine_tuned_model,
    )


def job(
    job_id: str,
    *,
    team_id: str = "slack:T1",
    status: str = "running",
    created_at: datetime = T0,
) -> Job:
    return Job(
        team_id=team_id,
        state=state(job_id, status=status, created_at=created_at),
        channel=channel(team_id.split(":", 1)[1]),
        requester_id="U1",
    )


def file(
    alias: str, *, team_id: str = "slack:T1", sha256: str = "ab" * 32, n: int = 0
) -> TeamFile:
    return TeamFile(
        team_id=team_id,
        alias=alias,
        provider_file_id=f"file-{alias}",
        filename=f"{alias}.jsonl",
        sha256=sha256,
        format="chat",
        examples=10,
        bytes=1234,
        created_at=T0 + timedelta(seconds=n),
        tokens=5000,
        uploaded_by="U1",
    )


def message(
    key: str,
    *,
    team_id: str = "slack:T1",
    title: str = "hello",
    job_id: str | None = None,
    card_key: str | None = None,
    kind: str = "event",
) -> OutboxMessage:
    return OutboxMessage(
        dedupe_key=key,
        team_id=team_id,
        target=channel(),
        kind=kind,
        reply=Reply(title=title),
        job_id=job_id,
        card_key=card_key,
    )
