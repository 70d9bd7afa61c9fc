"""Slack adapter: the HTTP-mode gate: a request reaches Bolt only signed, fresh and parseable."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bot.infra import wirejson

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
"""Slack's replay window: a request signed longer ago (or further ahead) is refused."""
_MAX_TIMESTAMP_DIGITS = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why a request never reaches Bolt: the HTTP status and the one log line."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Admitted:
    """A signed request whose body Bolt can parse without raising."""

    text: str
    ssl_check: bool = False


class SlackGate:
    """Checks Slack's v0 signature over the raw bytes, then that the body parses as Bolt will
    parse it (JSON, or a form whose `payload` is JSON, each depth-capped).

    Bolt's own parsing runs before its signature check and raises on a non-UTF-8 body, a
    timestamp that is not a number, or broken or deep JSON: each was a 500 and a traceback.
    Here each is a 401 or 400 and one line; Bolt still verifies the signature again after.
    """

    def __init__(self, signing_secret: str, *, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._now = now

    def check(
        self, body: bytes, *, timestamp: str | None, signature: str | None, content_type: str
    ) -> Admitted | Refusal:
        if _is_ssl_check(body):
            # Slack's certificate probe; Bolt answers it before any signature check too.
            return Admitted(text="", ssl_check=True)
        refused = self._signature_problem(body, timestamp, signature)
        if refused is not None:
            return Refusal(status=401, reason=refused)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(status=400, reason="the body is not UTF-8")
        problem = _parse_problem(text, content_type)
        if problem is not None:
            return Refusal(status=400, reason=problem)
        return Admitted(text=text)

    def _signature_problem(
        self, body: bytes, timestamp: str | None, signature: str | None
    ) -> str | None:
        if not timestamp or not signature:
            return "unsigned (no X-Slack-Request-Timestamp or X-Slack-Signature)"
        if not (
            timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS
        ):
            return "X-Slack-Request-Timestamp is not a Unix time"
        if abs(self._now() - int(timestamp)) > TOLERANCE_SECONDS:
            return "stale X-Slack-Request-Timestamp (outside Slack's 5-minute window)"
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
        expected = "v0=" + digest.hexdigest()
        # compare_digest refuses non-ASCII str, so compare bytes.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return "bad X-Slack-Signature"
        return None


def _is_ssl_check(body: bytes) -> bool:
    if len(body) > 256 or (not body.startswith(b"ssl_check=") and b"&ssl_check=" not in body):
        return False
    try:
        fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    except UnicodeDecodeError:
        return False
    return fields.get("ssl_check") == "1" and "payload" not in fields


def _parse_problem(text: str, content_type: str) -> str | None:
    """What would make Bolt's parse_body raise, checked the way it parses: JSON when the
    content type says so or the body opens with `{`, else a form, whose `payload` is JSON."""
    if not text:
        return None
    if content_type == "application/json" or text.startswith("{"):
        candidate: str | None = text
    elif "payload" in text:
        candidate = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
    else:
        return None
    if candidate is None:
        return None
    try:
        parsed = wirejson.loads(candidate)
    except wirejson.BadJson as error:
        return str(error)
    if not isinstance(parsed, dict):
        return "the JSON body is not an object"
    return None
