"""The OpenAI webhook route: Standard Webhooks signatures, replays, a faster completion."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.infra.metrics import Metrics
from bot.providers.openai.webhooks import PATH, openai_webhook_routes
from handlers.scope import SharedProviderDirectory
from handlers.watch import Watcher, WatchSettings
from tests.world import World, actor, world, write_dataset

SECRET = "whsec_" + base64.b64encode(b"a very secret key for tests!").decode()
MODEL = "gpt-4.1-mini-2025-04-14"


def sign(body: bytes, *, webhook_id: str, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    """Headers the Standard Webhooks way: HMAC-SHA256 of `id.timestamp.body`, base64, `v1,`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.{body.decode()}".encode()
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{digest}",
        "content-type": "application/json",
    }


def event(job_id: str, kind: str = "succeeded") -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "created_at": int(time.time()),
            "type": f"fine_tuning.job.{kind}",
            "data": {"id": job_id},
        }
    ).encode()


@asynccontextmanager
async def serving(w: World, metrics: Metrics, woken: list[int]) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(
        openai_webhook_routes(
            secret=SECRET,
            store=w.store,
            clock=w.clock,
            metrics=metrics,
            wake=lambda: woken.append(1),
        )
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}{PATH}"
    finally:
        await runner.cleanup()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def _job(w: World, tmp_path: Path) -> str:
    person = actor()
    path = write_dataset(tmp_path / "train.jsonl")
    await w.run(f"upload {path} alias=train", person)
    await w.run(f"start file=train model={MODEL} epochs=1", person)
    return (await w.store.list_jobs(person.team_id))[0].id


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def _push_poll_later(w: World) -> None:
    """Poll every job now once and plan the next poll far away."""
    for claim in await w.store.claim_due_jobs(
        owner="w", now=w.clock.now(), lease_seconds=60, limit=10
    ):
        await w.store.release_claim(
            claim, owner="w", next_poll_at=w.clock.now() + timedelta(hours=1)
        )


async def test_good_signature_marks_the_job_due(w: World, tmp_path: Path) -> None:
    job_id = await _job(w, tmp_path)
    await _push_poll_later(w)
    metrics = Metrics()
    woken: list[int] = []
    async with serving(w, metrics, woken) as url:
        body = event(job_id)
        status, answer = await _post(
            url, body, sign(body, webhook_id="wh_1", timestamp=int(time.time()))
        )
    assert (status, answer) == (200, {"status": "accepted"})
    assert woken == [1]
    due = await w.store.claim_due_jobs(owner="x", now=w.clock.now(), lease_seconds=5, limit=5)
    assert [c.job.id for c in due] == [job_id]
    assert 'outcome="accepted"' in await metrics.render()


@pytest.mark.parametrize(
    ("case", "expected"),
    [("forged", 401), ("wrong secret", 401), ("stale", 400), ("future", 400), ("unsigned", 400)],
)
async def test_bad_deliveries_are_refused_with_no_effect(
    w: World, tmp_path: Path, case: str, expected: int
) -> None:
    job_id = await _job(w, tmp_path)
    await _push_poll_later(w)
    body = event(job_id)
    now = int(time.time())
    headers = sign(body, webhook_id="wh_bad", timestamp=now)
    match case:
        case "forged":
            body = event(job_id, "failed")  # signed one body, sent another
        case "wrong secret":
            other = "whsec_" + base64.b64encode(b"someone else's key").decode()
            headers = sign(body, webhook_id="wh_bad", timestamp=now, secret=other)
        case "stale":
            headers = sign(body, webhook_id="wh_bad", timestamp=now - 301)
        case "future":
            headers = sign(body, webhook_id="wh_bad", timestamp=now + 400)
        case "unsigned":
            headers = {"content-type": "application/json"}
    metrics = Metrics()
    woken: list[int] = []
    async with serving(w, metrics, woken) as url:
        status, _ = await _post(url, body, headers)
    assert status == expected
    assert woken == []
    assert (
        await w.store.claim_due_jobs(owner="x", now=w.clock.now(), lease_seconds=5, limit=5) == []
    )
    assert await w.store.webhook_seen("wh_bad", w.clock.now()), "a refused id is not remembered"


async def test_a_replayed_id_is_acknowledged_once(w: World, tmp_path: Path) -> None:
    job_id = await _job(w, tmp_path)
    await _push_poll_later(w)
    body = event(job_id)
    headers = sign(body, webhook_id="wh_replay", timestamp=int(time.time()))
    metrics = Metrics()
    woken: list[int] = []
    async with serving(w, metrics, woken) as url:
        assert await _post(url, body, headers) == (200, {"status": "accepted"})
        await _push_poll_later(w)  # the sweep took the job
        assert await _post(url, body, headers) == (200, {"status": "duplicate"})
    assert woken == [1]
    assert (
        await w.store.claim_due_jobs(owner="x", now=w.clock.now(), lease_seconds=5, limit=5) == []
    )


