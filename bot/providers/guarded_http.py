"""Provider adapter: the HTTP client for a team's endpoint: it connects only to checked addresses.

The openai SDK takes an `http_client`; this one's network backend resolves the host itself,
checks every address with the EndpointPolicy, and opens the socket to one of those very
addresses, so no second lookup (DNS rebinding) can redirect the key. TLS still verifies the
certificate against the host name, since httpcore takes the server name from the URL.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable

import httpcore2
import httpx2

from bot.providers.endpoint_policy import EndpointPolicy, EndpointRefusedError

log = logging.getLogger(__name__)

_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class _CheckedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves and checks every connection's host, then connects to a checked address."""

    def __init__(self, policy: EndpointPolicy, *, plain: bool, team: str) -> None:
        self._policy = policy
        self._plain = plain
        self._team = team
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await self._policy.addresses(
                host, port, plain=self._plain, resolve_seconds=timeout
            )
        except EndpointRefusedError as error:
            log.warning(
                "team endpoint refused at connect",
                extra={"team": self._team, "reason": str(error)},
            )
            raise httpcore2.ConnectError("the endpoint's address is not allowed") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's backend interface
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("a team's endpoint is never a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx2.AsyncHTTPTransport):
    def __init__(
        self, policy: EndpointPolicy, *, plain: bool, team: str, ssl_context: ssl.SSLContext
    ):
        # No proxies from the environment: a proxy would do its own lookup of the host.
        super().__init__(verify=ssl_context, trust_env=False, limits=_LIMITS)
        # httpx2 exposes no network backend setting, so its pool is rebuilt with the checked
        # backend; everything else (request and error mapping) stays httpx2's own.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=_CheckedBackend(policy, plain=plain, team=team),
        )


class CheckedTransport(httpx2.AsyncBaseTransport):
    """https to addresses the policy allows; plain http only where it allows that too."""

    def __init__(
        self, policy: EndpointPolicy, *, team: str, ssl_context: ssl.SSLContext | None = None
    ):
        # SSL_CERT_FILE and SSL_CERT_DIR still count: an operator may run a private CA.
        context = ssl_context or httpx2.create_ssl_context()
        self._tls = _CheckedTransport(policy, plain=False, team=team, ssl_context=context)
        self._plain = _CheckedTransport(policy, plain=True, team=team, ssl_context=context)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        match request.url.scheme:
            case "https":
                return await self._tls.handle_async_request(request)
            case "http":
                return await self._plain.handle_async_request(request)
            case _:
                raise httpx2.UnsupportedProtocol("a team's endpoint speaks http(s) only")

    async def aclose(self) -> None:
        await self._tls.aclose()
        await self._plain.aclose()


def checked_http_client(
    policy: EndpointPolicy,
    *,
    team: str,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx2.AsyncClient:
    """An httpx2 client for the openai SDK's `http_client`; redirects are not followed, since a
    redirect would carry the request (and the SDK's key header) somewhere the form never named."""
    return httpx2.AsyncClient(
        transport=CheckedTransport(policy, team=team, ssl_context=ssl_context),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
