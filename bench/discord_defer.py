"""Benchmark: time from INTERACTION_CREATE to the defer callback, through the real client.

    python bench/discord_defer.py [--quick]

The real discord.py client (the bot's Discord adapter) against the local fake Discord gateway,
SQLite and the sandbox: 200 `/finetune list` commands (quick: 50) sent over the gateway one
every 5 ms, so later ones arrive while earlier ones are still in the store. Prints p50/p99/max
of the time until Discord would have received the defer; the last line is a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import FakeDiscord
from tests.world import world


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(quick: bool) -> None:
    count = 50 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        async with FakeDiscord() as fake, world(path) as w, running_adapter(fake, w, path):
            for _ in range(5):  # warm up: first queries, first webhook connections
                await fake.wait_followup(await fake.command("list"))
            ids = []
            for _ in range(count):
                ids.append(await fake.command("list", {"limit": 10}))
                await asyncio.sleep(0.005)
            defer_ms = []
            answer_ms = []
            for iid in ids:
                callback = await fake.wait_callback(iid, within=30)
                defer_ms.append((callback.at - fake.sent_at[iid]) * 1000)
                await fake.wait_followup(iid, within=30)
                follow = fake.requests_to(
                    "POST", rf"/webhooks/\d+/{fake.interactions[iid]['token']}"
                )
                answer_ms.append((follow[-1].at - fake.sent_at[iid]) * 1000)
    p50, p99 = statistics.median(defer_ms), percentile(defer_ms, 0.99)
    a50, a99 = statistics.median(answer_ms), percentile(answer_ms, 0.99)
    print(f"interactions: {count} (/finetune list, one every 5 ms)")
    print(f"defer callback:  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {max(defer_ms):.2f} ms")
    print(f"follow-up embed: p50 {a50:.2f} ms  p99 {a99:.2f} ms  max {max(answer_ms):.2f} ms")
    print(
        f"interactions={count} defer_p50_ms={p50:.2f} defer_p99_ms={p99:.2f} "
        f"followup_p50_ms={a50:.2f} followup_p99_ms={a99:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 interactions instead of 200")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    asyncio.run(main(parser.parse_args().quick))
