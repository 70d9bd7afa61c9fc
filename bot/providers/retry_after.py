"""Providers: how long a provider's 429 asks to wait, from its response headers (shared by the
families whose SDKs expose the raw headers)."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date), else None."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now)
    return None
