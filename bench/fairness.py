"""Benchmark: one team's long work against another team's `/finetune help`, limiter off and on.

    python bench/fairness.py [--quick]

The real bot (`start_bot`: Bolt app in HTTP mode on its aiohttp server, SQLite, the sandbox)
against the fake Slack Web API, all over loopback. Team A posts 10 signed `compare` commands
(two base models on a 500-example test set; quick: 100) and 8 signed `upload` commands of a
generated JSONL file each of its users shared (32 MB; quick: 8 MB; the bot downloads and
validates every copy; the file's last line is broken on purpose, so each ends in the
validation report and nothing reaches the provider). Meanwhile team B posts `/finetune help`
every 50 ms from a second process (so the bot's event loop is not also the client's). B's
latency runs from the signed POST to the answer reaching the fake's response URL.

Two phases in one run: "off" sets the long-task limits to their maximum (every task of A
runs at once), "on" uses the defaults (2 per team, 16 in all): A's other tasks are refused at
once, and A asks again 2 s after each refusal, like a user would, until all 18 have run. The
last line is one key=value summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Slack Web API lives in the test helpers

from bot.config import load_settings  # noqa: E402
from bot.runtime import start_bot  # noqa: E402
from handlers.model import Actor, Platform  # noqa: E402
from handlers.replies import plain  # noqa: E402
from handlers.requests import UploadRequest  # noqa: E402
from handlers.sources import PrivateFile  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import SIGNING_SECRET, command_body, signed_headers  # noqa: E402

MODEL_A = "gpt-4.1-mini-2025-04-14"
MODEL_B = "gpt-4o-mini-2024-07-18"
BUSY = ("long task(s) of this team are running", "long tasks for all teams")
COMPARES = 10
UPLOADS = 8
RETRY_S = 2.0

LOAD_SCRIPT = r"""
import asyncio, json, os, sys, time
import aiohttp
sys.path.insert(0, sys.argv[4])
from tests.fakes.slack_requests import command_body, signed_headers

async def main(url, base, stop, every):
    sent = {}
    async with aiohttp.ClientSession() as http:
        async def one(n):
            name = f"help{n}"
            body = command_body("help", team="TB", user="UB", response_url=f"{base}/{name}",
                                trigger_id=f"help-{n}")
            sent[name] = time.time()
            async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                await r.read()
        tasks, n = [], 0
        while not os.path.exists(stop):
            tasks.append(asyncio.ensure_future(one(n)))
            n += 1
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)
    print(json.dumps(sent))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[5])))
"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def chat_line(i: int) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You are the support desk of a bicycle shop."},
                {"role": "user", "content": f"My order {i} arrived with a bent wheel; what now?"},
                {
                    "role": "assistant",
                    "content": f"Sorry about order {i}: reply with a photo and we send a new "
                    f"wheel within {i % 5 + 2} days.",
                },
            ]
        }
    )


def big_file(path: Path, megabytes: int) -> bytes:
    """A valid chat JSONL of about `megabytes` MB whose last line is broken."""
    target = megabytes << 20
    chunks, size, i = [], 0, 0
    while size < target:
        block = "\n".join(chat_line(n) for n in range(i, i + 1000)) + "\n"
        chunks.append(block)
        size += len(block)
        i += 1000
    chunks.append('{"messages": [{"role": "user", "content": "no answer"\n')
    content = "".join(chunks).encode()
    path.write_bytes(content)
    return content


