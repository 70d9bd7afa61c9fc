"""Provider adapter: where a team's key may be sent: public https addresses, or the allow-list.

A team admin types the endpoint, and the bot then sends the team's key there from inside the
deployment's network. So every address a name resolves to (A and AAAA) must be a public unicast
address, checked when the key is checked and again on every connection (a name that resolved
public at setup may resolve to loopback later), unless the operator allow-listed the host or
its network. The reasons given here are for the operator's log; the user gets one reply.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.secrets import endpoint_problem

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Every address (A and AAAA) a host name resolves to, as text."""

RESOLVE_SECONDS = 10.0
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
"""Where a key with no endpoint goes (the OpenAI account kind's own API)."""
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ALSO_REFUSED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        # Special-purpose ranges older Pythons' ipaddress tables call global (192.0.0.8 is).
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "198.18.0.0/15",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
    )
)


class EndpointRefusedError(Exception):
    """The endpoint may not receive a team's key; the message is for the operator only."""


async def system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(address: Address) -> Iterable[Address]:
    """The address and every IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    yield address
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            yield address.ipv4_mapped
        if address.sixtofour is not None:
            yield address.sixtofour
        if address.teredo is not None:
            yield from address.teredo
        if address in _NAT64:
            yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _special(address: Address) -> bool:
    return any(address.version == n.version and address in n for n in _ALSO_REFUSED)


def _site_local(address: Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.is_site_local


def address_problem(address: Address) -> str | None:
    """Why a team's key must not go to this address (for the log), or None for public unicast."""
    for candidate in _embedded(address):
        if candidate in METADATA_ADDRESSES:
            return "a cloud metadata address"
        checks = (
            (candidate.is_loopback, "a loopback address"),
            (candidate.is_unspecified, "the unspecified address"),
            (candidate.is_link_local, "a link-local address"),
            (candidate.is_multicast, "a multicast address"),
            (candidate.is_private, "a private or unique-local address"),
            (candidate.is_reserved, "a reserved address"),
            (_site_local(candidate), "a site-local address"),
            (_special(candidate), "a special-purpose address"),
            # Shared (CGNAT), documentation and benchmarking ranges are not private, not global.
            (not candidate.is_global, "an address that is not globally routable"),
        )
        for refused, reason in checks:
            if refused:
                return reason
    return None


def parse_allowlist(text: str) -> tuple[frozenset[str], tuple[Network, ...]]:
    """Host names and networks (CIDR or single addresses), comma-separated; ValueError if bad."""
    names: set[str] = set()
    networks: list[Network] = []
    for raw in text.split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if "/" in entry or ":" in entry or any(c.isspace() for c in entry):
            raise ValueError(f"{raw.strip()!r} is neither a host name nor an address or CIDR")
        names.add(entry)
    return frozenset(names), tuple(networks)


class EndpointPolicy:
    """Decides, name and address by name and address, whether a team's key may go there; and
    whether a team may have the deployment's own cloud identity act for it."""

    def __init__(
        self,
        *,
        allowlist: str = "",
        resolver: Resolver = system_resolver,
        ambient_identity: bool = False,
    ) -> None:
        self._names, self._networks = parse_allowlist(allowlist)
        self._resolve = resolver
        self.ambient_identity = ambient_identity
        """The operator lets a team set up a cloud account without secrets of its own, so
        that the deployment's identity (Google's ADC, the AWS default chain) acts for it
        (FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY). A family's key checker refuses such an
        account otherwise, with CredentialsRefused naming the fix."""

    def _listed(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self._networks)

    async def check_url(self, endpoint: str) -> None:
        """Raise EndpointRefusedError unless the URL may receive the team's key right now."""
        if problem := endpoint_problem(endpoint, required=True):
            raise EndpointRefusedError(problem)
        parts = urlsplit(endpoint)
        assert parts.hostname is not None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await self.addresses(parts.hostname, port, plain=parts.scheme == "http")

    async def addresses(
        self, host: str, port: int, *, plain: bool, resolve_seconds: float | None = None
    ) -> list[Address]:
        """Every address the host resolves to, each checked; raise if any one is refused.

        Plain http carries the key in clear, so it is for allow-listed hosts and networks only.
        """
        name = host.strip("[]").lower().rstrip(".")
        try:
            found: list[Address] = [ipaddress.ip_address(name)]
        except ValueError:
            found = await self._lookup(name, port, resolve_seconds or RESOLVE_SECONDS)
        if name in self._names:
            return found
        for address in found:
            if self._listed(address):
                continue
            if plain:
                raise EndpointRefusedError(f"plain http to {address}, which is not allow-listed")
            if problem := address_problem(address):
                raise EndpointRefusedError(f"{name} resolves to {address}: {problem}")
        return found

    async def _lookup(self, name: str, port: int, seconds: float) -> list[Address]:
        try:
            async with asyncio.timeout(seconds):
                answers = await self._resolve(name, port)
            # A link-local IPv6 answer may carry its zone ("fe80::1%eth0"); the zone goes.
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
        except (OSError, TimeoutError, ValueError) as error:
            raise EndpointRefusedError(
                f"{name} does not resolve ({type(error).__name__})"
            ) from None
        if not found:
            raise EndpointRefusedError(f"{name} resolves to no address")
        return found


async def check_endpoint(policy: EndpointPolicy, credentials: TeamCredentials) -> None:
    """Raise ProviderError unless the credentials' endpoint may receive the key; the reason
    goes to the operator's log only (it names addresses and ports, never the key or a query)."""
    try:
        await policy.check_url(credentials.endpoint or DEFAULT_ENDPOINT)
    except EndpointRefusedError as error:
        log.warning(
            "team endpoint refused", extra={"team": credentials.team_id, "reason": str(error)}
        )
        raise ProviderError(ProviderErrorKind.CONNECTION) from None
