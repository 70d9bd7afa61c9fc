"""Providers: OpenAI's webhook route (POST /webhooks/openai): verify, dedupe, mark the job due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import openai
from aiohttp import web

from bot.infra import wirejson
from bot.infra.metrics import Metrics
from handlers.ports import Clock

log = logging.getLogger(__name__)

PATH = "/webhooks/openai"
TOLERANCE_SECONDS = 300
"""Deliveries signed longer ago (or further ahead) than this are refused as replays."""
MAX_BODY_BYTES = 256 * 1024
JOB_EVENT_PREFIX = "fine_tuning.job."
SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookStore(Protocol):
    """The two store calls a delivery needs (SqlStore has both)."""

    async def webhook_seen(self, webhook_id: str, now: datetime) -> bool: ...

    async def mark_job_due(self, job_id: str, *, now: datetime) -> bool: ...


def openai_webhook_routes(
    *,
    secret: str | None,
    store: WebhookStore,
    clock: Clock,
    metrics: Metrics | None = None,
    wake: Callable[[], None] | None = None,
) -> list[web.RouteDef]:
    """The route for OpenAI's Standard Webhooks deliveries; mount only when a secret is set.

    A verified `fine_tuning.job.*` event only makes the job due now: the next sweep fetches
    its state and events and notifies through the outbox, exactly as polling would. `wake`,
    when given, runs that sweep at once instead of at the next tick. No secret, no route.
    """
    if not secret:
        return []
    # The client only verifies signatures here; it never makes a request.
    client = openai.AsyncOpenAI(api_key="unused", webhook_secret=secret, max_retries=0)

    def count(outcome: str) -> None:
        if metrics is not None:
            metrics.inc("webhooks_total", outcome=outcome)

    async def receive(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            count("too_large")
            return web.json_response({"error": "payload too large"}, status=413)
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        if not all(_printable_ascii(headers.get(name, "")) for name in SIGNED_HEADERS):
            # The SDK compares signatures with hmac.compare_digest, which raises on non-ASCII.
            count("malformed")
            log.warning("webhook refused: missing or non-ASCII webhook headers")
            return web.json_response({"error": "missing webhook headers"}, status=400)
        try:
            client.webhooks.verify_signature(body, headers, tolerance=TOLERANCE_SECONDS)
        except openai.InvalidWebhookSignatureError as error:
            stale = "timestamp" in str(error)
            count("stale" if stale else "forged")
            log.warning("webhook refused: %s", error)
            if stale:
                return web.json_response({"error": "stale or invalid timestamp"}, status=400)
            return web.json_response({"error": "invalid signature"}, status=401)
        except ValueError:  # the body is not UTF-8, so it cannot carry a valid signature
            count("malformed")
            log.warning("webhook refused: the body is not UTF-8")
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        try:
            event = wirejson.loads(body)
        except wirejson.BadJson as error:
            # Signed, but unusable: 400 so it is not mistaken for our failure (no retry loop).
            count("malformed")
            log.warning("webhook refused: %s", error)
            return web.json_response({"error": "body is not usable JSON"}, status=400)
        event_type = str(event.get("type", "")) if isinstance(event, dict) else ""
        data = event.get("data") if isinstance(event, dict) else None
        job_id = data.get("id") if isinstance(data, dict) else None
        now = clock.now()
        if not await store.webhook_seen(headers["webhook-id"], now):
            count("duplicate")
            return web.json_response({"status": "duplicate"})
        if not event_type.startswith(JOB_EVENT_PREFIX) or not isinstance(job_id, str):
            count("ignored")
            return web.json_response({"status": "ignored"})
        known = await store.mark_job_due(job_id, now=now)
        count("accepted" if known else "unknown_job")
        log.info("webhook", extra={"type": event_type, "job": job_id, "known": known})
        if known and wake is not None:
            wake()
        return web.json_response({"status": "accepted" if known else "unknown job"})

    return [web.post(PATH, receive)]


def _printable_ascii(value: str) -> bool:
    return bool(value) and value.isascii() and value.isprintable()
