"""Composition root: a database that fails at start-up, as one line naming DATABASE_URL."""

from __future__ import annotations

import errno
import socket

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

_SQLSTATES = {
    "3D000": "the database does not exist; create it or fix its name",
    "28P01": "the password was refused; check the user and password",
    "28000": "the user was refused (unknown role or no access); check the user",
    "53300": "the server has too many connections; try again or raise max_connections",
    "57P03": "the server is starting up or shutting down; try again",
}


def database_problem(url: str, error: BaseException) -> str | None:
    """One line for an error reaching or opening the database, never the password; None when
    the error is not about reaching it (a bug keeps its traceback)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if isinstance(error, OperationalError):
            return (
                f"DATABASE_URL: cannot open the SQLite database {parsed.database} "
                f"({_first_line(error.orig)}); check the path and that the directory is "
                "writable"
            )
        return None
    where = f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"
    reason = _reason(error)
    if reason is None:
        return None
    return f"DATABASE_URL: cannot connect to {where} ({reason})"


def _reason(error: BaseException) -> str | None:
    chain = [error, *_causes(error)]
    for item in chain:
        state = getattr(item, "sqlstate", None)
        if isinstance(state, str) and state in _SQLSTATES:
            return _SQLSTATES[state]
    for item in chain:
        if isinstance(item, ConnectionRefusedError) or (
            isinstance(item, OSError) and item.errno == errno.ECONNREFUSED
        ):
            return "connection refused; check the server is running and the host and port"
        if isinstance(item, socket.gaierror):
            return "host not found; check the host name"
        if isinstance(item, TimeoutError):
            return "timed out; check the host, the port and any firewall"
        if isinstance(item, OSError):
            return f"{item.strerror or type(item).__name__}; check the host and port"
    if isinstance(error, DBAPIError):
        return f"{type(error.orig).__name__}; check the URL and the server"
    return None


def _causes(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current = error.__cause__ or error.__context__
    while current is not None and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    if isinstance(error, DBAPIError) and isinstance(error.orig, BaseException):
        found.insert(0, error.orig)
    return found


def _first_line(error: BaseException | None) -> str:
    text = str(error) if error is not None else ""
    return text.splitlines()[0] if text else "unknown error"
