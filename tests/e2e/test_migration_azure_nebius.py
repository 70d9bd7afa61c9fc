"""Moving a fine-tune off OpenAI onto Azure OpenAI and onto Nebius Token Factory, end to end: a
job trained at OpenAI (the real openai SDK against the fake OpenAI server), its recipe replayed
with one command at Azure (AsyncAzureOpenAI against the fake in Azure mode, the team's own
resource) and at Nebius (the openai SDK against a second fake in OpenAI's shape, the team's own
key), each new model compared with the old one across the two providers, through the core as
every chat adapter drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.azure.factory import TeamProviderBuilder as AzureTeams
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.nebius.factory import NebiusKeyChecker
from bot.providers.nebius.factory import TeamProviderBuilder as NebiusTeams
from bot.providers.openai.factory import OpenAIKeyChecker
from bot.providers.openai.provider import OpenAIProvider
from handlers.actions import button_request
from handlers.model import Actor, TeamCredentials
from handlers.ports import FineTuning, KeyChecker, ProviderDirectory
from handlers.replies import Reply, Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI, Route
from tests.world import World, actor, world, write_dataset

pytestmark = pytest.mark.e2e
OPENAI_KEY = "sk-proj-" + "Mig2" * 10
AZURE_KEY = "0123456789abcdef" * 2
NEBIUS_KEY = "nebius-" + "Mig3" * 8
GPT = "gpt-4o-mini-2024-07-18"
LLAMA = "meta-llama/Meta-Llama-3.1-8B-Instruct"
TEAM = "slack:T1"


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


def _text(reply: Reply) -> str:
    return "\n".join([plain(reply.title), *(plain(line) for line in reply.lines)])


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


class Fakes:
    def __init__(self, openai: FakeOpenAI, azure: FakeOpenAI, nebius: FakeOpenAI) -> None:
        self.openai = openai
        self.azure = azure
        self.nebius = nebius


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeOpenAI(api_key=AZURE_KEY, azure=True, first_id=1000) as azure,
        FakeOpenAI(api_key=NEBIUS_KEY, first_id=2000) as nebius,
    ):
        nebius.add_model(LLAMA, owned_by="system")
        yield Fakes(openai, azure, nebius)
        for fake in (openai, azure, nebius):
            assert fake.errors == []


class ByFamily:
    """The team factory and key check of each family the team sets up (as the runtime's
    directory picks them from the registry), Nebius's pointed at its fake."""

    def __init__(self, nebius_url: str) -> None:
        # The fakes listen on loopback over http: allowed for this test only.
        policy = EndpointPolicy(allowlist="127.0.0.1/32")
        self.azure = AzureTeams(policy)
        self.nebius = NebiusTeams(base_url=nebius_url)
        self.checks: dict[str, KeyChecker] = {
            "azure": OpenAIKeyChecker(policy, self.azure),
            "nebius": NebiusKeyChecker(self.nebius),
        }

    def __call__(self, credentials: TeamCredentials) -> FineTuning:
        return (
            self.nebius(credentials)
            if credentials.provider == "nebius"
            else self.azure(credentials)
        )

    async def check(self, credentials: TeamCredentials) -> None:
        await self.checks[credentials.provider].check(credentials)


async def _until(w: World, fake: FakeOpenAI, job_id: str) -> None:
    """Move the fake's jobs on and let the watcher see them, until the job has finished."""
    for _ in range(80):
        fake.advance()
        await w.settle(seconds=5)
        job = await w.store.get_job(TEAM, job_id)
        assert job is not None
        if job.state.terminal:
            return
    raise AssertionError(f"{job_id} never finished")


async def _trained_at_openai(w: World, tmp_path: Path, fakes: Fakes) -> tuple[str, str]:
    train = write_dataset(tmp_path / "train.jsonl")
    held = write_dataset(tmp_path / "held.jsonl", n=10)
    assert (await w.run(f"upload {train} alias=train", actor())).tone is Tone.SUCCESS
    assert (await w.run(f"upload {held} alias=held", actor())).tone is Tone.SUCCESS
    started = await w.run(
        f"start file=train validation=held model={GPT} epochs=2 lr=2 suffix=support", actor()
    )
    assert started.tone is Tone.SUCCESS, started
    [old] = await w.store.list_jobs(TEAM)
    await _until(w, fakes.openai, old.id)
    finished = await w.store.get_job(TEAM, old.id)
    assert finished is not None
    assert finished.state.fine_tuned_model is not None
    return old.id, finished.state.fine_tuned_model


@asynccontextmanager
async def _world(tmp_path: Path, fakes: Fakes) -> AsyncIterator[World]:
    """The core with the deployment's OpenAI account and the team's own keys per family."""
    deployment = OpenAIProvider.openai(api_key=OPENAI_KEY, base_url=fakes.openai.base_url)
    teams = ByFamily(fakes.nebius.base_url)
    built: list[TeamProviderDirectory] = []

    def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        built.append(TeamProviderDirectory(store=store, fallback=deployment, factory=teams))
        return built[0]

    try:
        async with world(tmp_path, directory=directory, keys=teams) as w:
            yield w
    finally:
        for made in built:
            await made.aclose()  # the team's clients
        await deployment.aclose()


