"""Benchmark: Slack HTTP-mode ack latency for /finetune list, against a bare Bolt app.

    python bench/slack_ack.py [--quick]

200 concurrent signed `/finetune list` requests (quick: 50) to the bot's /slack/events, side by
side in the same run with a bare Bolt AsyncApp that only acks, both served by aiohttp on
127.0.0.1. Prints p50 and p99 for both and their ratio; the last line is a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Slack Web API lives in the test helpers

from bot.app.config import load_settings  # noqa: E402
from bot.app.runtime import start_bot  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import SIGNING_SECRET  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


LOAD_SCRIPT = r"""
import asyncio, json, sys, time
import aiohttp
sys.path.insert(0, sys.argv[4])
from tests.fakes.slack_requests import command_body, signed_headers

async def main(url, n, response_url):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one(i):
            body = command_body("list", user=f"U{i}", response_url=response_url)
            started = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=signed_headers(body)) as r:
                await r.read()
                assert r.status == 200, r.status
            return (time.perf_counter() - started) * 1000
        await one(-1)
        print(json.dumps(await asyncio.gather(*(one(i) for i in range(n)))))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


async def fire(url: str, n: int, response_url: str) -> list[float]:
    """Load from a second process, so the bot's event loop is not also the client's."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOAD_SCRIPT,
        url,
        str(n),
        response_url,
        str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the load process failed ({process.returncode})")
    samples: list[float] = json.loads(out)
    return samples


async def bare_app(slack: FakeSlack, stack: AsyncExitStack) -> str:
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token="xoxb-test", base_url=slack.base_url),
    )

    @app.command("/finetune")
    async def ack_only(ack):  # type: ignore[no-untyped-def]
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}/slack/events"


async def main(quick: bool) -> None:
    n = 50 if quick else 200
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
            bot_url = f"http://127.0.0.1:{bot.web.port}/slack/events"
            bare_url = await bare_app(slack, stack)
            bare = await fire(bare_url, n, slack.response_url())
            ours = await fire(bot_url, n, slack.response_url())
            # The bot's answers come after its acks; wait for them so the run ends cleanly.
            await slack.wait_for(
                lambda: len(slack.responses) >= n + 1, within=60, what="every list answer"
            )
    rows = {"bare": bare, "bot": ours}
    print(f"requests={n} concurrent, signed /finetune list, HTTP mode on 127.0.0.1")
    for name, samples in rows.items():
        print(
            f"{name:5s} p50={statistics.median(samples):7.2f} ms  "
            f"p99={percentile(samples, 0.99):7.2f} ms  max={max(samples):7.2f} ms"
        )
    ratio = percentile(ours, 0.99) / percentile(bare, 0.99)
    print(f"p99 ratio bot/bare = {ratio:.2f} (target <= 1.5, and bot p99 < 100 ms)")
    print(
        f"requests={n} bare_p50_ms={statistics.median(bare):.2f} "
        f"bare_p99_ms={percentile(bare, 0.99):.2f} bot_p50_ms={statistics.median(ours):.2f} "
        f"bot_p99_ms={percentile(ours, 0.99):.2f} p99_ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 requests instead of 200")
    asyncio.run(main(parser.parse_args().quick))
