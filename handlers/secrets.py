"""Core layer: what a secret looks like, how to hide it, and a value that never prints itself.

One list of key shapes serves four jobs: refusing a key typed as command text, redacting log
records, scrubbing audit arguments, and checking a key's shape before it is stored. Every message
here names the problem and never any part of the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

OWN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Slack bot, user, app-level and config tokens
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{8,}"),
    re.compile(r"xapp-[A-Za-z0-9-]{8,}"),
    # Fernet keys (44 urlsafe base64 characters ending in "=")
    re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}="),
)
"""The shapes of the bot's own secrets; each provider family's profile adds its keys'."""

SECRET_PATTERNS: list[re.Pattern[str]] = list(OWN_PATTERNS)
"""Every shape hidden: the bot's own and the registered families' (see use_key_patterns)."""


def use_key_patterns(patterns: Iterable[re.Pattern[str]]) -> None:
    """Hide these key shapes too (the provider registry registers each family's, at import)."""
    for pattern in patterns:
        if pattern not in SECRET_PATTERNS:
            SECRET_PATTERNS.append(pattern)


REDACTED = "[redacted]"

MAX_KEY = 512
MAX_ENDPOINT = 512
MAX_API_VERSION = 40
_API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:-preview)?$")


def looks_like_secret(text: str) -> bool:
    """True when the text holds anything shaped like an API key or token."""
    return any(p.search(text) for p in SECRET_PATTERNS)


def redact(text: str) -> str:
    """The text with every key-shaped run replaced by [redacted]."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def fingerprint(key: str) -> str:
    """A short stable name for a key that reveals none of it (not even its last characters)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value: `reveal()` gives it; str, repr and equality in logs never do."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._value)

    def __str__(self) -> str:
        return "Secret(***)"

    def __repr__(self) -> str:
        return "Secret(***)"


MAX_SECRET_DOCUMENT = 8192
"""The longest secret document a setup form takes (a service-account JSON is about 2.4 KB)."""
MAX_SETTING = 256


def pack_secret(names: Iterable[str], values: Mapping[str, str]) -> str:
    """An account's one stored secret from its secret fields: the value itself when the kind
    has one (`key`, which may be a whole JSON document), else a JSON object of the non-empty
    fields by name, which `secret_fields` reads back. All empty: "" (the ambient identity)."""
    names = tuple(names)
    if len(names) == 1:
        return values.get(names[0], "")
    present = {n: values[n] for n in names if values.get(n)}
    return json.dumps(present, sort_keys=True, separators=(",", ":")) if present else ""


def secret_fields(secret: Secret, names: Iterable[str]) -> dict[str, str]:
    """The secret fields `pack_secret` packed (name -> value; absent ones left out)."""
    names = tuple(names)
    raw = secret.reveal()
    if not raw:
        return {}
    if len(names) == 1:
        return {names[0]: raw}
    try:
        document = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {n: str(document[n]) for n in names if isinstance(document.get(n), str)}


def setting_problem(label: str, value: str) -> str | None:
    """Why a non-secret account setting cannot be stored as it is (it is shown and kept in
    clear), or None; never quotes the value."""
    if len(value) > MAX_SETTING:
        return f"{label} is longer than {MAX_SETTING} characters."
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"{label} holds spaces or control characters."
    if looks_like_secret(value):
        return f"{label} holds something shaped like a key; secrets go in the secret fields."
    return None


def key_problem(shape: re.Pattern[str], refusal: str, key: str) -> str | None:
    """Why this key cannot be right for the account (shape only), or None; never quotes it."""
    if not key:
        return "The key is empty."
    if len(key) > MAX_KEY:
        return f"The key is too long for any provider (at most {MAX_KEY} characters)."
    if any(c.isspace() for c in key):
        return "The key holds spaces or line breaks; paste it again without them."
    if not shape.match(key):
        return refusal
    return None


def endpoint_problem(endpoint: str | None, *, required: bool) -> str | None:
    """Why an endpoint URL's shape is unusable, or None: http(s) with a host, and nothing that
    could carry a secret (user-info, query string, fragment). The reason is for the operator's
    log (it never quotes the URL); whether the scheme and addresses are allowed is the
    composition root's check, which resolves the host."""
    if not endpoint:
        return "an endpoint URL is required for this provider" if required else None
    if len(endpoint) > MAX_ENDPOINT:
        return f"the endpoint URL is longer than {MAX_ENDPOINT} characters"
    if looks_like_secret(endpoint):
        return "the endpoint URL holds something shaped like a key"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in endpoint):
        return "the endpoint URL holds spaces or control characters"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "the endpoint URL does not parse (host or port)"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "the endpoint URL is not http(s) with a host"
    if port == 0:
        return "the endpoint URL's port is 0"
    if "@" in parts.netloc:
        return "the endpoint URL carries a user name or password"
    if "?" in endpoint:
        return "the endpoint URL carries a query string"
    if "#" in endpoint:
        return "the endpoint URL carries a fragment"
    return None


def safe_endpoint(endpoint: str) -> str:
    """The URL without what may carry a secret (user-info, query, fragment), for audit and logs."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "[unparseable URL]"
    if ":" in host:
        host = f"[{host}]"
    return redact(f"{parts.scheme}://{host}{port}{parts.path}")[:MAX_ENDPOINT]


def api_version_problem(version: str | None) -> str | None:
    if version is None or version == "":
        return None
    if len(version) > MAX_API_VERSION or not _API_VERSION.match(version):
        return "The API version looks like 2025-04-01-preview."
    return None
