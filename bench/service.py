"""Benchmark: `handle()` latency of `list` and `inspect` with many jobs across many teams.

    python bench/service.py [--quick]

10,000 jobs across 100 teams (quick: 1,000 across 10) on SQLite and the sandbox provider.
Prints p50/p99 for each command and the provider calls it made; the last line is a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.app.wiring import build_core
from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import DEFAULT_TIMING
from handlers.model import Actor, Job, JobSpec, Platform, Team
from handlers.requests import InspectRequest, ListRequest
from handlers.scope import SharedProviderDirectory
from storage.engine import create_engine, migrate
from storage.store import SqlStore
from tests.fakes.faulty_provider import FaultyProvider


class NoCharts:
    def render(self, title: str, points: object) -> bytes:
        return b""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(quick: bool) -> None:
    teams, jobs_per_team, samples = (10, 100, 200) if quick else (100, 100, 1000)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await migrate(engine)
        store = SqlStore(engine, clock=clock.now)
        # The test wrapper counts the provider calls each command makes.
        provider = FaultyProvider(SandboxProvider(clock, timing=DEFAULT_TIMING))
        service = build_core(
            store=store,
            watch_store=store,
            providers=SharedProviderDirectory(provider),
            clock=clock,
            charts=NoCharts(),
            notifiers={},
            owner="bench",
        ).service
        data = Path(tmp) / "train.jsonl"
        data.write_text(
            "\n".join(
                '{"messages": [{"role": "user", "content": "q"}, '
                '{"role": "assistant", "content": "a"}]}'
                for _ in range(10)
            )
            + "\n"
        )
        uploaded = await provider.upload_file(data, filename="train.jsonl")
        started = time.perf_counter()
        actors = []
        job_ids: list[tuple[Actor, str]] = []
        for t in range(teams):
            actor = Actor(
                platform=Platform.SLACK, workspace_id=f"T{t:04d}", channel_id="C1", user_id="U1"
            )
            actors.append(actor)
            await store.ensure_team(
                Team(id=actor.team_id, platform=actor.platform, workspace_id=actor.workspace_id)
            )
            for _ in range(jobs_per_team):
                state = await provider.create_job(
                    JobSpec(model="gpt-4.1-mini-2025-04-14", training_file=uploaded.id),
                    idempotency_key=f"{t}-{len(job_ids)}",
                )
                await store.add_job(
                    Job(
                        team_id=actor.team_id,
                        state=state,
                        channel=actor.channel,
                        requester_id="U1",
                    ),
                    next_poll_at=clock.now(),
                )
                job_ids.append((actor, state.id))
        load_s = time.perf_counter() - started
        results: dict[str, tuple[float, float, int]] = {}
        for name in ("list", "inspect"):
            provider.calls.clear()
            timings = []
            for i in range(samples):
                actor, job_id = job_ids[(i * 7919) % len(job_ids)]
                request = (
                    ListRequest(limit=10) if name == "list" else InspectRequest(job_id=job_id)
                )
                t0 = time.perf_counter()
                reply = await service.handle(request, actor)
                timings.append((time.perf_counter() - t0) * 1000)
                assert reply.tone.value != "error", reply
            calls = sum(provider.calls.values())
            results[name] = (statistics.median(timings), percentile(timings, 0.99), calls)
        await engine.dispose()
    print(
        f"jobs={len(job_ids)} teams={teams} samples_per_command={samples} "
        f"load_seconds={load_s:.1f}"
    )
    for name, (p50, p99, calls) in results.items():
        print(
            f"{name:8s} p50={p50:.2f} ms  p99={p99:.2f} ms  provider_calls={calls} "
            f"({calls / samples:.1f} per command)"
        )
    summary = " ".join(
        f"{name}_p50_ms={p50:.2f} {name}_p99_ms={p99:.2f} {name}_provider_calls={calls}"
        for name, (p50, p99, calls) in results.items()
    )
    print(f"jobs={len(job_ids)} teams={teams} {summary}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs instead of 10,000")
    asyncio.run(main(parser.parse_args().quick))