async def test_events_of_other_kinds_and_unknown_jobs_are_acknowledged(
    w: World, tmp_path: Path
) -> None:
    metrics = Metrics()
    woken: list[int] = []
    async with serving(w, metrics, woken) as url:
        batch = json.dumps({"type": "batch.completed", "data": {"id": "batch_1"}}).encode()
        now = int(time.time())
        assert await _post(url, batch, sign(batch, webhook_id="wh_a", timestamp=now)) == (
            200,
            {"status": "ignored"},
        )
        other = event("ftjob-not-ours")
        assert await _post(url, other, sign(other, webhook_id="wh_b", timestamp=now)) == (
            200,
            {"status": "unknown job"},
        )
    assert woken == []


async def test_a_webhook_brings_the_completion_notice_before_the_next_poll(
    w: World, tmp_path: Path
) -> None:
    slow = Watcher(
        store=w.store,
        watch_store=w.store,
        providers=SharedProviderDirectory(w.provider),
        clock=w.clock,
        charts=w.charts,
        owner="slow",
        settings=WatchSettings(
            slow_poll_seconds=3600,
            slow_poll_max_seconds=3600,
            running_poll_seconds=3600,
            running_poll_max_seconds=3600,
            jitter=0.0,
        ),
    )
    job_id = await _job(w, tmp_path)
    await slow.sweep()  # first poll: validating; the next one is an hour away
    w.clock.advance(120)  # the sandbox job has succeeded by now (10 + 10 + 12 x 5 s)
    assert (await w.provider.get_job(job_id)).status == "succeeded"
    await slow.sweep()
    await w.dispatcher.tick()
    done_key = f"{job_id}:status:succeeded:{actor().channel.key}"
    assert done_key not in w.notifier.dedupe_keys(), "polling alone would wait an hour"

    woken: list[int] = []
    async with serving(w, Metrics(), woken) as url:
        body = event(job_id)
        status, _ = await _post(
            url, body, sign(body, webhook_id="wh_done", timestamp=int(time.time()))
        )
    assert status == 200
    assert woken == [1]
    await slow.sweep()
    while (await w.dispatcher.tick()).sent:
        pass
    assert w.notifier.dedupe_keys().count(done_key) == 1
    assert w.notifier.posts[-1].target == actor().channel


def _raw_sign(body: bytes, *, webhook_id: str, timestamp: str) -> dict[str, str]:
    """Standard Webhooks over raw bytes (non-UTF-8 bodies included)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{digest}",
        "content-type": "application/json",
    }


async def _post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        await response.read()
        return response.status


def _malformed(case: str) -> tuple[bytes, dict[str, str], int]:
    now = str(int(time.time()))
    deep = b'{"type": "fine_tuning.job.succeeded", "data": ' + b"[" * 40_000 + b"]" * 40_000 + b"}"
    match case:
        case "signed 40,000 deep":
            return deep, _raw_sign(deep, webhook_id="wh_deep", timestamp=now), 400
        case "signed broken JSON":
            return b'{"type": ', _raw_sign(b'{"type": ', webhook_id="wh_b", timestamp=now), 400
        case "non-ASCII signature":
            body = event("ftjob-x")
            headers = _raw_sign(body, webhook_id="wh_s", timestamp=now)
            return body, headers | {"webhook-signature": "v1,é"}, 400
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "signed 40,000 deep",
        "signed broken JSON",
        "non-ASCII signature",
    ],
)
async def test_malformed_deliveries_get_400_and_one_warning(
    w: World, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, headers, expected = _malformed(case)
    woken: list[int] = []
    async with serving(w, Metrics(), woken) as url:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            status = await _post_raw(url, body, headers)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert status == expected
    assert [r.levelno for r in loud] == [logging.WARNING], [r.getMessage() for r in loud]
    assert "webhook refused" in loud[0].getMessage()
    assert not any(r.exc_info or r.exc_text for r in caplog.records)
    assert woken == []


_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            st.text(max_size=200).map(str.encode),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["type", "data", "id"]), inner, max_size=3)
                ),
                max_leaves=10,
            ).map(lambda v: json.dumps(v).encode()),
        )
    )
    if draw(st.booleans()):
        webhook_id = draw(st.text(alphabet="abcdef0123456789_", min_size=1, max_size=12))
        return body, _raw_sign(
            body, webhook_id=f"wh_{webhook_id}", timestamp=str(int(time.time()))
        )
    headers = {"content-type": "application/json"}
    fresh = st.just(str(int(time.time())))  # past the replay check, on to the signature
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        value = draw(st.one_of(_header_text, st.integers().map(str), fresh, st.none()))
        if value is not None:
            headers[name] = value
    return body, headers


def test_random_deliveries_never_get_a_500(tmp_path: Path) -> None:
    # Hypothesis drives a synchronous test; the route runs on one loop across all examples.
    with asyncio.Runner() as runner:
        built = world(tmp_path)
        w = runner.run(built.__aenter__())
        served = serving(w, Metrics(), [])
        url = runner.run(served.__aenter__())
        try:

            @settings(
                max_examples=200,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            )
            @given(deliveries())
            def probe(delivery: tuple[bytes, dict[str, str]]) -> None:
                body, headers = delivery
                status = runner.run(_post_raw(url, body, headers))
                assert status < 500, (status, body[:80], headers)

            probe()
        finally:
            runner.run(served.__aexit__(None, None, None))
            runner.run(built.__aexit__(None, None, None))
