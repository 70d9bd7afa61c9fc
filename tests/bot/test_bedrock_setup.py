"""Tests: a team's AWS credentials are checked before they are stored: who they are (STS),
that they can write the bucket, that Bedrock tunes a model in the region; one refusal each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.providers.bedrock.factory import (
    BedrockCredentialsChecker,
    TeamProviderBuilder,
    bucket_and_prefix,
)
from bot.providers.bedrock.profile import ACCOUNTS
from handlers.errors import CredentialsRefused
from handlers.model import TeamCredentials
from handlers.secrets import Secret, pack_secret
from tests.fakes.bedrock_server import BUCKET, ROLE, FakeBedrock
from tests.fakes.clock import ManualClock

GOOD = {
    "key": "AKIAFAKEBEDROCK00001",
    "secret_access_key": "fake-secret-access-key-for-tests-0000000",
}


def _credentials(*, secrets: dict[str, str] | None = None, **settings: str) -> TeamCredentials:
    values = GOOD if secrets is None else secrets
    return TeamCredentials(
        team_id="slack:T1",
        provider="bedrock",
        family="bedrock",
        api_key=Secret(pack_secret(ACCOUNTS[0].secret_names, values)),
        settings={
            "region": "us-east-1",
            "role_arn": ROLE,
            "bucket": f"{BUCKET}/team-1/",
            **settings,
        },
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    clock = ManualClock()
    async with FakeBedrock(clock=lambda: clock.now().timestamp()) as running:
        yield running


def _checker(fake: FakeBedrock) -> BedrockCredentialsChecker:
    return BedrockCredentialsChecker(TeamProviderBuilder(endpoints=fake.endpoints()))


async def _refused(fake: FakeBedrock, credentials: TeamCredentials) -> str:
    with pytest.raises(CredentialsRefused) as refused:
        await _checker(fake).check(credentials)
    message = refused.value.message
    assert GOOD["secret_access_key"] not in message
    return message


async def test_working_credentials_pass_and_leave_nothing_in_the_bucket(
    fake: FakeBedrock,
) -> None:
    await _checker(fake).check(_credentials())

    assert fake.objects("team-1/") == {}
    assert fake.requests_to("POST /"), "the identity was asked of STS"


async def test_credentials_aws_refuses_name_the_keys(fake: FakeBedrock) -> None:
    other = {**GOOD, "key": "AKIAUNKNOWNKEY000001"}

    message = await _refused(fake, _credentials(secrets=other))

    assert "AWS did not accept these credentials" in message
    assert "access key id and secret access key" in message


async def test_a_bucket_the_identity_cannot_write_names_the_bucket(fake: FakeBedrock) -> None:
    message = await _refused(fake, _credentials(bucket="s3://not-our-bucket/team-1"))

    assert "cannot write to s3://not-our-bucket/team-1/" in message
    assert "s3:PutObject" in message


async def test_a_region_without_a_tunable_model_names_the_regions_that_have_one(
    fake: FakeBedrock,
) -> None:
    message = await _refused(fake, _credentials(region="eu-west-3"))

    assert "no model in eu-west-3" in message
    assert "us-east-1" in message


async def test_half_a_key_a_bad_role_or_the_deployments_identity_is_refused_before_any_call(
    fake: FakeBedrock,
) -> None:
    half = await _refused(fake, _credentials(secrets={"key": GOOD["key"]}))
    ambient = await _refused(fake, _credentials(secrets={}))
    role = await _refused(fake, _credentials(role_arn="BedrockFineTuning"))

    assert "both the access key id and the secret access key" in half
    assert "does not lend its own AWS identity" in ambient
    assert "FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY" in ambient
    assert "arn:aws:iam::ACCOUNT:role/NAME" in role
    assert fake.requests == []


async def test_the_deployments_identity_acts_for_a_team_when_the_operator_allows_it(
    fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake.environment().items():
        monkeypatch.setenv(name, value)
    checker = BedrockCredentialsChecker(TeamProviderBuilder(), allow_ambient=True)

    await checker.check(_credentials(secrets={}))

    assert fake.requests_to("POST /"), "the default chain's identity was asked of STS"


def test_a_bucket_field_may_carry_its_prefix() -> None:
    assert bucket_and_prefix("team-bucket") == ("team-bucket", "finetune-bot/")
    assert bucket_and_prefix("team-bucket/ml/runs") == ("team-bucket", "ml/runs/")
    assert bucket_and_prefix("s3://team-bucket/ml/") == ("team-bucket", "ml/")
