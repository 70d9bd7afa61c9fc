"""The provider registry and the families' profiles agree, and every profile keeps its word."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.app.config import Settings
from bot.infra.clock import SystemClock
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.registry import FAMILIES, SETTINGS_NAMES, accounts, family
from handlers.model import TeamCredentials
from handlers.ports import CAPABILITY_PORTS, FineTuning
from handlers.profile import Capability, JobStatus
from handlers.secrets import SECRET_PATTERNS, Secret, looks_like_secret

KEYS = {
    "openai": "sk-proj-" + "Ab3d" * 10,
    "azure": "0123456789abcdef" * 2,
    "compatible": "local-server-key",
    "together": "tgp_v1_" + "Zx9q" * 10,
    "together-hex": "0123456789abcdef" * 4,
    "fireworks": "fw_" + "Zx9q" * 6,
    "nebius": "nebius-" + "Zx9q" * 8,
}


def settings_for(name: str, tmp_path: Path) -> Settings:
    return Settings(
        provider=name,
        openai_api_key=SecretStr(KEYS["openai"]),
        azure_openai_endpoint="https://example.openai.azure.com",
        azure_openai_api_key=SecretStr(KEYS["azure"]),
        sandbox_state=tmp_path / "sandbox.json",
        together_api_key=SecretStr(KEYS["together"]),
        fireworks_api_key=SecretStr(KEYS["fireworks"]),
        fireworks_account_id="acme",
        nebius_api_key=SecretStr(KEYS["nebius"]),
    )


async def close(provider: FineTuning) -> None:
    aclose = getattr(provider, "aclose", None)
    if aclose is not None:
        await aclose()


def check_capabilities(provider: FineTuning) -> None:
    """A family declares exactly the optional capabilities its class implements."""
    profile = provider.profile
    for capability, port in CAPABILITY_PORTS.items():
        assert profile.can(capability) == isinstance(provider, port), (profile.name, capability)


def test_every_family_is_registered_under_its_profiles_name() -> None:
    assert FAMILIES
    for name, entry in FAMILIES.items():
        assert entry.profile.name == name
        assert entry.name == name
        assert family(name) is entry
    assert len(set(SETTINGS_NAMES)) == len(SETTINGS_NAMES)
    for setting in SETTINGS_NAMES:
        assert setting in family(setting).settings_names


@pytest.mark.parametrize("setting", SETTINGS_NAMES)
async def test_the_deployment_factory_builds_a_provider_of_that_profile(
    setting: str, tmp_path: Path
) -> None:
    entry = family(setting)
    entry.load().check(settings_for(setting, tmp_path))
    provider = entry.load().build(settings_for(setting, tmp_path), SystemClock())
    try:
        assert provider.profile is entry.profile
        check_capabilities(provider)
    finally:
        await close(provider)
    builds_teams = entry.load().team_factory(EndpointPolicy()) is not None
    assert builds_teams == entry.team_accounts


@pytest.mark.parametrize("kind", sorted(accounts()))
async def test_a_teams_own_account_is_built_by_the_family_that_offers_it(kind: str) -> None:
    owners = [f for f in FAMILIES.values() if f.team_accounts and f.profile.account(kind)]
    assert len(owners) == 1, f"{kind} must belong to exactly one family"
    [entry] = owners
    build = entry.load().team_factory(EndpointPolicy())
    assert build is not None
    credentials = TeamCredentials(
        team_id="slack:T1",
        provider=kind,
        api_key=Secret(KEYS[kind]),
        endpoint="https://example.openai.azure.com" if kind in ("azure", "compatible") else None,
    )
    provider = build(credentials)
    try:
        assert provider.profile is entry.profile
        check_capabilities(provider)
    finally:
        await close(provider)
    account = accounts()[kind]
    assert account.key_shape.match(KEYS[kind])
    assert account.field("key") is not None
    assert account.requires("key")


def test_each_familys_key_shapes_are_redacted() -> None:
    for entry in FAMILIES.values():
        for pattern in entry.profile.key_patterns:
            assert pattern in SECRET_PATTERNS
    for kind, key in KEYS.items():
        # A compatible server's key has no shape to tell it by, nor (unverified) has Nebius's.
        if kind not in ("compatible", "nebius"):
            assert looks_like_secret(f"the key is {key}")


def test_a_profile_maps_every_status_it_names_and_keeps_terminal_ones_terminal() -> None:
    for entry in FAMILIES.values():
        statuses = entry.profile.statuses
        assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.RUNNING} <= set(statuses.values())
        for raw, status in statuses.items():
            assert entry.profile.status(raw) is status


@given(raw=st.text(max_size=30))
def test_an_unknown_status_is_live_never_a_crash(raw: str) -> None:
    for entry in FAMILIES.values():
        status = entry.profile.status(raw)
        assert isinstance(status, JobStatus)
        if raw not in entry.profile.statuses:
            assert not status.terminal


def test_an_unknown_status_is_logged_once_per_string(caplog: pytest.LogCaptureFixture) -> None:
    profile = FAMILIES["openai"].profile
    with caplog.at_level(logging.WARNING, logger="handlers.profile"):
        for _ in range(3):
            profile.status("compressing-weights-x1")
        profile.status("compressing-weights-x2")
    seen = [r.__dict__.get("status") for r in caplog.records]
    assert seen == ["compressing-weights-x1", "compressing-weights-x2"]


def test_declared_capabilities_are_known_to_the_ports() -> None:
    # A capability the core gates on a protocol must have one (events, pause, inference...).
    for capability in (Capability.PAUSE, Capability.CANCEL, Capability.STORED_COMPLETIONS):
        assert capability in CAPABILITY_PORTS
