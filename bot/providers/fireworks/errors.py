"""Providers: Fireworks' errors as the core's ProviderError kinds (as the other families')."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fireworks import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
)

from bot.providers.retry_after import retry_after
from handlers.errors import ProviderError, ProviderErrorKind

KEY_HINT = "check the Fireworks AI API key (FIREWORKS_API_KEY, or the team's Fireworks key)"
_NOT_DEPLOYED = ("not deployed", "no deployment", "deploy")


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
        case 401:
            return ProviderErrorKind.AUTH, None, KEY_HINT
        case 403:
            # Fireworks' answer for a resource of an account the key is not a member of: the
            # account id (FIREWORKS_ACCOUNT_ID) or the key is wrong.
            return ProviderErrorKind.AUTH, None, KEY_HINT + " and the account id"
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
    """The google.rpc-style body's message (`{"error": {"code", "message", "status"}}`)."""
    body = error.body
    inner = body.get("error") if isinstance(body, Mapping) else None
    for source in (inner, body):
        if isinstance(source, Mapping):
            message = source.get("message")
            if isinstance(message, str) and message:
                return message[:300]
    return str(error.message)[:300]


def needs_deployment(error: APIStatusError) -> bool:
    """Fireworks' answer for a fine-tuned model with no on-demand deployment."""
    return error.status_code in (400, 404) and any(
        w in message_of(error).lower() for w in _NOT_DEPLOYED
    )


def deployment_error(model: str) -> ProviderError:
    return ProviderError(
        ProviderErrorKind.BAD_REQUEST,
        f"{model} answers only from an on-demand deployment on Fireworks, and none is running. "
        "Deploy it first (fireworks.ai, Models, Deploy, or firectl create deployment); a "
        "deployment is billed per GPU-second while it runs, so delete it when done",
    )
