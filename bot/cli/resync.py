"""Command line: `finetune-bot resync`, one resync against the configured provider and database."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

from bot.app.config import Settings
from bot.app.runtime import build_runtime
from handlers.errors import ProviderError


async def run_resync(settings: Settings, *, write: Callable[[str], object] = print) -> int:
    """Watch again the tagged jobs the database lacks; 1 when the provider cannot be read."""
    async with AsyncExitStack() as stack:
        runtime = await build_runtime(settings, stack, notifiers={})
        try:
            report = await runtime.resyncer.resync()
        except ProviderError as error:
            write(f"resync failed: {error.message}")
            return 1
    write(f"resync: {report.summary()}")
    for job_id in report.recovered:
        write(f"  watching again: {job_id}")
    for job_id in report.settled:
        write(f"  interrupted start settled: {job_id}")
    for job_id in report.skipped:
        write(f"  skipped (no usable ftbot_team): {job_id}")
    return 0
