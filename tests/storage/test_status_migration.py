"""Migration 0005: stored statuses become the core's, with the provider's word kept beside."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Connection, text

from storage.engine import alembic_config, create_engine, migrate

BEFORE = "0004"
"""The revision before 0005."""

ROWS = {"ftjob-v": "validating_files", "ftjob-r": "running", "ftjob-s": "succeeded"}


def _upgrade_to(sync_conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    command.upgrade(config, revision)


async def test_old_rows_get_the_core_status_and_keep_the_providers(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, BEFORE)
            await conn.execute(
                text(
                    "INSERT INTO teams (id, platform, workspace_id, name, "
                    "metric_interval_seconds, created_at) VALUES ('slack:T1', 'slack', "
                    "'T1', '', 60, '2026-01-01 00:00:00.000000')"
                )
            )
            for job_id, status in ROWS.items():
                await conn.execute(
                    text(
                        "INSERT INTO jobs (team_id, job_id, model, status, created_at, "
                        "training_file, method, hyperparameters, job_metadata) VALUES "
                        "('slack:T1', :id, 'm', :status, '2026-01-01 00:00:00.000000', "
                        "'file-1', 'supervised', '{}', '{}')"
                    ),
                    {"id": job_id, "status": status},
                )
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT job_id, status, provider_status FROM jobs"))
            ).all()
        assert {r[0]: (r[1], r[2]) for r in rows} == {
            "ftjob-v": ("validating", "validating_files"),
            "ftjob-r": ("running", "running"),
            "ftjob-s": ("succeeded", "succeeded"),
        }
    finally:
        await engine.dispose()
