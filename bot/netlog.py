"""Composition root: the chat SDKs' network-failure log records as one line, not a traceback."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

SDK_LOGGERS = ("discord.client", "discord.shard", "discord.gateway", "bot.slack.socket")
"""Where discord.py and the Slack socket client report a failed (re)connect with exc_info."""

_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


def _network_error(error: BaseException | None) -> bool:
    if error is None:
        return False
    if isinstance(error, _NETWORK_ERRORS):
        return True
    # discord.py's GatewayNotFound and ConnectionClosed, slack_sdk's SlackApiError: by name,
    # so this module needs neither SDK.
    return type(error).__name__ in {"GatewayNotFound", "ConnectionClosed", "SlackApiError"}


class OneLineNetworkErrors(logging.Filter):
    """A record carrying a network error keeps its message plus the error's type and text,
    without the traceback: a platform that stays down is one line per attempt. Any other
    exception (a bug) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if _network_error(error):
            assert error is not None
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Idempotent: one filter per SDK logger."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLineNetworkErrors) for f in logger.filters):
            logger.addFilter(OneLineNetworkErrors())
