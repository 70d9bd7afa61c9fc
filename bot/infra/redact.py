"""Infrastructure: a logging filter that redacts anything key-shaped from every log record.

Installed at start-up, twice over: every logger's `makeRecord` redacts the message, its
arguments, its exception text and its `extra` fields as each record is made (so every handler,
including ones added later, sees only the redacted record), and a filter on the root handlers
catches records built some other way.
"""

from __future__ import annotations

import logging
from typing import Any

import bot.providers.registry  # noqa: F401  (registers every family's key shapes)
from handlers.secrets import looks_like_secret, redact

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_installed = False
_formatter = logging.Formatter()


class RedactSecrets(logging.Filter):
    """Rewrites a record in place so no key-shaped text survives in it; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def scrub(record: logging.LogRecord) -> None:
    if record.args or isinstance(record.msg, str):
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is still logged, as the logging module does
            message = str(record.msg)
        if looks_like_secret(message) or record.args:
            record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _formatter.formatException(record.exc_info)
    if record.exc_text and looks_like_secret(record.exc_text):
        record.exc_text = redact(record.exc_text)
    if record.stack_info and looks_like_secret(record.stack_info):
        record.stack_info = redact(record.stack_info)
    for name, value in list(record.__dict__.items()):
        if name not in _STANDARD:
            record.__dict__[name] = _scrub_value(value)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value) if looks_like_secret(value) else value
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    return value


def install() -> None:
    """Redact every record this process logs from now on (idempotent)."""
    global _installed
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
    if _installed:
        return
    _installed = True
    make_record = logging.Logger.makeRecord

    def redacting_make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> Any:
        record = make_record(self, *args, **kwargs)
        scrub(record)
        return record

    logging.Logger.makeRecord = redacting_make_record  # type: ignore[method-assign]
