"""Infrastructure: resync at start and on demand, and settling starts another replica left open."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.directory import TeamProviderDirectory
from bot.infra.metrics import Metrics
from handlers.errors import ProviderError
from handlers.ports import Clock, FineTuning
from handlers.recovery import Recovery, ResyncReport
from handlers.scope import TeamScopedProvider
from storage.store import SqlStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resyncer:
    """What a resync reads: the store, the deployment's account and every team's own one."""

    store: SqlStore
    clock: Clock
    metrics: Metrics
    provider: FineTuning
    directory: TeamProviderDirectory | None = None

    def _recovery(self) -> Recovery:
        return Recovery(store=self.store, clock=self.clock, watch_store=self.store)

    async def resync(self) -> ResyncReport:
        """Settle interrupted starts and watch again the tagged jobs the store lacks, on the
        deployment's account and every team's own; raises ProviderError when the shared one
        fails."""
        own: list[tuple[str, FineTuning]] = []
        directory = self.directory
        if directory is not None:
            for team in await self.store.list_teams():
                for family in await directory.available(team.id):
                    provider = await directory.for_team(team.id, family)
                    # A team on the deployment's account is covered by the one scan of it.
                    if not (isinstance(provider, TeamScopedProvider) and provider.shared):
                        own.append((team.id, provider))
        report = await self._recovery().resync(
            [self.provider], own_accounts=own, directory=directory
        )
        self.metrics.inc("resync_recovered_total", len(report.recovered) + len(report.settled))
        return report

    async def at_start(self) -> ResyncReport | None:
        """Start-up resync: a provider failure is logged, never fatal (polling resumes anyway)."""
        try:
            report = await self.resync()
        except ProviderError as error:
            log.warning("resync at start failed", extra={"kind": error.kind.value})
            return None
        log.info("resync at start", extra={"summary": report.summary()})
        return report

    async def settle_intents(self) -> None:
        """A housekeeping tick settles starts another replica left open when it died."""
        if self.directory is None:
            return
        try:
            report = await self._recovery().settle_intents(self.directory)
        except ProviderError as error:
            log.warning("settling start intents failed", extra={"kind": error.kind.value})
            return
        self.metrics.inc("resync_recovered_total", len(report.settled))
