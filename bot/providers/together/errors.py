"""Providers: Together's errors as the core's ProviderError kinds (as the OpenAI family's)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from together import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
)

from bot.providers.retry_after import retry_after
from handlers.errors import ProviderError, ProviderErrorKind

_ENDPOINT_CODES = frozenset({"model_not_available"})
_ENDPOINT_WORDS = ("dedicated endpoint", "non-serverless")
KEY_HINT = "check the Together AI API key (TOGETHER_API_KEY, or the team's Together key)"


def classify(error: Exception, *, now: float) -> tuple[ProviderErrorKind, float | None, str]:
    if isinstance(error, APITimeoutError):
        return ProviderErrorKind.TIMEOUT, None, ""
    if isinstance(error, APIConnectionError):
        return ProviderErrorKind.CONNECTION, None, ""
    if isinstance(error, APIResponseValidationError | json.JSONDecodeError):
        return ProviderErrorKind.INVALID_RESPONSE, None, ""
    if not isinstance(error, APIStatusError):
        return ProviderErrorKind.BAD_REQUEST, None, str(error)[:300]
    status = error.status_code
    detail = message_of(error)
    match status:
        case 401 | 403:
            return ProviderErrorKind.AUTH, None, KEY_HINT
        case 404:
            return ProviderErrorKind.NOT_FOUND, None, detail
        case 408:
            return ProviderErrorKind.TIMEOUT, None, detail
        case 402:
            return ProviderErrorKind.QUOTA, None, detail
        case 429:
            return (
                ProviderErrorKind.RATE_LIMITED,
                retry_after(error.response.headers, now=now),
                detail,
            )
        case _ if status >= 500:
            return ProviderErrorKind.SERVER, None, detail
        case _:
            return ProviderErrorKind.BAD_REQUEST, None, detail


def message_of(error: APIStatusError) -> str:
    body = error.body
    inner = body.get("error") if isinstance(body, Mapping) else None
    for source in (inner, body):
        if isinstance(source, Mapping):
            message = source.get("message")
            if isinstance(message, str) and message:
                return message[:300]
    return str(error.message)[:300]


def _code(error: APIStatusError) -> str | None:
    body = error.body
    inner = body.get("error") if isinstance(body, Mapping) else None
    code = inner.get("code") if isinstance(inner, Mapping) else None
    return code if isinstance(code, str) else None


def needs_endpoint(error: APIStatusError) -> bool:
    """Together's answer for a model that is only served from a dedicated endpoint."""
    if error.status_code != 400:
        return False  # an unknown model is a 404: not found, not undeployed
    text = message_of(error).lower()
    return _code(error) in _ENDPOINT_CODES or any(w in text for w in _ENDPOINT_WORDS)


def dedicated_endpoint_error(model: str) -> ProviderError:
    return ProviderError(
        ProviderErrorKind.BAD_REQUEST,
        f"{model} answers only from a dedicated endpoint on Together, and none is running. "
        "Deploy it first (api.together.ai, Models, Deploy), then try again",
    )
