"""Migration 0006: rows at 0005 get the OpenAI family and an account; team keys become per
family, and a team's one key its default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from storage.engine import alembic_config, create_engine
from tests.backends import postgres_url
from tests.dbutil import fresh_postgres_database

BEFORE = "0005"
"""The revision before 0006."""

AT = "'2026-01-01 00:00:00'"


def _upgrade_to(sync_conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    command.upgrade(config, revision)


@contextmanager
def _empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    base = postgres_url()
    assert base
    with fresh_postgres_database(base) as url:
        yield url


def _rows_at_0005(sync_conn: Connection) -> None:
    """Two teams: T1 has its own key, T2 uses the deployment's; each has a file, a job, a
    model and an open start."""
    run = sync_conn.execute
    for team in ("T1", "T2"):
        run(
            text(
                "INSERT INTO teams (id, platform, workspace_id, name, metric_interval_seconds, "
                f"created_at) VALUES ('slack:{team}', 'slack', '{team}', '', 60, {AT})"
            )
        )
        run(
            text(
                "INSERT INTO files (team_id, alias, provider_file_id, filename, sha256, format, "
                f"examples, bytes, created_at) VALUES ('slack:{team}', 'train', "
                f"'file-{team}', 'train.jsonl', 'ab', 'chat', 3, 10, {AT})"
            )
        )
        run(
            text(
                "INSERT INTO jobs (team_id, job_id, model, status, created_at, training_file, "
                f"method, hyperparameters, job_metadata) VALUES ('slack:{team}', "
                f"'ftjob-{team}', 'm', 'running', {AT}, 'file-{team}', 'supervised', '{{}}', "
                "'{}')"
            )
        )
        run(
            text(
                "INSERT INTO models (team_id, name, base_model, job_id, created_at) VALUES "
                f"('slack:{team}', 'ft:m:{team}', 'm', 'ftjob-{team}', {AT})"
            )
        )
        run(
            text(
                "INSERT INTO start_intents (key, team_id, requester_id, channel_platform, "
                "channel_workspace_id, channel_id, fingerprint, request, account, created_at) "
                f"VALUES ('req-{team}', 'slack:{team}', 'U1', 'slack', '{team}', 'C1', 'f', "
                f"'{{}}', 'OpenAI', {AT})"
            )
        )
    # The secret column holds a Fernet token; the migration never reads it.
    run(
        text(
            "INSERT INTO team_credentials (team_id, provider, secret, fingerprint, set_by, "
            f"updated_at) VALUES ('slack:T1', 'azure', 'gAAAA-token', 'fp1', 'UA', {AT})"
        )
    )


def _add_second_family_key(sync_conn: Connection) -> None:
    sync_conn.execute(
        text(
            "INSERT INTO team_credentials (team_id, family, provider, secret, fingerprint, "
            f"set_by, updated_at) VALUES ('slack:T1', 'other', 'other', 'gAAAA-2', 'fp2', 'UA', "
            f"{AT})"
        )
    )


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(postgres_url() is None, reason="TEST_DATABASE_URL is not set"),
        ],
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rows_at_0005_become_openai_with_their_account(backend: str, tmp_path: Path) -> None:
    with _empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade_to, BEFORE)
                await conn.run_sync(_rows_at_0005)
                # 0006 alone: 0008 later moves Azure keys and their rows to their own family.
                await conn.run_sync(_upgrade_to, "0006")
            async with engine.connect() as conn:
                got = {
                    table: {
                        tuple(r)
                        for r in await conn.execute(
                            text(f"SELECT team_id, provider, {account} FROM {table}")
                        )
                    }
                    for table, account in (
                        ("files", "account"),
                        ("jobs", "account"),
                        ("models", "account"),
                        ("start_intents", "provider_account"),
                    )
                }
                keys = (
                    await conn.execute(
                        text("SELECT team_id, family, provider FROM team_credentials")
                    )
                ).all()
                defaults: dict[str, str | None] = dict(
                    (await conn.execute(text("SELECT id, default_provider FROM teams"))).all()
                )
            expected = {("slack:T1", "openai", "team"), ("slack:T2", "openai", "deployment")}
            assert got == dict.fromkeys(got, expected)
            assert [tuple(k) for k in keys] == [("slack:T1", "openai", "azure")]
            assert defaults == {"slack:T1": "openai", "slack:T2": None}
            # One key per (team, family) now: a second family's key fits beside the first,
            # a second key for the same family does not.
            async with engine.begin() as conn:
                await conn.run_sync(_add_second_family_key)
            with pytest.raises(IntegrityError):
                async with engine.begin() as conn:
                    await conn.run_sync(_add_second_family_key)
        finally:
            await engine.dispose()
