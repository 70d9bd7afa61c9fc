"""Storage layer: roles, encrypted team keys, budgets, spend and approvals (the TeamStore port)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, delete, func, select, tuple_, type_coerce, update

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
from storage.base import StoreBase, channel_from_row, insert
from storage.crypto import SecretUnreadableError, TeamSecret
from storage.tables import (
    approvals,
    audit,
    spend,
    team_budgets,
    team_credentials,
    team_roles,
    teams,
)

log = logging.getLogger(__name__)

ROTATE_BATCH = 100


def _credentials_from_row(team_id: str, row: Row[Any]) -> TeamCredentials:
    secret: TeamSecret = row.secret
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
        family=row.family,
        settings=dict(row.settings or {}),
    )


class AccessMethods(StoreBase):
    """handlers.ports.TeamStore over the shared engine; every call is scoped by team."""

    # roles

    async def get_role(self, team_id: str, user_id: str) -> Role | None:
        stmt = select(team_roles.c.role).where(
            team_roles.c.team_id == team_id, team_roles.c.user_id == user_id
        )
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar()
        return None if value is None else Role(value)

    async def set_role(self, grant: RoleGrant) -> None:
        async with self._write() as conn:
            stmt = insert(conn, team_roles).values(
                team_id=grant.team_id,
                user_id=grant.user_id,
                role=grant.role.value,
                granted_by=grant.granted_by,
                granted_at=grant.at,
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[team_roles.c.team_id, team_roles.c.user_id],
                    set_={
                        "role": stmt.excluded.role,
                        "granted_by": stmt.excluded.granted_by,
                        "granted_at": stmt.excluded.granted_at,
                    },
                )
            )

    async def remove_role(self, team_id: str, user_id: str) -> bool:
        stmt = (
            delete(team_roles)
            .where(team_roles.c.team_id == team_id, team_roles.c.user_id == user_id)
            .returning(team_roles.c.user_id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def list_roles(self, team_id: str) -> Sequence[RoleGrant]:
        stmt = (
            select(team_roles)
            .where(team_roles.c.team_id == team_id)
            .order_by(team_roles.c.granted_at, team_roles.c.user_id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            RoleGrant(
                team_id=r.team_id,
                user_id=r.user_id,
                role=Role(r.role),
                granted_by=r.granted_by,
                at=r.granted_at,
            )
            for r in rows
        ]

    # the team's own provider key

    async def can_store_secrets(self) -> bool:
        return crypto.key_ring() is not None

    async def get_credentials(
        self, team_id: str, family: str | None = None
    ) -> TeamCredentials | None:
        """The team's key for one family (None: its default family's), decrypted; raises
        SecretUnreadableError if the keys cannot read it or it was written for another team."""
        wanted = (
            family
            if family is not None
            else select(teams.c.default_provider).where(teams.c.id == team_id).scalar_subquery()
        )
        stmt = select(team_credentials).where(
            team_credentials.c.team_id == team_id, team_credentials.c.family == wanted
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _credentials_from_row(team_id, row)

    async def list_credentials(self, team_id: str) -> Sequence[TeamCredentials]:
        """Every family's key the team set up, by family name."""
        stmt = (
            select(team_credentials)
            .where(team_credentials.c.team_id == team_id)
            .order_by(team_credentials.c.family)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_credentials_from_row(team_id, r) for r in rows]

    async def set_credentials(self, credentials: TeamCredentials) -> None:
        values: dict[str, Any] = {
            "provider": credentials.provider,
            "endpoint": credentials.endpoint,
            "api_version": credentials.api_version,
            "settings": dict(credentials.settings) or None,
            "secret": TeamSecret(team_id=credentials.team_id, value=credentials.api_key),
            "fingerprint": credentials.fingerprint,
            "set_by": credentials.set_by,
            "updated_at": credentials.updated_at or self._clock(),
        }
        async with self._write() as conn:
            stmt = insert(conn, team_credentials).values(
                team_id=credentials.team_id, family=credentials.family, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[team_credentials.c.team_id, team_credentials.c.family],
                    set_={name: stmt.excluded[name] for name in values},
                )
            )

    async def remove_credentials(self, team_id: str, family: str) -> bool:
        stmt = (
            delete(team_credentials)
            .where(team_credentials.c.team_id == team_id, team_credentials.c.family == family)
            .returning(team_credentials.c.team_id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def get_default_provider(self, team_id: str) -> str | None:
        stmt = select(teams.c.default_provider).where(teams.c.id == team_id)
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar()
        return None if value is None else str(value)

    async def set_default_provider(self, team_id: str, family: str | None) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(teams).where(teams.c.id == team_id).values(default_provider=family)
            )

    async def count_credentials(self) -> int:
        """How many teams have a key stored (start-up refuses to run without a key ring)."""
        async with self._read() as conn:
            stmt = select(func.count()).select_from(team_credentials)
            count = (await conn.execute(stmt)).scalar()
        return int(count or 0)

    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored key under the newest key, a batch per transaction.

        Idempotent: a second run (or a run after a crash) rotates again, harmlessly.
        """
        ring = crypto.key_ring()
        if ring is None:
            raise ConfigError(f"{crypto.ENV_NAME} is not set: there is no key to rotate to.")
        raw = type_coerce(team_credentials.c.secret, Text)
        done = 0
        async for batch in self._credential_batches():
            async with self._write() as conn:
                for team_id, family, token in batch:
                    await conn.execute(
                        update(team_credentials)
                        .where(
                            team_credentials.c.team_id == team_id,
                            team_credentials.c.family == family,
                        )
                        .values({raw: ring.rotate(token)})
                    )
                    done += 1
        return done

    async def _credential_batches(self) -> AsyncIterator[list[tuple[str, str, str]]]:
        """Every stored key, a batch at a time, in (team, family) order."""
        raw = type_coerce(team_credentials.c.secret, Text).label("token")
        key = tuple_(team_credentials.c.team_id, team_credentials.c.family)
        after = ("", "")
        while True:
            stmt = (
                select(team_credentials.c.team_id, team_credentials.c.family, raw)
                .where(key > tuple_(*after))
                .order_by(team_credentials.c.team_id, team_credentials.c.family)
                .limit(ROTATE_BATCH)
            )
            async with self._read() as conn:
                rows = [(r.team_id, r.family, r.token) for r in (await conn.execute(stmt)).all()]
            if not rows:
                return
            yield rows
            after = (rows[-1][0], rows[-1][1])

    # budgets and spend

    async def get_budget(self, team_id: str) -> Budget:
        stmt = select(team_budgets).where(team_budgets.c.team_id == team_id)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return Budget(team_id=team_id)
        return Budget(team_id=team_id, monthly_cap=row.monthly_cap, approve_over=row.approve_over)

    async def set_budget(self, budget: Budget) -> None:
        async with self._write() as conn:
            stmt = insert(conn, team_budgets).values(
                team_id=budget.team_id,
                monthly_cap=budget.monthly_cap,
                approve_over=budget.approve_over,
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[team_budgets.c.team_id],
                    set_={
                        "monthly_cap": stmt.excluded.monthly_cap,
                        "approve_over": stmt.excluded.approve_over,
                    },
                )
            )

    async def add_spend(self, entry: SpendEntry) -> None:
        """Once per job: a retried start that returns the same job adds nothing."""
        async with self._write() as conn:
            await conn.execute(
                insert(conn, spend)
                .values(
                    team_id=entry.team_id,
                    job_id=entry.job_id,
                    month=entry.month,
                    estimated=entry.estimated,
                    price_per_million=entry.price_per_million,
                    actual=entry.actual,
                )
                .on_conflict_do_nothing(index_elements=[spend.c.team_id, spend.c.job_id])
            )

    async def get_spend(self, team_id: str, job_id: str) -> SpendEntry | None:
        stmt = select(spend).where(spend.c.team_id == team_id, spend.c.job_id == job_id)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return SpendEntry(
            team_id=row.team_id,
            job_id=row.job_id,
            month=row.month,
            estimated=row.estimated,
            price_per_million=row.price_per_million,
            actual=row.actual,
        )

    async def settle_spend(self, team_id: str, job_id: str, actual: float) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(spend)
                .where(spend.c.team_id == team_id, spend.c.job_id == job_id)
                .values(actual=actual)
            )

    async def month_spend(self, team_id: str, month: str) -> float:
        counted = func.coalesce(spend.c.actual, spend.c.estimated)
        stmt = select(func.coalesce(func.sum(counted), 0.0)).where(
            spend.c.team_id == team_id, spend.c.month == month
        )
        async with self._read() as conn:
            total = (await conn.execute(stmt)).scalar()
        return float(total or 0.0)

    # approvals

    async def add_approval(self, approval: Approval) -> None:
        channel = approval.channel
        async with self._write() as conn:
            await conn.execute(
                approvals.insert().values(
                    id=approval.id,
                    team_id=approval.team_id,
                    requester_id=approval.requester_id,
                    channel_platform=str(channel.platform),
                    channel_workspace_id=channel.workspace_id,
                    channel_id=channel.channel_id,
                    channel_thread_id=channel.thread_id,
                    request=dict(approval.request),
                    cost=approval.cost,
                    status=approval.status.value,
                    created_at=approval.created_at,
                    expires_at=approval.expires_at,
                    decided_by=approval.decided_by,
                    decided_at=approval.decided_at,
                    job_id=approval.job_id,
                )
            )

    async def get_approval(self, team_id: str, approval_id: str) -> Approval | None:
        stmt = select(approvals).where(
            approvals.c.team_id == team_id, approvals.c.id == approval_id
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _approval_from_row(row)

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
        stmt = (
            update(approvals)
            .where(
                approvals.c.team_id == team_id,
                approvals.c.id == approval_id,
                approvals.c.status == ApprovalStatus.PENDING.value,
            )
            .values(status=status.value, decided_by=by or None, decided_at=at)
            .returning(approvals.c.id)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def set_approval_job(self, team_id: str, approval_id: str, job_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(approvals)
                .where(approvals.c.team_id == team_id, approvals.c.id == approval_id)
                .values(job_id=job_id)
            )

    # audit export

    async def iter_audit(self, team_id: str) -> AsyncIterator[AuditEntry]:
        """Every audit entry of a team, oldest first, read in pages."""
        last = 0
        while True:
            stmt = (
                select(audit)
                .where(audit.c.team_id == team_id, audit.c.id > last)
                .order_by(audit.c.id)
                .limit(500)
            )
            async with self._read() as conn:
                rows = (await conn.execute(stmt)).all()
            if not rows:
                return
            for r in rows:
                yield AuditEntry(
                    team_id=r.team_id,
                    user_id=r.user_id,
                    command=r.command,
                    arguments=r.arguments,
                    result=r.result,
                    at=r.at,
                )
            last = rows[-1].id


def _approval_from_row(row: Row[Any]) -> Approval:
    return Approval(
        id=row.id,
        team_id=row.team_id,
        requester_id=row.requester_id,
        channel=channel_from_row(row),
        request=dict(row.request or {}),
        cost=row.cost,
        created_at=row.created_at,
        expires_at=row.expires_at,
        status=ApprovalStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        job_id=row.job_id,
    )
