"""The endpoint policy: which addresses a team's key may reach, checked at setup and at every
connection the real openai SDK opens (a rebinding name is refused at use)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app.config import load_settings
from bot.providers.endpoint_policy import (
    EndpointPolicy,
    EndpointRefusedError,
    address_problem,
    check_endpoint,
    parse_allowlist,
)
from bot.providers.openai.factory import TeamProviderBuilder
from handlers.errors import ConfigError, ProviderError, ProviderErrorKind
from handlers.model import TeamCredentials
from handlers.secrets import Secret, endpoint_problem
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-proj-TeamOwnKey" + "r7Yp" * 10

# Every range a team's key must never reach without the operator's say-so.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "2001:db8::/32",
    )
)


@st.composite
def refused_addresses(draw: st.DrawFn) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    network = draw(st.sampled_from(REFUSED_NETWORKS))
    offset = draw(st.integers(min_value=0, max_value=network.num_addresses - 1))
    return network[offset]


@given(refused_addresses())
def test_every_private_loopback_link_local_or_reserved_address_is_refused(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert address_problem(address) is not None


@given(refused_addresses().filter(lambda a: a.version == 4))
def test_ipv4_ranges_are_refused_inside_ipv6_too(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))
    for wrapped in (mapped, nat64, sixtofour):
        assert address_problem(wrapped) is not None, wrapped


@given(st.ip_addresses())
def test_an_address_is_allowed_only_when_globally_routable_unicast(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if address_problem(address) is None:
        assert address.is_global
        assert not address.is_multicast
        assert not any(address in n for n in REFUSED_NETWORKS if n.version == address.version)


def test_cloud_metadata_addresses_are_refused_by_name() -> None:
    for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"):
        assert address_problem(ipaddress.ip_address(text)) == "a cloud metadata address"
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1111")) is None


def _resolver(table: dict[str, list[str]]) -> object:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


async def test_every_resolved_address_is_checked_not_only_the_first() -> None:
    table = {"mixed.example": ["8.8.8.8", "::1"], "public.example": ["8.8.8.8", "2606:4700::1"]}
    policy = EndpointPolicy(resolver=_resolver(table))  # type: ignore[arg-type]
    with pytest.raises(EndpointRefusedError, match="::1"):
        await policy.check_url("https://mixed.example/v1")
    await policy.check_url("https://public.example/v1")
    for refused in (
        "http://public.example/v1",  # the key would travel in clear
        "https://nowhere.example/v1",
        "https://[::1]/v1",
        "https://169.254.169.254/latest",
        "https://user:pass@public.example/v1",
        "https://public.example/v1?token=abc",
    ):
        with pytest.raises(EndpointRefusedError):
            await policy.check_url(refused)


async def test_the_allow_list_admits_listed_names_and_networks_only() -> None:
    table = {"llm.internal": ["10.1.2.3"], "other.internal": ["10.9.9.9"]}
    policy = EndpointPolicy(
        allowlist="llm.internal, 192.168.5.0/24",
        resolver=_resolver(table),  # type: ignore[arg-type]
    )
    await policy.check_url("http://llm.internal:8000/v1")
    await policy.check_url("http://192.168.5.7:8000/v1")
    with pytest.raises(EndpointRefusedError):
        await policy.check_url("https://other.internal/v1")
    with pytest.raises(ValueError, match="neither"):
        parse_allowlist("ok.example, bad/entry")


def _credentials(endpoint: str) -> TeamCredentials:
    return TeamCredentials(
        team_id="slack:T1",
        provider="compatible",
        api_key=Secret(KEY),
        endpoint=endpoint,
        api_version=None,
        set_by="U1",
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def test_a_name_public_at_setup_and_loopback_at_use_never_gets_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeOpenAI(api_key=KEY) as fake:
        table = {"rebind.example": ["93.184.216.34"]}
        policy = EndpointPolicy(resolver=_resolver(table))  # type: ignore[arg-type]
        credentials = _credentials(f"https://rebind.example:{fake.port}/v1")
        await check_endpoint(policy, credentials)  # public: the setup check passes

        table["rebind.example"] = ["127.0.0.1"]  # the attacker's DNS answer changes
        async with TeamProviderBuilder(policy)(credentials) as provider:
            with pytest.raises(ProviderError) as refused:
                await provider.list_models()
        assert refused.value.kind is ProviderErrorKind.CONNECTION
        assert fake.requests == []
        # Refused by the check at connect time, before any socket was opened to 127.0.0.1.
        reasons = [getattr(r, "reason", "") for r in caplog.records]
        assert "rebind.example resolves to 127.0.0.1: a loopback address" in reasons
        assert all(
            getattr(r, "team", None) == "slack:T1"
            for r in caplog.records
            if r.msg == "team endpoint refused at connect"
        )


async def test_a_name_that_rebinds_to_a_refused_address_is_refused_at_use() -> None:
    """The name resolved (through the policy) to the allow-listed fake server at setup; later
    it resolves to a private address: the SDK's next connection is refused before it opens."""
    async with FakeOpenAI(api_key=KEY) as fake:
        table = {"rebind.example": ["127.0.0.1"]}
        policy = EndpointPolicy(allowlist="127.0.0.1/32", resolver=_resolver(table))  # type: ignore[arg-type]
        build = TeamProviderBuilder(policy)
        credentials = _credentials(f"http://rebind.example:{fake.port}/v1")

        await check_endpoint(policy, credentials)
        async with build(credentials) as provider:
            # rebind.example exists only in the policy's resolver: the SDK reached the fake
            # server through the address the policy checked, not a lookup of its own.
            assert await provider.list_models()
        seen = len(fake.requests)

        table["rebind.example"] = ["10.0.0.7"]
        async with build(credentials) as provider:
            with pytest.raises(ProviderError) as refused:
                await provider.list_models()
        assert refused.value.kind is ProviderErrorKind.CONNECTION
        assert len(fake.requests) == seen
        with pytest.raises(ProviderError):
            await check_endpoint(policy, credentials)

        # Without the allow-list the loopback server itself is refused at use as well.
        strict = TeamProviderBuilder(EndpointPolicy())
        async with strict(_credentials(fake.base_url)) as provider:
            with pytest.raises(ProviderError):
                await provider.list_models()
        assert len(fake.requests) == seen