class TimedSlack(FakeSlack):
    """The fake Slack Web API, noting when each answer reaches a response URL."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}

    async def _response(self, request: web.Request) -> web.Response:
        self.arrived.setdefault(request.match_info["name"], time.time())
        return await super()._response(request)


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    name: str
    help_ms: list[float]
    helps_sent: int
    a_refused: int
    a_seconds: float


async def phase(
    tmp: Path, name: str, *, team_limit: int, total: int, examples: int, content: bytes
) -> Phase:
    async with TimedSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp / f'{name}.db'}",
            provider="sandbox",
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            default_role="operator",
            compare_max_examples=max(examples, 500),
            team_long_tasks=team_limit,
            long_tasks=total,
        )
        bot = await start_bot(settings, stack)
        url = f"http://127.0.0.1:{bot.web.port}/slack/events"
        # Setup, not measured: team A's test set, handed to the core as an adapter hands a
        # shared file it downloaded.
        test_set = tmp / "test.jsonl"
        test_set.write_text("\n".join(chat_line(i) for i in range(examples)) + "\n")
        a = Actor(platform=Platform.SLACK, workspace_id="TA", channel_id="C1", user_id="UA0")
        setup = await bot.runtime.service.handle(
            UploadRequest(file=PrivateFile(path=test_set, name="test.jsonl"), alias="test"), a
        )
        assert plain(setup.title).startswith("Uploaded"), setup.title
        shares = {
            f"UA{i}": slack.share_file(
                name="big.jsonl", content=content, user=f"UA{i}", channel="C1"
            ).share_ts
            for i in range(UPLOADS)
        }
        stop = tmp / f"{name}.stop"
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOAD_SCRIPT,
            url,
            slack.response_url("x").rsplit("/", 1)[0],
            str(stop),
            str(ROOT),
            "0.05",
            stdout=asyncio.subprocess.PIPE,
        )
        async with aiohttp.ClientSession() as http:

            async def post(text: str, user: str, n: str) -> None:
                body = command_body(
                    text,
                    team="TA",
                    user=user,
                    response_url=slack.response_url(n),
                    trigger_id=f"a-{n}",
                )
                async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                    assert r.status == 200, r.status

            await asyncio.sleep(1.0)  # B's stream is running before A starts
            refused = 0

            def text_of(n: str) -> str:
                return next((str(r.get("text")) for r in slack.responses if r["name"] == n), "")

            def thread_posts(ts: str) -> int:
                return sum(
                    1 for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == ts
                )

            def answered(n: str, ts: str | None, before: int) -> bool:
                return n in slack.arrived or (ts is not None and thread_posts(ts) > before)

            async def until_done(text: str, user: str, key: str, ts: str | None) -> None:
                """Like a user: a refused task is asked again a moment later, until it ran."""
                nonlocal refused
                for attempt in range(10_000):
                    n = f"{key}-{attempt}"
                    before = thread_posts(ts) if ts else 0
                    await post(text, user, n)
                    await wait(partial(answered, n, ts, before), within=600)
                    if not any(b in text_of(n) for b in BUSY):
                        return
                    refused += 1
                    await asyncio.sleep(RETRY_S)

            started = time.time()
            work: list[Awaitable[None]] = [
                until_done(
                    f"compare {MODEL_A} {MODEL_B} file=test n={examples}",
                    f"UA{i % 8}",
                    f"c{i}",
                    None,
                )
                for i in range(COMPARES)
            ]
            work += [until_done("upload big.jsonl", u, f"u{u}", ts) for u, ts in shares.items()]
            await asyncio.gather(*work)
            a_seconds = time.time() - started
        stop.touch()
        out, _ = await load.communicate()
        sent: dict[str, float] = json.loads(out)
        await wait(lambda: all(n in slack.arrived for n in sent), within=120)
        help_ms = [(slack.arrived[n] - t) * 1000 for n, t in sent.items()]
        return Phase(
            name=name,
            help_ms=help_ms,
            helps_sent=len(sent),
            a_refused=refused,
            a_seconds=a_seconds,
        )


async def wait(predicate: Callable[[], bool], *, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("the bench timed out waiting for answers")
        await asyncio.sleep(0.05)


async def main(quick: bool) -> None:
    examples, megabytes = (100, 8) if quick else (500, 32)
    results: dict[str, Phase] = {}
    with tempfile.TemporaryDirectory() as tmp:
        content = big_file(Path(tmp) / "big.jsonl", megabytes)
        limits: dict[str, dict[str, Any]] = {
            "off": {"team_limit": 1000, "total": 10_000},
            "on": {"team_limit": 2, "total": 16},
        }
        for name, limit in limits.items():
            results[name] = await phase(
                Path(tmp), name, examples=examples, content=content, **limit
            )
    print(
        f"team A: {COMPARES} compare (n={examples}) + {UPLOADS} upload of a "
        f"{len(content) / 1e6:.0f} MB file; team B: /finetune help every 50 ms"
    )
    print("limiter  B help p50   B help p99   B help max  helps  A refusals  A all done")
    for r in results.values():
        print(
            f"{r.name:7s}  {statistics.median(r.help_ms):8.1f} ms  "
            f"{percentile(r.help_ms, 0.99):8.1f} ms  {max(r.help_ms):8.1f} ms  "
            f"{r.helps_sent:5d}  {r.a_refused:9d}  {r.a_seconds:8.1f} s"
        )
    off, on = results["off"], results["on"]
    print(
        f"file_mb={len(content) / 1e6:.0f} examples={examples} "
        f"off_help_p50_ms={statistics.median(off.help_ms):.1f} "
        f"off_help_p99_ms={percentile(off.help_ms, 0.99):.1f} "
        f"off_a_s={off.a_seconds:.1f} help_p50_ms={statistics.median(on.help_ms):.1f} "
        f"help_p99_ms={percentile(on.help_ms, 0.99):.1f} "
        f"a_refused={on.a_refused} a_s={on.a_seconds:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=100 and an 8 MB file")
    asyncio.run(main(parser.parse_args().quick))
