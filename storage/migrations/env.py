"""Storage layer: Alembic's environment; runs on the connection migrate() hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.tables import metadata

target_metadata = metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "storage migrations run through storage.engine.migrate(engine) "
        "(or the bot's migrate command), which passes a connection in"
    )
if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations(connection)
