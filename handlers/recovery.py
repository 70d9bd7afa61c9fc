"""Core layer: resync: open start intents settled, tagged jobs the store lacks watched again."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from handlers.errors import ProviderError
from handlers.model import (
    ACCOUNT_DEPLOYMENT,
    ACCOUNT_TEAM,
    ChannelAddress,
    Job,
    JobState,
    Platform,
    StartIntent,
    Team,
    model_made_by,
)
from handlers.ports import (
    Clock,
    FineTuning,
    OutboxMessage,
    ProviderDirectory,
    Store,
    WatchStore,
)
from handlers.profile import Capability
from handlers.replies import Reply, Tone, UserRef, rich
from handlers.scope import TEAM_KEY, TeamScopedProvider
from handlers.service import BOT_METADATA_KEY
from handlers.starts import INTENT_GRACE, INTENT_METADATA_KEY, settle_started
from handlers.text import count, timestamp

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
    """Tagged jobs whose metadata names no usable team (or another team than the account's)."""
    settled: list[str] = field(default_factory=list)
    """Jobs of interrupted starts: linked to their intent, billed once, requester told."""
    abandoned: list[str] = field(default_factory=list)
    """Intent keys of starts that made no job (the crash came before the create)."""
    pending: list[str] = field(default_factory=list)
    """Intent keys too young to judge (a create may still be in flight on another replica)."""

    def summary(self) -> str:
        return (
            f"scanned {count(self.scanned, 'tagged job')}: {self.known} already known, "
            f"{len(self.recovered)} recovered, {len(self.skipped)} skipped; "
            f"{count(len(self.settled), 'interrupted start')} settled, "
            f"{len(self.abandoned)} made nothing, {len(self.pending)} still open"
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
        watch_store: WatchStore | None = None,
        instance: str = "default",
        limit: int = 100,
    ) -> None:
        self._store = store
        self._clock = clock
        self._watch = watch_store
        self._instance = instance
        self._limit = limit

    async def resync(
        self,
        providers: Sequence[FineTuning],
        *,
        own: Mapping[str, FineTuning] | None = None,
        directory: ProviderDirectory | None = None,
        own_accounts: Sequence[tuple[str, FineTuning]] = (),
    ) -> ResyncReport:
        """Settle every open start intent, then scan each account once.

        `providers` are shared accounts (any team's tagged jobs count); `own` maps a team to
        its own account, where only that team's jobs count (a team's key cannot plant jobs in
        another team). Intents ask `directory` for their team's account (else the first
        shared one). Raises ProviderError if an account cannot be listed.
        """
        report = ResyncReport()
        for intent in await self._store.list_open_intents():
            provider: FineTuning
            if directory is not None:
                provider = await directory.for_team(intent.team_id, intent.provider or None)
            elif intent.team_id in (own or {}):
                provider = (own or {})[intent.team_id]
            else:
                provider = providers[0]
            await self._settle(intent, provider, report)
        # A team's own account passed as the directory's view of it counts for that team only.
        scans: list[tuple[FineTuning, str | None]] = [(p, _owner(p)) for p in providers]
        scans += [(p, team) for team, p in (own or {}).items()]
        # A team with keys for several families has one own account per family.
        scans += [(p, team) for team, p in own_accounts]
        for provider, owner in scans:
            if not provider.profile.can(Capability.JOB_TAGS):
                continue  # its jobs carry no tag: there is nothing to find them by
            try:
                listed = await provider.list_jobs(
                    metadata={BOT_METADATA_KEY: self._instance}, limit=self._limit
                )
            except ProviderError as error:
                if owner is None:
                    raise
                # One team's refused or unreachable key must not stop every other team's.
                log.warning(
                    "team account not listed", extra={"team": owner, "kind": error.kind.value}
                )
                continue
            for state in listed:
                await self._one(state, report, owner, family=provider.profile.name)
        if report.recovered or report.settled:
            log.info(
                "resync recovered jobs",
                extra={"jobs": report.recovered, "settled": report.settled},
            )
        return report

    async def settle_intents(self, directory: ProviderDirectory) -> ResyncReport:
        """Only the open intents (a housekeeping tick): no account is listed."""
        report = ResyncReport()
        for intent in await self._store.list_open_intents():
            provider = await directory.for_team(intent.team_id, intent.provider or None)
            await self._settle(intent, provider, report)
        return report

    async def _settle(
        self, intent: StartIntent, provider: FineTuning, report: ResyncReport
    ) -> None:
        """One interrupted start: link and bill the job it made, or close it as made nothing."""
        now = self._clock.now()
        try:
            found = await provider.list_jobs(
                metadata={INTENT_METADATA_KEY: intent.key}, limit=self._limit
            )
        except ProviderError as error:
            log.warning(
                "intent lookup failed", extra={"team": intent.team_id, "kind": error.kind.value}
            )
            report.pending.append(intent.key)
            return
        if found:
            state = found[0]
            if await settle_started(self._store, intent, state, now):
                report.settled.append(state.id)
                await self._tell(intent, _started_notice(intent, state), now, job_id=state.id)
            return
        if now - intent.created_at < INTENT_GRACE:
            report.pending.append(intent.key)  # another replica's create may still be running
            return
        if await self._store.settle_intent(intent.team_id, intent.key, job_id=None, at=now):
            report.abandoned.append(intent.key)
            await self._tell(intent, _nothing_notice(intent), now, job_id=None)

    async def _tell(
        self, intent: StartIntent, reply: Reply, now: datetime, *, job_id: str | None
    ) -> None:
        if self._watch is None:
            return
        await self._watch.enqueue(
            [
                OutboxMessage(
                    dedupe_key=f"intent:{intent.key}",
                    team_id=intent.team_id,
                    target=intent.channel,
                    kind="start",
                    reply=reply,
                    job_id=job_id,
                )
            ],
            now=now,
        )

    async def _one(
        self, state: JobState, report: ResyncReport, owner: str | None, *, family: str
    ) -> None:
        """One listed job; a job found on a team's own account was made with the team's key
        (`owner`), one found on a shared account with the deployment's."""
        report.scanned += 1
        if await self._store.find_job_anywhere(state.id) is not None:
            # Known jobs keep the team the store gave them; a tag never moves a job.
            report.known += 1
            return
        team = _team_of(state)
        if team is None or (owner is not None and team.id != owner):
            report.skipped.append(state.id)
            log.warning("tagged job names no usable team", extra={"job": state.id})
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
            provider=family,
            account=ACCOUNT_DEPLOYMENT if owner is None else ACCOUNT_TEAM,
        )
        await self._store.add_job(job, next_poll_at=None if state.terminal else now)
        made = model_made_by(team.id, state, now=now, provider=family, account=job.account)
        if made is not None:
            await self._store.add_model(made)
        report.recovered.append(state.id)


def _started_notice(intent: StartIntent, state: JobState) -> Reply:
    return Reply(
        title=f"Started {state.id} (status: {state.status})",
        lines=(
            rich(
                UserRef(user_id=intent.requester_id),
                " the bot restarted while starting the job you asked for "
                f"{timestamp(intent.created_at)}; it was found at the provider and is watched "
                "now. Nothing was started twice.",
            ),
        ),
        tone=Tone.SUCCESS,
        mentions=(intent.requester_id,),
    )


def _nothing_notice(intent: StartIntent) -> Reply:
    model = str(intent.request.get("model") or "")
    return Reply(
        title=f"Your start of {model} did not reach the provider; nothing was started.",
        lines=(
            rich(
                UserRef(user_id=intent.requester_id),
                " the bot restarted while starting it "
                f"({timestamp(intent.created_at)}). Nothing was billed; run the start again.",
            ),
        ),
        tone=Tone.WARNING,
        mentions=(intent.requester_id,),
    )


def _owner(provider: FineTuning) -> str | None:
    """The team whose own account this is, when it is a team's view of its own account."""
    if isinstance(provider, TeamScopedProvider) and not provider.shared:
        return provider.team_id
    return None
