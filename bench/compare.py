"""Benchmark: a 200-example `compare` against the sandbox at concurrency 8 and 32.

    python bench/compare.py [--quick]

Trains a sandbox model on a generated chat file (the validation file is the test set), then
runs `/finetune compare` through `Service.handle` on SQLite. The provider is wrapped by an
instrument that counts chat calls in flight and sleeps a simulated latency inside each call
(the sandbox itself answers instantly), so the run shows the concurrency at work: examples
per second, and the peak in-flight count, which must never pass the configured concurrency.
The last line is one key=value summary. --quick: 50 examples and 2 ms calls.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.app.wiring import ServiceOptions, build_core
from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.chat import ChatMessage, ChatResult
from handlers.model import Actor, Platform
from handlers.playground import PlaygroundSettings
from handlers.replies import Tone
from handlers.scope import SharedProviderDirectory
from storage.engine import create_engine, migrate
from storage.store import SqlStore

MODEL = "gpt-4.1-mini-2025-04-14"
TIMING = SandboxTiming(validating_s=0.0, queued_s=0.0, step_s=0.001, max_steps=5, eval_every=5)


class NoCharts:
    def render(self, title: str, points: object) -> bytes:
        return b""


class InFlight(SandboxProvider):
    """The sandbox with a simulated network delay per chat call and an in-flight counter."""

    def __init__(self, clock: SystemClock, *, delay_s: float) -> None:
        super().__init__(clock, timing=TIMING)
        self.delay_s = delay_s
        self.in_flight = 0
        self.peak = 0
        self.chat_calls = 0

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.chat_calls += 1
        try:
            await asyncio.sleep(self.delay_s)
            return await super().chat(
                model, messages, max_tokens=max_tokens, store=store, metadata=metadata
            )
        finally:
            self.in_flight -= 1


def dataset(path: Path, n: int, offset: int = 0) -> Path:
    lines = [
        '{"messages": [{"role": "system", "content": "You are the support desk."}, '
        f'{{"role": "user", "content": "How do I fix problem {i}?"}}, '
        f'{{"role": "assistant", "content": "Open settings, then section {i % 17}."}}]}}'
        for i in range(offset, offset + n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run(tmp: Path, *, examples: int, concurrency: int, delay_s: float) -> dict[str, float]:
    clock = SystemClock()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / f'bench-{concurrency}.db'}")
    await migrate(engine)
    store = SqlStore(engine, clock=clock.now)
    provider = InFlight(clock, delay_s=delay_s)
    service = build_core(
        store=store,
        watch_store=store,
        providers=SharedProviderDirectory(provider),
        clock=clock,
        charts=NoCharts(),
        notifiers={},
        owner="bench",
        options=ServiceOptions(
            playground=PlaygroundSettings(concurrency=concurrency, max_examples=examples)
        ),
    ).service
    who = Actor(platform=Platform.CONSOLE, workspace_id="bench", channel_id="c", user_id="u")
    train = dataset(tmp / "train.jsonl", examples)
    valid = dataset(tmp / "valid.jsonl", examples, offset=examples // 2)
    for path, alias in ((train, "train"), (valid, "valid")):
        reply = await service.handle_text(f"/finetune upload {path} alias={alias}", who)
        assert reply.tone is Tone.SUCCESS, reply
    reply = await service.handle_text(
        f"/finetune start file=train validation=valid model={MODEL} epochs=1", who
    )
    assert reply.tone is Tone.SUCCESS, reply
    (job,) = await store.list_jobs(who.team_id)
    for _ in range(200):  # the simulated job takes a few milliseconds
        state = await provider.get_job(job.id)
        if state.terminal:
            break
        await asyncio.sleep(0.05)
    await service.handle_text(f"/finetune inspect {job.id}", who)  # records the model
    model = state.fine_tuned_model
    started = time.perf_counter()
    reply = await service.handle_text(f"/finetune compare {model} n={examples}", who)
    elapsed = time.perf_counter() - started
    assert reply.tone is Tone.SUCCESS, reply
    await engine.dispose()
    return {
        "examples": examples,
        "seconds": elapsed,
        "examples_per_s": examples / elapsed,
        "peak_in_flight": provider.peak,
        "chat_calls": provider.chat_calls,
    }


async def main(quick: bool) -> None:
    examples, delay_s = (50, 0.002) if quick else (200, 0.02)
    results = {}
    for concurrency in (8, 32):
        with tempfile.TemporaryDirectory() as tmp:
            got = await run(Path(tmp), examples=examples, concurrency=concurrency, delay_s=delay_s)
        results[concurrency] = got
        print(
            f"concurrency {concurrency:>2}: {got['examples']:.0f} examples, "
            f"{got['chat_calls']:.0f} chat calls in {got['seconds']:.2f} s = "
            f"{got['examples_per_s']:.1f} examples/s; peak in flight {got['peak_in_flight']:.0f}"
            f" (limit {concurrency})"
        )
    bounded = all(results[c]["peak_in_flight"] <= c for c in results)
    print(
        f"examples={examples} call_delay_ms={delay_s * 1000:g} "
        f"c8_ex_s={results[8]['examples_per_s']:.1f} c32_ex_s={results[32]['examples_per_s']:.1f} "
        f"c8_peak={results[8]['peak_in_flight']:.0f} c32_peak={results[32]['peak_in_flight']:.0f} "
        f"bounded={bounded}"
    )
    if not bounded:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 examples, 2 ms calls")
    asyncio.run(main(parser.parse_args().quick))