async def test_an_openai_job_replayed_at_azure_and_compared_across_providers(
    tmp_path: Path, fakes: Fakes
) -> None:
    async with _world(tmp_path, fakes) as w:
        old_id, old_model = await _trained_at_openai(w, tmp_path, fakes)

        # An admin sets up the team's Azure resource; the key is checked against it.
        saved = await w.service.handle(
            SetupRequest(
                provider="azure",
                api_key=Secret(AZURE_KEY),
                endpoint=fakes.azure.azure_endpoint,
                api_version="2024-10-21",
            ),
            admin(),
        )
        assert saved.tone is Tone.SUCCESS, saved
        assert fakes.azure.requests_to(Route.LIST_MODELS), "the key was checked at Azure"

        # One command: Azure takes every option as OpenAI meant it, so all carry.
        replayed = await w.run(f"start like={old_id} provider=azure model={GPT}", actor())
        assert replayed.tone is Tone.SUCCESS, replayed
        text = _text(replayed)
        assert f"Recipe of {old_id} (OpenAI) on Azure OpenAI, as it was asked." in text
        assert "Carried: epochs=2, lr=2, suffix=support." in text
        assert "Training gpt-4o-mini-2024-07-18 at Azure OpenAI ends no earlier than" in text
        [new_id] = fakes.azure.jobs
        sent = fakes.azure.requests_to(Route.CREATE_JOB)[0]
        assert sent.json["model"] == GPT
        assert sent.json["trainingType"] == "globalstandard"
        assert sent.json["method"]["supervised"]["hyperparameters"] == {
            "n_epochs": 2,
            "learning_rate_multiplier": 2.0,
        }
        assert sent.query["api-version"] == "2024-10-21"
        new = await w.store.get_job(TEAM, new_id)
        assert new is not None
        assert (new.provider, new.origin) == ("azure", old_id)

        await _until(w, fakes.azure, new_id)
        notices = [
            p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
        ]
        assert notices, "the replay's completion notice"
        assert "Before Try" in {f.name for f in notices[-1].fields}
        compare = {b.label: b for b in notices[-1].buttons}[f"Compare with {old_model}"]

        # Deployed (as the notice asks), the new model compares with the old at OpenAI.
        new_model = fakes.azure.jobs[new_id]["fine_tuned_model"]
        fakes.azure.deploy(new_model)
        result = await w.service.handle(button_request(compare.action, compare.value), actor())
        assert result.tone is Tone.SUCCESS, result
        shown = _text(result)
        assert f"B = {old_model} (OpenAI)" in shown
        assert "(Azure OpenAI)" in shown
        assert result.table is not None
        rows = {row[0]: row[1:] for row in result.table.rows}
        assert rows["errors"] == ("0", "0")
        assert fakes.azure.requests_to(Route.AZURE_CHAT)


async def test_an_openai_job_replayed_at_nebius_lists_what_cannot_carry_first(
    tmp_path: Path, fakes: Fakes
) -> None:
    async with _world(tmp_path, fakes) as w:
        old_id, old_model = await _trained_at_openai(w, tmp_path, fakes)
        saved = await w.service.handle(
            SetupRequest(provider="nebius", api_key=Secret(NEBIUS_KEY)), admin()
        )
        assert saved.tone is Tone.SUCCESS, saved

        # OpenAI's lr is a multiplier, Nebius's an absolute rate: listed first, nothing sent.
        refused = await w.run(f"start like={old_id} provider=nebius model={LLAMA}", actor())
        assert refused.tone is Tone.WARNING, refused
        assert plain(refused.title).startswith(f"Not started: 1 option of {old_id}")
        assert plain(refused.lines[0]).startswith("• lr=2: ")
        assert "Nebius Token Factory" in plain(refused.lines[0])
        assert fakes.nebius.jobs == {}
        assert fakes.nebius.files == {}

        # One command with Nebius's default for it.
        replayed = await w.run(
            f"start like={old_id} provider=nebius model={LLAMA} defaults=yes", actor()
        )
        assert replayed.tone is Tone.SUCCESS, replayed
        assert plain(replayed.lines[0]) == (
            "Left to Nebius Token Factory's defaults (defaults=yes): lr=2."
        )
        assert "Carried: epochs=2, suffix=support." in _text(replayed)
        [new_id] = fakes.nebius.jobs
        sent = fakes.nebius.requests_to(Route.CREATE_JOB)[0].json
        assert sent["model"] == LLAMA
        assert sent["hyperparameters"] == {"n_epochs": 2}
        assert "method" not in sent
        await _until(w, fakes.nebius, new_id)
        notices = [
            p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
        ]
        compare = {b.label: b for b in notices[-1].buttons}[f"Compare with {old_model}"]
        result = await w.service.handle(button_request(compare.action, compare.value), actor())
        assert result.tone is Tone.SUCCESS, result
        shown = _text(result)
        assert f"B = {old_model} (OpenAI)" in shown
        assert "(Nebius Token Factory)" in shown
