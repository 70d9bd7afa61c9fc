"""Core tests: accounts that are cloud identities: several secret fields, settings, ambient."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from handlers.errors import CredentialsRefused
from handlers.model import Actor, TeamCredentials
from handlers.profile import AccountKind, SetupField
from handlers.replies import Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret, pack_secret, secret_fields
from storage import crypto
from tests.world import World, actor, world

TOKEN_ID = "CLOUDID" + "7" * 13
TOKEN_SECRET = "s3cr3t/" + "Q" * 33


def _pair_problem(values: Mapping[str, str]) -> str | None:
    if not values.get("token_id") or not values.get("token_secret"):
        return "Give both the token id and its secret."
    return None


CLOUD = AccountKind(
    name="cloudy",
    label="Cloudy",
    fields=(
        SetupField(name="token_id", label="Token id", secret=True),
        SetupField(name="token_secret", label="Token secret", secret=True),
        SetupField(name="region", label="Region", required=True),
        SetupField(name="bucket", label="Bucket", required=True),
        SetupField(name="prefix", label="Prefix"),
    ),
    secret_problem=_pair_problem,
    ambient=True,
)


class CloudKeys:
    """The cloud as a key checker: the one pair writes bucket `ok-bucket`; ambient is allowed
    only when `ambient_allowed`."""

    def __init__(self) -> None:
        self.checked: list[TeamCredentials] = []
        self.ambient_allowed = False

    async def check(self, credentials: TeamCredentials) -> None:
        self.checked.append(credentials)
        if credentials.ambient:
            if not self.ambient_allowed:
                raise CredentialsRefused(
                    "This deployment does not lend its own cloud identity to teams: give "
                    "the team's token id and secret."
                )
            return
        fields = secret_fields(credentials.api_key, CLOUD.secret_names)
        if fields != {"token_id": TOKEN_ID, "token_secret": TOKEN_SECRET}:
            raise CredentialsRefused("Cloudy refused the token: check its id and secret.")
        if credentials.settings.get("bucket") != "ok-bucket":
            raise CredentialsRefused(
                "The token cannot write to that bucket: grant it write access there."
            )


@pytest.fixture
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
def keys() -> CloudKeys:
    return CloudKeys()


@pytest.fixture
async def w(tmp_path: Path, ring: None, keys: CloudKeys) -> AsyncIterator[World]:
    async with world(tmp_path, keys=keys, accounts={"cloudy": CLOUD}) as built:
        yield built


def admin() -> Actor:
    return replace(actor("T1", "UA"), is_workspace_admin=True)


def _setup(**settings: str) -> SetupRequest:
    return SetupRequest(
        provider="cloudy",
        secrets={"token_id": Secret(TOKEN_ID), "token_secret": Secret(TOKEN_SECRET)},
        settings={"region": "north-1", "bucket": "ok-bucket", **settings},
    )


async def test_several_secret_fields_are_one_encrypted_secret_and_settings_stay_plain(
    w: World, keys: CloudKeys
) -> None:
    reply = await w.service.handle(_setup(prefix="ftbot/", junk="x"), admin())
    assert reply.tone is Tone.SUCCESS, reply
    assert TOKEN_SECRET not in plain(reply.title) + repr(reply)
    stored = await w.store.get_credentials("slack:T1", "cloudy")
    assert stored is not None
    assert stored.settings == {"region": "north-1", "bucket": "ok-bucket", "prefix": "ftbot/"}
    assert json.loads(stored.api_key.reveal()) == {
        "token_id": TOKEN_ID,
        "token_secret": TOKEN_SECRET,
    }
    shown = await w.service.handle(SetupRequest(action="show"), admin())
    text = repr(shown)
    assert "bucket=ok-bucket" in text
    assert TOKEN_ID not in text
    assert TOKEN_SECRET not in text
    audit = await w.store.list_audit("slack:T1", limit=5)
    assert all(TOKEN_ID not in a.arguments and TOKEN_SECRET not in a.arguments for a in audit)
    assert any("bucket:ok-bucket" in a.arguments for a in audit)


async def test_each_bad_account_gets_one_reply_naming_the_fix_and_nothing_is_stored(
    w: World, keys: CloudKeys
) -> None:
    cases = {
        "Give both the token id and its secret.": replace(
            _setup(), secrets={"token_id": Secret(TOKEN_ID)}
        ),
        "Bucket is required for Cloudy.": replace(_setup(), settings={"region": "north-1"}),
        "Region holds something shaped like a key": _setup(region="xoxb-" + "1" * 20),
        "Cloudy refused the token": replace(
            _setup(),
            secrets={"token_id": Secret(TOKEN_ID), "token_secret": Secret("wrong" * 8)},
        ),
        "cannot write to that bucket: grant it": _setup(bucket="other-bucket"),
        "does not lend its own cloud identity": replace(_setup(), secrets={}),
    }
    for expected, request in cases.items():
        reply = await w.service.handle(request, admin())
        assert reply.tone is Tone.ERROR, (expected, reply)
        assert expected in plain(reply.title), (expected, reply)
        assert "Nothing was stored." in plain(reply.title)
        assert TOKEN_SECRET not in repr(reply)
    assert await w.store.get_credentials("slack:T1", "cloudy") is None
    # The shape refusals never reached the cloud.
    assert len(keys.checked) == 3


async def test_the_deployment_identity_when_the_operator_allows_it(
    w: World, keys: CloudKeys
) -> None:
    keys.ambient_allowed = True
    reply = await w.service.handle(replace(_setup(), secrets={}), admin())
    assert reply.tone is Tone.SUCCESS, reply
    assert "deployment's own cloud identity" in repr(reply)
    stored = await w.store.get_credentials("slack:T1", "cloudy")
    assert stored is not None
    assert stored.ambient
    assert stored.settings["bucket"] == "ok-bucket"


def test_secret_fields_round_trip() -> None:
    names = ("a", "b")
    packed = pack_secret(names, {"a": "x y", "b": ""})
    assert secret_fields(Secret(packed), names) == {"a": "x y"}
    assert pack_secret(("key",), {"key": '{"doc": 1}'}) == '{"doc": 1}'
    assert secret_fields(Secret('{"doc": 1}'), ("key",)) == {"key": '{"doc": 1}'}
    assert pack_secret(names, {}) == ""
