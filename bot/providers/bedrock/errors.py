"""Providers: what an AWS error from botocore means for the core (kind, wait, safe detail)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from bot.providers.retry_after import retry_after
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.secrets import redact

log = logging.getLogger(__name__)
_T = TypeVar("_T")

NOT_FOUND = frozenset(
    {"ResourceNotFoundException", "NoSuchKey", "NoSuchUpload", "NotFound", "404"}
)
REFUSED = frozenset(
    {"ValidationException", "ConflictException", "ResourceInUseException", "ServiceQuota"}
)
AUTH = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
PERMISSION = frozenset({"AccessDeniedException", "AccessDenied", "403"})
THROTTLED = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "SlowDown", "Throttling"}
)
QUOTA = frozenset({"ServiceQuotaExceededException"})


def code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def message_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "") or code_of(error))


def classify(error: Exception) -> ProviderError:
    """The ProviderError for a botocore or transport error; the detail is AWS's message,
    redacted (a message may quote what it was sent)."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError | TimeoutError):
        return ProviderError(ProviderErrorKind.TIMEOUT)
    if isinstance(
        error, EndpointConnectionError | ConnectionClosedError | aiohttp.ClientConnectionError
    ):
        return ProviderError(ProviderErrorKind.CONNECTION)
    if isinstance(error, NoCredentialsError):
        return ProviderError(ProviderErrorKind.AUTH)
    if not isinstance(error, ClientError):
        if isinstance(error, BotoCoreError | aiohttp.ClientError):
            return ProviderError(ProviderErrorKind.CONNECTION)
        return ProviderError(ProviderErrorKind.INVALID_RESPONSE)
    code = code_of(error)
    meta = error.response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    detail = redact(message_of(error))[:300]
    if code in NOT_FOUND or status == 404 or "model identifier is invalid" in detail:
        # Converse names an unknown model as a ValidationException.
        return ProviderError(ProviderErrorKind.NOT_FOUND, detail)
    if code in AUTH or status == 401:
        return ProviderError(ProviderErrorKind.AUTH)
    if code in PERMISSION or status == 403:
        return ProviderError(ProviderErrorKind.PERMISSION, detail)
    if code in THROTTLED or status == 429:
        headers = {str(k).lower(): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
        return ProviderError(
            ProviderErrorKind.RATE_LIMITED, retry_after=retry_after(headers, now=time.time())
        )
    if code in QUOTA:
        return ProviderError(ProviderErrorKind.QUOTA, detail)
    if status >= 500:
        return ProviderError(ProviderErrorKind.SERVER)
    return ProviderError(ProviderErrorKind.BAD_REQUEST, detail)


async def aws_call(call: Awaitable[_T]) -> _T:
    """Await one AWS call; a botocore or transport error comes out as its ProviderError,
    logged by kind and AWS's code (never its message, which may quote what was sent)."""
    try:
        return await call
    except ProviderError:
        raise
    except (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
        found = classify(error)
        code = code_of(error) if isinstance(error, ClientError) else type(error).__name__
        log.warning("AWS call failed", extra={"kind": str(found.kind), "code": code})
        raise found from None


__all__ = ["aws_call", "classify", "code_of", "message_of"]
