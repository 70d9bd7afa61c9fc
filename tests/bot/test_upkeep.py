"""Watcher upkeep over a real runtime: housekeeping, resync, watch metrics, webhook wake-ups."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

from bot.app.config import Settings
from bot.app.runtime import Runtime, build_runtime, webhook_waker
from bot.cli.resync import run_resync
from bot.infra.housekeeping import Purged
from bot.infra.watch_metrics import record_dispatch
from bot.providers.sandbox.provider import SandboxProvider
from handlers.model import Platform, Role
from handlers.parse import parse
from handlers.ports import FineTuning
from handlers.replies import plain
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider
from tests.scrape import sample
from tests.world import TIMING, RecordingNotifier, actor, as_shared, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        provider="sandbox",
        sandbox_state=tmp_path / "sandbox.json",
        default_role=Role.OPERATOR,
        **extra,  # type: ignore[arg-type]
    )


async def _runtime(
    stack: AsyncExitStack,
    tmp_path: Path,
    clock: ManualClock,
    notifier: RecordingNotifier,
    provider: FineTuning | None = None,
) -> Runtime:
    provider = provider or SandboxProvider(
        clock, state_path=tmp_path / "sandbox.json", timing=TIMING
    )
    return await build_runtime(
        _settings(tmp_path),
        stack,
        notifiers={Platform.SLACK: notifier},
        clock=clock,
        provider=provider,
        pace={Platform.SLACK: 0.0},
    )


async def _start_job(runtime: Runtime, tmp_path: Path) -> str:
    person = actor()
    path = write_dataset(tmp_path / "train.jsonl")
    await runtime.service.handle(as_shared(parse(f"upload {path} alias=train")), person)
    reply = await runtime.service.handle_text(f"start file=train model={MODEL} epochs=1", person)
    assert plain(reply.title).startswith("Started"), reply
    return plain(reply.title).removeprefix("Started ")


async def test_metrics_show_watched_jobs_and_notification_latency(tmp_path: Path) -> None:
    clock, notifier = ManualClock(), RecordingNotifier()
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, clock, notifier)
        await _start_job(runtime, tmp_path)
        text = await runtime.metrics.render()
        assert sample(text, "finetune_bot_jobs_watched", status="validating_files") == 1
        clock.advance(15)  # queued now: news, so the sweep plans the card
        await runtime.watcher.sweep()
        clock.advance(30)  # the card waited 30 s in the outbox
        stats = await runtime.dispatcher.tick()
        record_dispatch(runtime.metrics, stats)
        assert stats.latencies
        assert set(stats.latencies) == {30.0}
        text = await runtime.metrics.render()
        n = len(stats.latencies)
        assert sample(text, "finetune_bot_notification_latency_seconds_bucket", le="30.0") == n
        assert sample(text, "finetune_bot_notification_latency_seconds_bucket", le="20.0") == 0


async def test_housekeeping_deletes_old_finished_rows(tmp_path: Path) -> None:
    clock, notifier = ManualClock(), RecordingNotifier()
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, clock, notifier)
        await _start_job(runtime, tmp_path)
        for _ in range(30):
            clock.advance(5)
            await runtime.watcher.sweep()
            while (await runtime.dispatcher.tick()).sent:
                pass
        assert notifier.posts
        assert await runtime.store.webhook_seen("wh_1", clock.now())
        assert await runtime.housekeeping() == Purged(outbox=0, webhook_inbox=0)
        clock.advance(timedelta(days=8).total_seconds())
        purged = await runtime.housekeeping()
        assert purged.outbox > 0
        assert purged.webhook_inbox == 1
        assert await runtime.store.outbox_stats(now=clock.now()) == (0, 0.0)
        text = await runtime.metrics.render()
        deleted = sample(text, "finetune_bot_housekeeping_deleted_total", table="outbox")
        assert deleted == purged.outbox
        assert sample(text, "finetune_bot_housekeeping_deleted_total", table="webhook_inbox") == 1


async def test_resync_command_recovers_a_lost_database(tmp_path: Path) -> None:
    clock = ManualClock()
    provider = FaultyProvider(
        SandboxProvider(clock, state_path=tmp_path / "sandbox.json", timing=TIMING)
    )
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, clock, RecordingNotifier(), provider)
        job_id = await _start_job(runtime, tmp_path)
    listed = provider.calls["list_jobs"]
    (tmp_path / "bot.db").unlink()  # the database is lost; the provider still has the job
    lines: list[str] = []
    assert await run_resync(_settings(tmp_path), write=lines.append) == 0
    assert lines[0].startswith("resync: scanned 1 tagged job: 0 already known, 1 recovered")
    assert lines[1] == f"  watching again: {job_id}"
    lines.clear()
    assert await run_resync(_settings(tmp_path), write=lines.append) == 0
    assert "1 already known, 0 recovered" in lines[0]
    assert provider.calls["list_jobs"] == listed  # the command used its own provider instance


async def test_webhook_wake_runs_one_sweep_and_dispatch(tmp_path: Path) -> None:
    clock, notifier = ManualClock(), RecordingNotifier()
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, clock, notifier)
        job_id = await _start_job(runtime, tmp_path)
        clock.advance(15)
        waker = webhook_waker(runtime)
        waker()
        waker()  # asked again before the round began: that round serves both
        await waker.wait()
        assert any(p.dedupe_key.startswith(f"{job_id}:card:") for p in notifier.posts)
        text = await runtime.metrics.render()
        assert sample(text, "finetune_bot_sweeps_total") == 1


async def test_metrics_show_a_sweeps_round_trips_polling_latency_and_leases(
    tmp_path: Path,
) -> None:
    clock, notifier = ManualClock(), RecordingNotifier()
    async with AsyncExitStack() as stack:
        runtime = await _runtime(stack, tmp_path, clock, notifier)
        await _start_job(runtime, tmp_path)
        claims = await runtime.store.claim_due_jobs(
            owner="replica-b", now=clock.now(), lease_seconds=30, limit=10
        )
        assert len(claims) == 1
        text = await runtime.metrics.render()
        assert sample(text, "finetune_bot_replica_leases", replica="replica-b") == 1
        await runtime.store.release_claim(claims[0], owner="replica-b", next_poll_at=clock.now())
        clock.advance(15)  # the job was due 15 s ago
        waker = webhook_waker(runtime)
        waker()
        await waker.wait()
        text = await runtime.metrics.render()
        assert sample(text, "finetune_bot_replica_leases", replica="replica-b") is None
        assert sample(text, "finetune_bot_sweep_round_trips_count") == 1
        trips = sample(text, "finetune_bot_sweep_round_trips_sum")
        # The claim, the team's reads and the one commit: a few statements, and only the
        # sweep's (the dispatch after it and the scrape's reads are not counted).
        assert trips is not None
        assert 3 <= trips <= 20, trips
        assert sample(text, "finetune_bot_poll_delay_seconds_count") == 1
        assert sample(text, "finetune_bot_poll_delay_seconds_sum") == 15
