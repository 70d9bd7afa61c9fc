"""Core layer: resync: tagged jobs the provider has and the store lacks are watched again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.model import ChannelAddress, Job, JobState, Platform, Team, model_made_by
from handlers.ports import Clock, FineTuning, Store
from handlers.profile import Capability
from handlers.scope import TEAM_KEY, TeamScopedProvider
from handlers.service import BOT_METADATA_KEY

log = logging.getLogger(__name__)

CHANNEL_KEY = "ftbot_channel"
USER_KEY = "ftbot_user"


@dataclass(slots=True)
class ResyncReport:
    """What one resync saw and did."""

    scanned: int = 0
    known: int = 0
    recovered: list[str] = field(default_factory=list)
    """Jobs added back; live ones are polled at once, finished ones only recorded."""
    skipped: list[str] = field(default_factory=list)
    """Tagged jobs whose metadata names no usable team."""

    def summary(self) -> str:
        return (
            f"scanned {self.scanned} tagged job(s): {self.known} already known, "
            f"{len(self.recovered)} recovered, {len(self.skipped)} skipped"
        )


def _team_of(state: JobState) -> Team | None:
    """The team a tagged job belongs to; its id is `<platform>:<workspace>`."""
    team_id = state.metadata.get(TEAM_KEY, "")
    platform_name, _, workspace = team_id.partition(":")
    try:
        platform = Platform(platform_name)
    except ValueError:
        return None
    if not workspace:
        return None
    return Team(id=team_id, platform=platform, workspace_id=workspace)


class Recovery:
    """Finds the bot's jobs at the provider (metadata `ftbot`) and adds the missing ones back.

    The team comes from `ftbot_team`; the channel from `ftbot_channel` on the team's platform
    and workspace; the requester from `ftbot_user`. A live job is due at once, so the next
    sweep fetches its news and posts its card; a finished job is recorded (and its model), not
    watched, so nobody is told old news again.
    """

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        instance: str = "default",
        limit: int = 100,
    ) -> None:
        self._store = store
        self._clock = clock
        self._instance = instance
        self._limit = limit

    async def resync(self, providers: Sequence[FineTuning]) -> ResyncReport:
        """Scan each provider account once; raises ProviderError if one cannot be listed.

        Pass a team's own account as the directory's view of it (`for_team`): a job there is
        adopted only when tagged for that team, so a team cannot plant a job into another
        team's list from its own account. The deployment's account is passed as it is.
        """
        report = ResyncReport()
        for provider in providers:
            if not provider.profile.can(Capability.JOB_TAGS):
                continue  # its jobs carry no tag: there is nothing to find them by
            owner = (
                provider.team_id
                if isinstance(provider, TeamScopedProvider) and not provider.shared
                else None
            )
            listed = await provider.list_jobs(
                metadata={BOT_METADATA_KEY: self._instance}, limit=self._limit
            )
            for state in listed:
                await self._one(state, report, owner=owner)
        if report.recovered:
            log.info("resync recovered jobs", extra={"jobs": report.recovered})
        return report

    async def _one(self, state: JobState, report: ResyncReport, *, owner: str | None) -> None:
        report.scanned += 1
        if await self._store.find_job_anywhere(state.id) is not None:
            # Known jobs keep the team the store gave them; a tag never moves a job.
            report.known += 1
            return
        team = _team_of(state)
        if team is None or (owner is not None and team.id != owner):
            report.skipped.append(state.id)
            log.warning("tagged job names no team", extra={"job": state.id})
            return
        await self._store.ensure_team(team)
        channel_id = state.metadata.get(CHANNEL_KEY)
        channel = (
            ChannelAddress(
                platform=team.platform, workspace_id=team.workspace_id, channel_id=channel_id
            )
            if channel_id
            else None
        )
        now = self._clock.now()
        job = Job(
            team_id=team.id,
            state=state,
            channel=channel,
            requester_id=state.metadata.get(USER_KEY) or None,
            updated_at=now,
        )
        await self._store.add_job(job, next_poll_at=None if state.terminal else now)
        made = model_made_by(team.id, state, now=now)
        if made is not None:
            await self._store.add_model(made)
        report.recovered.append(state.id)
