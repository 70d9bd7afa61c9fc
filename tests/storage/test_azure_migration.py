"""Migration 0008: a team's Azure OpenAI key, filed under the OpenAI family before Azure became
its own, moves to the "azure" family with every row made with it; the deployment's rows move
only when the deployment runs Azure. Rows are written at 0007 (the previous head), as the bot
wrote them then."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text

from storage import crypto
from storage.engine import alembic_config, create_engine, migrate
from storage.store import SqlStore
from tests.storage.test_provider_migration import BACKENDS, _empty_database

BEFORE = "0007"
AT = "'2026-01-01 00:00:00'"
AZURE_KEY = "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


def _to(sync_conn: Connection, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    (command.downgrade if down else command.upgrade)(config, revision)


def _rows_at_0007(sync_conn: Connection) -> None:
    """T1 set up Azure (its key under "openai"), T2 OpenAI, T3 no key (the deployment's
    account): each has a file, a job, a model, an open start, and T1 a backoff."""
    run = sync_conn.execute
    accounts = {"T1": "team", "T2": "team", "T3": "deployment"}
    for team, account in accounts.items():
        default = "'openai'" if account == "team" else "NULL"
        run(
            text(
                "INSERT INTO teams (id, platform, workspace_id, name, metric_interval_seconds, "
                f"created_at, default_provider) VALUES ('slack:{team}', 'slack', '{team}', '', "
                f"60, {AT}, {default})"
            )
        )
        run(
            text(
                "INSERT INTO files (team_id, alias, provider_file_id, filename, sha256, format, "
                f"examples, bytes, created_at, provider, account) VALUES ('slack:{team}', "
                f"'train', 'file-{team}', 'train.jsonl', 'ab', 'chat', 3, 10, {AT}, 'openai', "
                f"'{account}')"
            )
        )
        run(
            text(
                "INSERT INTO jobs (team_id, job_id, model, status, created_at, training_file, "
                "method, hyperparameters, job_metadata, provider, account) VALUES "
                f"('slack:{team}', 'ftjob-{team}', 'gpt-4o-mini-2024-07-18', 'running', {AT}, "
                f"'file-{team}', 'supervised', '{{}}', '{{}}', 'openai', '{account}')"
            )
        )
        run(
            text(
                "INSERT INTO models (team_id, name, base_model, job_id, created_at, provider, "
                f"account) VALUES ('slack:{team}', 'm-{team}', 'gpt-4o-mini-2024-07-18', "
                f"'ftjob-{team}', {AT}, 'openai', '{account}')"
            )
        )
        run(
            text(
                "INSERT INTO start_intents (key, team_id, requester_id, channel_platform, "
                "channel_workspace_id, channel_id, fingerprint, request, account, created_at, "
                f"provider, provider_account) VALUES ('req-{team}', 'slack:{team}', 'U1', "
                f"'slack', '{team}', 'C1', 'f', '{{}}', 'x', {AT}, 'openai', '{account}')"
            )
        )
    run(
        text(
            "INSERT INTO provider_backoffs (team_id, provider, until) VALUES "
            f"('slack:T1', 'openai', {AT})"
        )
    )
    ring = crypto.require_key_ring()
    for team, kind, key, endpoint in (
        ("T1", "azure", AZURE_KEY, "'https://acme.openai.azure.com'"),
        ("T2", "openai", "sk-proj-" + "Ab3d" * 10, "NULL"),
    ):
        secret = ring.encrypt(f"slack:{team}", key)
        run(
            text(
                "INSERT INTO team_credentials (team_id, family, provider, endpoint, api_version, "
                "secret, fingerprint, set_by, updated_at) VALUES "
                f"('slack:{team}', 'openai', '{kind}', {endpoint}, '2024-10-21', :secret, 'fp', "
                f"'UA', {AT})"
            ),
            {"secret": secret},
        )


def _families(sync_conn: Connection) -> dict[str, set[tuple[str, str]]]:
    run = sync_conn.execute
    found: dict[str, set[tuple[str, str]]] = {}
    for table in ("files", "jobs", "models", "start_intents", "provider_backoffs"):
        found[table] = {
            (str(r[0]), str(r[1])) for r in run(text(f"SELECT team_id, provider FROM {table}"))
        }
    found["team_credentials"] = {
        (str(r[0]), str(r[1])) for r in run(text("SELECT team_id, family FROM team_credentials"))
    }
    found["teams"] = {
        (str(r[0]), str(r[1])) for r in run(text("SELECT id, default_provider FROM teams"))
    }
    return found


@pytest.mark.parametrize("deployment", [None, "openai", "azure"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_azure_keys_and_their_rows_move_to_the_azure_family(
    backend: str, deployment: str | None, tmp_path: Path
) -> None:
    with _empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_to, BEFORE)
                await conn.run_sync(_rows_at_0007)
            await migrate(engine, deployment_family=deployment)
            async with engine.connect() as conn:
                got = await conn.run_sync(_families)
            t3 = "azure" if deployment == "azure" else "openai"
            rows = {("slack:T1", "azure"), ("slack:T2", "openai"), ("slack:T3", t3)}
            for table in ("files", "jobs", "models", "start_intents"):
                assert got[table] == rows, table
            assert got["provider_backoffs"] == {("slack:T1", "azure")}
            assert got["team_credentials"] == {("slack:T1", "azure"), ("slack:T2", "openai")}
            assert got["teams"] == {
                ("slack:T1", "azure"),
                ("slack:T2", "openai"),
                ("slack:T3", "None"),
            }
            # The store reads the moved key as the team's Azure key, still decryptable.
            store = SqlStore(engine)
            moved = await store.get_credentials("slack:T1", "azure")
            assert moved is not None
            assert (moved.family, moved.provider) == ("azure", "azure")
            assert moved.api_key.reveal() == AZURE_KEY
            assert moved.api_version == "2024-10-21"
            assert await store.get_credentials("slack:T1", "openai") is None
            assert (await store.get_credentials("slack:T1")) == moved  # its default

            # And back: the downgrade files the key under "openai" again, with its rows.
            async with engine.begin() as conn:
                config_family = deployment

                def down(sync_conn: Connection) -> None:
                    config = alembic_config()
                    config.attributes["connection"] = sync_conn
                    config.attributes["deployment_family"] = config_family
                    command.downgrade(config, BEFORE)

                await conn.run_sync(down)
            async with engine.connect() as conn:
                back = await conn.run_sync(_families)
            assert back["team_credentials"] == {("slack:T1", "openai"), ("slack:T2", "openai")}
            for table in ("files", "jobs", "models", "start_intents", "provider_backoffs"):
                assert all(family == "openai" for _, family in back[table]), table
        finally:
            await engine.dispose()
