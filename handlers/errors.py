"""Core layer: the errors the core raises and adapters turn into one plain reply."""

from __future__ import annotations

from enum import StrEnum

from handlers.replies import CommandRef, Content


class FineTuneError(Exception):
    """Base of every error whose message is fit to show a user as it is; `text` is the same
    message naming members (a UserRef) where the core can, for the reply."""

    def __init__(self, message: str, *, text: Content | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._text = text

    @property
    def text(self) -> Content:
        """The message as the reply shows it (the message itself unless one was given)."""
        return self.message if self._text is None else self._text


class UsageError(FineTuneError):
    """The command text or its options are wrong; `usage` shows the right form (a command's
    usage line as a CommandRef, which each platform writes in its own syntax)."""

    def __init__(self, message: str, *, usage: str | CommandRef = "") -> None:
        super().__init__(message)
        self.usage = usage


class NotFoundError(FineTuneError):
    """Nothing by that id for this team (also what another team's id looks like)."""


class ConflictError(FineTuneError):
    """The request clashes with what exists (an alias taken, a job already finished)."""


class DataError(FineTuneError):
    """A training file failed validation; `problems` lists line-numbered findings."""

    def __init__(self, message: str, *, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class ProviderErrorKind(StrEnum):
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    RATE_LIMITED = "rate_limited"
    QUOTA = "quota"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    INVALID_RESPONSE = "invalid_response"


_PLAIN: dict[ProviderErrorKind, str] = {
    ProviderErrorKind.AUTH: "The provider rejected the API key. Ask an admin to check it.",
    ProviderErrorKind.PERMISSION: "The provider says this key may not do that.",
    ProviderErrorKind.NOT_FOUND: "The provider does not know that id.",
    ProviderErrorKind.BAD_REQUEST: "The provider refused the request",
    ProviderErrorKind.RATE_LIMITED: "The provider is rate-limiting this team; try again shortly.",
    ProviderErrorKind.QUOTA: "The provider account is out of quota or credit.",
    ProviderErrorKind.SERVER: "The provider had an internal error; try again in a minute.",
    ProviderErrorKind.TIMEOUT: "The provider did not answer in time; try again.",
    ProviderErrorKind.CONNECTION: "Could not reach the provider; try again.",
    ProviderErrorKind.INVALID_RESPONSE: "The provider sent an answer that could not be read.",
}


class ProviderError(FineTuneError):
    """A provider call failed; `kind` drives retries and backoff, the message is plain."""

    def __init__(
        self,
        kind: ProviderErrorKind,
        detail: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        base = _PLAIN[kind]
        message = f"{base}: {detail}" if detail and kind is ProviderErrorKind.BAD_REQUEST else base
        super().__init__(message)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in {
            ProviderErrorKind.RATE_LIMITED,
            ProviderErrorKind.SERVER,
            ProviderErrorKind.TIMEOUT,
            ProviderErrorKind.CONNECTION,
        }


class CredentialsRefused(FineTuneError):
    """A team's credentials failed their check for a reason safe to tell the admin: the
    account is a cloud identity reached at the cloud's own addresses, so naming what failed
    maps nothing of the deployment's network. The message names the problem and the fix and
    never quotes a secret."""


class ConfigError(FineTuneError):
    """A setting is missing or invalid; the message names it and how to set it."""


class PermissionDeniedError(FineTuneError):
    """The actor's role in the team does not allow the command (one plain private reply)."""


class BudgetError(FineTuneError):
    """A start would pass the team's monthly cap; the message gives spent, this job and cap."""


class ProviderAnswerError(ProviderError):
    """The provider answered outside its contract: an empty choice list, a list whose cursor
    does not advance or never ends, a completed upload without its file. The message names
    what it returned, so the user sees the provider's fault, not a crash."""

    def __init__(self, what: str) -> None:
        super().__init__(ProviderErrorKind.INVALID_RESPONSE, what)
        self.message = f"The provider's answer could not be used: {what}."
        self.args = (self.message,)
