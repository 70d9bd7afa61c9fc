"""Storage layer: roles, encrypted team keys, budgets, spend and approvals held in memory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime

from handlers.errors import ConfigError
from handlers.model import (
    Approval,
    ApprovalStatus,
    AuditEntry,
    Budget,
    Role,
    RoleGrant,
    SpendEntry,
    TeamCredentials,
)
from storage import crypto
from storage.crypto import SecretUnreadableError
from storage.memory.base import CredentialRow, IntegrityError, MemoryBase, json_copy, utc

log = logging.getLogger(__name__)


def _credentials(team_id: str, family: str, row: CredentialRow) -> TeamCredentials:
    secret = crypto.require_key_ring().decrypt(row.token)
    if secret.team_id != team_id:
        log.warning("team key bound to another team refused", extra={"team": team_id})
        raise SecretUnreadableError(
            "This team's stored key was not written for this team; an admin must run "
            "/finetune setup again."
        )
    return TeamCredentials(
        team_id=team_id,
        provider=row.provider,
        api_key=secret.value,
        endpoint=row.endpoint,
        api_version=row.api_version,
        set_by=row.set_by,
        updated_at=row.updated_at,
        family=family,
        settings=dict(row.settings),
    )


class MemoryAccess(MemoryBase):
    """handlers.ports.TeamStore in memory; every call is scoped by team.

    A team's key is kept as the SQL column keeps it, a Fernet token of the configured key
    ring (storage.crypto): writing needs a ring, a key missing from the ring cannot read it,
    and a token copied to another team is refused, exactly as on SQL.
    """

    # roles

    async def get_role(self, team_id: str, user_id: str) -> Role | None:
        await self._turn()
        grant = self._db.team_roles.get((team_id, user_id))
        return None if grant is None else grant.role

    async def set_role(self, grant: RoleGrant) -> None:
        await self._turn()
        self._require_team(grant.team_id)
        stored = replace(grant, role=Role(grant.role), at=utc(grant.at))
        self._db.team_roles[(grant.team_id, grant.user_id)] = stored

    async def remove_role(self, team_id: str, user_id: str) -> bool:
        await self._turn()
        return self._db.team_roles.pop((team_id, user_id), None) is not None

    async def list_roles(self, team_id: str) -> Sequence[RoleGrant]:
        await self._turn()
        grants = [g for (team, _), g in self._db.team_roles.items() if team == team_id]
        return sorted(grants, key=lambda g: (g.at, g.user_id))

    # the team's own provider key

    async def can_store_secrets(self) -> bool:
        await self._turn()
        return crypto.key_ring() is not None

    async def get_credentials(
        self, team_id: str, family: str | None = None
    ) -> TeamCredentials | None:
        """The team's key for one family (None: its default family's), decrypted; raises
        SecretUnreadableError if the keys cannot read it or it was written for another team."""
        await self._turn()
        team = self._db.teams.get(team_id)
        wanted = family if family is not None or team is None else team.default_provider
        if wanted is None:
            return None
        row = self._db.team_credentials.get((team_id, wanted))
        return None if row is None else _credentials(team_id, wanted, row)

    async def list_credentials(self, team_id: str) -> Sequence[TeamCredentials]:
        await self._turn()
        rows = self._db.team_credentials
        return [
            _credentials(team_id, family, rows[(team, family)])
            for team, family in sorted(rows)
            if team == team_id
        ]

    async def set_credentials(self, credentials: TeamCredentials) -> None:
        await self._turn()
        self._require_team(credentials.team_id)
        token = crypto.require_key_ring().encrypt(
            credentials.team_id, credentials.api_key.reveal()
        )
        self._db.team_credentials[(credentials.team_id, credentials.family)] = CredentialRow(
            provider=credentials.provider,
            endpoint=credentials.endpoint,
            api_version=credentials.api_version,
            settings=dict(credentials.settings),
            token=token,
            fingerprint=credentials.fingerprint,
            set_by=credentials.set_by,
            updated_at=utc(credentials.updated_at or self._clock()),
        )

    async def remove_credentials(self, team_id: str, family: str) -> bool:
        await self._turn()
        return self._db.team_credentials.pop((team_id, family), None) is not None

    async def get_default_provider(self, team_id: str) -> str | None:
        await self._turn()
        row = self._db.teams.get(team_id)
        return None if row is None else row.default_provider

    async def set_default_provider(self, team_id: str, family: str | None) -> None:
        await self._turn()
        row = self._db.teams.get(team_id)
        if row is not None:  # as SQL's UPDATE of no row
            row.default_provider = family

    async def count_credentials(self) -> int:
        """How many keys are stored (start-up refuses to run without a key ring)."""
        await self._turn()
        return len(self._db.team_credentials)

    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored key under the newest key; idempotent, as on SQL."""
        await self._turn()
        ring = crypto.key_ring()
        if ring is None:
            raise ConfigError(f"{crypto.ENV_NAME} is not set: there is no key to rotate to.")
        rows = self._db.team_credentials
        for key in sorted(rows):
            rows[key].token = ring.rotate(rows[key].token)
        return len(rows)

    # budgets and spend

    async def get_budget(self, team_id: str) -> Budget:
        await self._turn()
        return self._db.team_budgets.get(team_id) or Budget(team_id=team_id)

    async def set_budget(self, budget: Budget) -> None:
        await self._turn()
        self._require_team(budget.team_id)
        self._db.team_budgets[budget.team_id] = budget

    async def add_spend(self, entry: SpendEntry) -> None:
        """Once per job: a retried start that returns the same job adds nothing."""
        await self._turn()
        self._require_team(entry.team_id)
        self._db.spend.setdefault((entry.team_id, entry.job_id), entry)

    async def get_spend(self, team_id: str, job_id: str) -> SpendEntry | None:
        await self._turn()
        return self._db.spend.get((team_id, job_id))

    async def settle_spend(self, team_id: str, job_id: str, actual: float) -> None:
        await self._turn()
        entry = self._db.spend.get((team_id, job_id))
        if entry is not None:
            self._db.spend[(team_id, job_id)] = replace(entry, actual=actual)

    async def month_spend(self, team_id: str, month: str) -> float:
        await self._turn()
        return float(
            sum(
                e.estimated if e.actual is None else e.actual
                for (team, _), e in self._db.spend.items()
                if team == team_id and e.month == month
            )
        )

    # approvals

    async def add_approval(self, approval: Approval) -> None:
        await self._turn()
        self._require_team(approval.team_id)
        if approval.id in self._db.approvals:
            raise IntegrityError(f"approval {approval.id!r} exists already")
        self._db.approvals[approval.id] = replace(
            approval,
            request=json_copy(dict(approval.request)),
            status=ApprovalStatus(approval.status),
            created_at=utc(approval.created_at),
            expires_at=utc(approval.expires_at),
            decided_at=None if approval.decided_at is None else utc(approval.decided_at),
        )

    async def get_approval(self, team_id: str, approval_id: str) -> Approval | None:
        await self._turn()
        found = self._db.approvals.get(approval_id)
        if found is None or found.team_id != team_id:
            return None
        return replace(found, request=json_copy(found.request))

    async def decide_approval(
        self,
        team_id: str,
        approval_id: str,
        *,
        status: ApprovalStatus,
        by: str,
        at: datetime,
    ) -> bool:
        """Only a pending request moves: two admins pressing at once start one job."""
        await self._turn()
        found = self._db.approvals.get(approval_id)
        if found is None or found.team_id != team_id or found.status != ApprovalStatus.PENDING:
            return False
        self._db.approvals[approval_id] = replace(
            found, status=ApprovalStatus(status), decided_by=by or None, decided_at=utc(at)
        )
        return True

    async def set_approval_job(self, team_id: str, approval_id: str, job_id: str) -> None:
        await self._turn()
        found = self._db.approvals.get(approval_id)
        if found is not None and found.team_id == team_id:
            self._db.approvals[approval_id] = replace(found, job_id=job_id)

    # audit export

    async def iter_audit(self, team_id: str) -> AsyncIterator[AuditEntry]:
        """Every audit entry of a team, oldest first."""
        await self._turn()
        entries = [e for e in self._db.audit.values() if e.team_id == team_id]
        for entry in entries:
            yield entry
