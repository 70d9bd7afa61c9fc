"""Benchmark: from a typed `/finetune start` to its job card in the channel, Slack HTTP mode.

    python bench/start_card.py [--quick]

The real bot (`start_bot`, SQLite, the sandbox, the default sweep and dispatch ticks: 5 s and
1 s) behind its aiohttp server; a fake Slack Web API on 127.0.0.1. One file is uploaded, then
20 starts (quick: 5) are sent one after another as signed slash commands, each with its own
seed. For each, the time from sending the command to (a) the start's answer arriving at the
response URL and (b) the job card's `chat.postMessage` (with its Cancel button) arriving at the
fake Slack (before, the card waited for the job's first status change: 102 s for a sandbox
job in the issue's trial). Prints p50, p99 and max of each side by side, and the card's lag
behind the answer; the last line is a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Slack Web API lives in the test helpers

from bot.app.config import load_settings  # noqa: E402
from bot.app.runtime import start_bot  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers  # noqa: E402
from tests.world import chat_example  # noqa: E402

MODEL = "gpt-4.1-mini-2025-04-14"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def card_keys(slack: FakeSlack) -> list[str]:
    return [
        str(c.args["metadata"]["event_payload"]["dedupe_key"])
        for c in slack.of("chat.postMessage")
        if c.args.get("metadata") and ":card:" in str(c.args["metadata"])
    ]


async def main(quick: bool) -> None:
    n = 5 if quick else 20
    answers: list[float] = []
    cards: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlack() as slack, AsyncExitStack() as stack:
            settings = load_settings(
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
                provider="sandbox",
                slack_mode="http",
                slack_bot_token="xoxb-test",
                slack_signing_secret=SIGNING_SECRET,
                slack_api_base_url=slack.base_url,
                http_host="127.0.0.1",
                http_port=0,
            )
            bot = await start_bot(settings, stack)
            url = f"http://127.0.0.1:{bot.web.port}/slack/events"
            sweep_s = settings.sweep_seconds
            async with aiohttp.ClientSession() as http:

                async def send(text: str) -> None:
                    body = command_body(text, response_url=slack.response_url())
                    async with http.post(
                        url, data=body.encode(), headers=signed_headers(body)
                    ) as r:
                        assert r.status == 200, r.status

                data = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()
                slack.share_file(name="train.jsonl", content=data, user="U1", channel="C1")
                await send("upload alias=train")
                await slack.wait_for(
                    lambda: any(
                        "Uploaded train.jsonl" in str(c.args.get("text"))
                        for c in slack.of("chat.postMessage")
                    ),
                    within=60,
                    what="the upload",
                )
                for i in range(n):
                    seen_answers = len(slack.responses)
                    seen_cards = len(card_keys(slack))
                    started = time.perf_counter()
                    await send(f"start file=train model={MODEL} epochs=1 seed={i + 1}")
                    answered: float | None = None
                    while len(card_keys(slack)) <= seen_cards:
                        if answered is None and any(
                            "Started ftjob-" in str(r.get("text"))
                            for r in slack.responses[seen_answers:]
                        ):
                            answered = time.perf_counter()
                        if time.perf_counter() - started > 60:
                            raise SystemExit(f"start {i}: no card within 60 s")
                        await asyncio.sleep(0.002)
                    carded = time.perf_counter()
                    await slack.wait_for(
                        lambda seen=seen_answers: any(  # type: ignore[misc]
                            "Started ftjob-" in str(r.get("text")) for r in slack.responses[seen:]
                        ),
                        within=60,
                        what="the start's answer",
                    )
                    answered = answered or time.perf_counter()
                    answers.append((answered - started) * 1000)
                    cards.append((carded - started) * 1000)
    print(f"starts={n}, one after another, Slack HTTP mode, SQLite, sandbox; sweep {sweep_s} s")
    for name, samples in (("start answer", answers), ("job card", cards)):
        print(
            f"{name:12s} p50={statistics.median(samples):8.1f} ms  "
            f"p99={percentile(samples, 0.99):8.1f} ms  max={max(samples):8.1f} ms"
        )
    gaps = [c - a for a, c in zip(answers, cards, strict=True)]
    print(
        f"card after answer: p50={statistics.median(gaps):.1f} ms max={max(gaps):.1f} ms "
        f"(target: within 2,000 ms; before, the card waited for the first status change)"
    )
    print(
        f"starts={n} answer_p50_ms={statistics.median(answers):.1f} "
        f"answer_p99_ms={percentile(answers, 0.99):.1f} "
        f"card_p50_ms={statistics.median(cards):.1f} card_p99_ms={percentile(cards, 0.99):.1f} "
        f"card_after_answer_max_ms={max(gaps):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 starts instead of 20")
    asyncio.run(main(parser.parse_args().quick))