def test_a_bad_allow_list_entry_is_one_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="FINETUNE_BOT_ENDPOINT_ALLOWLIST is invalid"):
        load_settings(provider="sandbox", endpoint_allowlist="llm.internal, 10.0.0.0/33")
    assert load_settings(provider="sandbox", endpoint_allowlist="llm.internal, 10.0.0.0/8")


async def test_numeric_host_spellings_are_resolved_then_refused() -> None:
    # inet_aton forms the system resolver turns into 127.0.0.1 (no DNS query is made for them).
    policy = EndpointPolicy()
    for spelling in ("2130706433", "0x7f.0.0.1", "127.1", "0177.0.0.1"):
        with pytest.raises(EndpointRefusedError, match=r"127\.0\.0\.1"):
            await policy.check_url(f"https://{spelling}/v1")


_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,3}", fullmatch=True)


@given(
    _hosts,
    # "/" would end the authority, so the text would be a path, not user-info.
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/"),
        max_size=30,
    ),
)
def test_no_url_with_user_info_query_or_fragment_is_accepted(host: str, secret: str) -> None:
    for url in (
        f"https://{host}/v1?{secret}",
        f"https://{host}/v1#{secret}",
        f"https://{secret}@{host}/v1",
        f"https://user:{secret}@{host}/v1",
    ):
        assert endpoint_problem(url, required=True) is not None, url
    assert endpoint_problem(f"https://{host}/v1", required=True) is None
