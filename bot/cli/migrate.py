"""Command line: `finetune-bot migrate`, the database brought to the current schema, then exit."""

from __future__ import annotations

from bot.app.config import Settings
from bot.app.startup import database_problem
from bot.providers.registry import family
from handlers.errors import ConfigError
from storage.engine import create_engine, migrate


async def run_migrate(settings: Settings) -> int:
    """Apply every pending migration; a database that cannot be reached is one ConfigError."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine, deployment_family=family(settings.provider).name)
    except Exception as error:
        problem = database_problem(settings.database_url, error)
        if problem is None:
            raise
        raise ConfigError(problem) from None
    finally:
        await engine.dispose()
    print("database is up to date")
    return 0
