"""The watcher's timer is quiet: APScheduler's INFO lines are DEBUG lines (bot/infra/scheduler)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.infra.scheduler import Ticker


async def _tick_a_few_times(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    ticks = asyncio.Event()
    count = 0

    async def tick() -> None:
        nonlocal count
        count += 1
        if count >= 3:
            ticks.set()

    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        with caplog.at_level(level):
            ticker = Ticker(grace_seconds=1)
            ticker.every(0.05, "probe", tick)
            ticker.start()
            try:
                await asyncio.wait_for(ticks.wait(), 10)
                await asyncio.sleep(0.05)  # the last run's "executed successfully" line
            finally:
                await ticker.stop()
    finally:
        root.setLevel(before)
    return [f"{r.levelname} {r.name}" for r in caplog.records if r.name.startswith("apscheduler")]


async def test_at_info_the_scheduler_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    assert await _tick_a_few_times(caplog, logging.INFO) == []


async def test_at_debug_its_lines_are_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    lines = await _tick_a_few_times(caplog, logging.DEBUG)
    assert "DEBUG apscheduler.executors.default" in lines
    assert not [line for line in lines if line.startswith("INFO")]
