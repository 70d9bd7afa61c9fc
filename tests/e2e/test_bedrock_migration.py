"""Moving a fine-tune off OpenAI onto Amazon Bedrock, end to end: a job trained at OpenAI (the
real openai SDK against the fake OpenAI server), its recipe replayed on Amazon Nova with one
command (the real aiobotocore clients against moto's S3 and the Bedrock fake, on the team's own
AWS account, the data converted to Bedrock's conversation form and staged in the bucket), and
the new model, once the team deploys it, compared with the old one across the two providers,
through the core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.bedrock.factory import BedrockCredentialsChecker, TeamProviderBuilder
from bot.providers.openai.provider import OpenAIProvider
from handlers.actions import button_request
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.e2e.migration_steps import TEAM, admin, text_of, trained_at_openai, until_finished
from tests.fakes.bedrock_server import ACCESS_KEY, BUCKET, ROLE, SECRET_KEY, FakeBedrock
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI
from tests.world import actor, world

pytestmark = pytest.mark.e2e
OPENAI_KEY = "sk-proj-" + "Mig3" * 10
NOVA = "amazon.nova-micro-v1:0:128k"
PREFIX = "acme/"


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeBedrock]]:
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeBedrock(clock=lambda: 1_800_000_000.0) as bedrock,
    ):
        # The team deploys its custom model itself, after the job (the console's step).
        bedrock.deploy_on_completion = False
        yield openai, bedrock


async def test_an_openai_job_replayed_on_bedrock_and_compared_across_providers(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeBedrock]
) -> None:
    openai, bedrock = fakes
    deployment = OpenAIProvider.openai(api_key=OPENAI_KEY, base_url=openai.base_url)
    teams = TeamProviderBuilder(endpoints=bedrock.endpoints())
    built: list[TeamProviderDirectory] = []

    def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        built.append(TeamProviderDirectory(store=store, fallback=deployment, factory=teams))
        return built[0]

    checker = BedrockCredentialsChecker(teams)
    async with world(tmp_path, directory=directory, keys=checker) as w:
        try:
            old = await trained_at_openai(
                w, openai, tmp_path, "epochs=2 lr=2 seed=7 suffix=support"
            )
            old_model = old.state.fine_tuned_model

            # An admin sets up the team's AWS account (checked there); OpenAI stays default.
            saved = await w.service.handle(
                SetupRequest(
                    provider="bedrock",
                    api_key=Secret(ACCESS_KEY),
                    secrets={"secret_access_key": Secret(SECRET_KEY)},
                    settings={
                        "region": "us-east-1",
                        "role_arn": ROLE,
                        "bucket": f"{BUCKET}/{PREFIX}",
                    },
                ),
                admin(),
            )
            assert saved.tone is Tone.SUCCESS, saved
            assert (await w.run("setup default=openai", admin())).tone is Tone.SUCCESS

            # One command. OpenAI's lr multiplies OpenAI's own rate, Bedrock's learningRate is
            # absolute, and Bedrock takes no seed: both are listed first, nothing is staged or
            # created until the team decides.
            asked = await w.run(f"start like={old.id} provider=bedrock model={NOVA}", actor())
            assert asked.tone is Tone.WARNING, asked
            said = text_of(asked)
            assert said.startswith(f"Not started: 2 options of {old.id} cannot be carried")
            lines = [plain(line) for line in asked.lines]
            lost = [line for line in lines if line.startswith("• ")]
            assert lost[0].startswith(
                "• lr=2: OpenAI's lr is a multiplier of its own base rate; "
                "Amazon Bedrock's is an absolute rate."
            ), lost
            assert lost[1].startswith("• seed=7: Amazon Bedrock has no seed option."), lost
            assert lines[: len(lost)] == lost, "what cannot carry comes first"
            assert "Carried: epochs=2, suffix=support." in said
            assert "Nothing was uploaded or started." in said
            assert bedrock.jobs == {}
            assert bedrock.objects(PREFIX) == {}, "nothing was staged"

            # The team gives Bedrock's own rate and leaves the seed to its default.
            replayed = await w.run(
                f"start like={old.id} provider=bedrock model={NOVA} lr=0.00001 defaults=yes",
                actor(),
            )
            assert replayed.tone is Tone.SUCCESS, replayed
            text = text_of(replayed)
            assert "Left to Amazon Bedrock's defaults (defaults=yes): seed=7." in text
            assert f"Recipe of {old.id} (OpenAI) on Amazon Bedrock, as it was asked." in text
            assert "Carried: epochs=2, suffix=support." in text
            assert "Given now: lr=1e-05." in text
            assert "Sent 'train' to bedrock as 'train-bedrock'" in text
            assert "Sent 'held' to bedrock as 'held-bedrock'" in text
            [new_id] = bedrock.jobs
            sent = bedrock.jobs[new_id]
            assert sent["baseModelArn"].endswith(f"foundation-model/{NOVA}")
            # Bedrock's hyperParameters are strings.
            assert sent["hyperParameters"] == {"epochCount": "2", "learningRate": "1e-05"}
            assert sent["roleArn"] == ROLE
            training = sent["trainingDataConfig"]["s3Uri"]
            [validator] = sent["validationDataConfig"]["validators"]
            for uri in (training, validator["s3Uri"]):
                assert uri.startswith(f"s3://{BUCKET}/{PREFIX}converted/"), uri
            staged = bedrock.objects(training.removeprefix(f"s3://{BUCKET}/"))
            (content,) = staged.values()
            first = json.loads(content.splitlines()[0])
            assert first["schemaVersion"] == "bedrock-conversation-2024"
            assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
            new = await w.store.get_job(TEAM, new_id)
            assert new is not None
            assert (new.provider, new.origin) == ("bedrock", old.id)

            finished = await until_finished(w, bedrock, new_id)
            new_model = bedrock.jobs[new_id]["outputModelArn"]
            assert finished.state.fine_tuned_model == new_model
            # The job names the team's files as staged, not the converted forms it trains on.
            held = finished.state.validation_file
            named = await w.store.get_file(TEAM, held) if held else None
            assert named is not None, held
            assert named.alias == "held-bedrock"
            points = await w.store.list_metric_points(TEAM, new_id)
            assert [p.step for p in points] == [1, 2, 3]  # from the step-wise CSV
            notices = [
                p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
            ]
            assert notices, "the replay's completion notice"
            buttons = {b.label: b for b in notices[-1].buttons}
            compare = buttons[f"Compare with {old_model}"]

            # Not deployed yet: the comparison says what to set up, and asks nothing of it.
            undeployed = await w.service.handle(
                button_request(compare.action, compare.value), actor()
            )
            assert undeployed.tone is not Tone.SUCCESS, undeployed
            assert "on-demand deployment" in text_of(undeployed)
            assert not bedrock.requests_to("POST /model/{model}/converse")

            # The team deploys it; the tuned Nova answers through Converse on the deployment,
            # the old model still at OpenAI, on the original validation set (from its copy).
            deployed = bedrock.deploy(new_model)
            result = await w.service.handle(button_request(compare.action, compare.value), actor())
            assert result.tone is Tone.SUCCESS, result
            shown = text_of(result)
            assert f"B = {old_model} (OpenAI)" in shown
            assert "(Amazon Bedrock)" in shown
            assert "of 'held-bedrock'" in shown
            assert result.table is not None
            rows = {row[0]: row[1:] for row in result.table.rows}
            assert rows["errors"] == ("0", "0")
            conversed = bedrock.requests_to("POST /model/{model}/converse")
            assert conversed
            assert {r.path for r in conversed} == {f"/model/{deployed}/converse"}
        finally:
            await built[0].aclose()
            await deployment.aclose()
