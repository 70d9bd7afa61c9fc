"""Moving a fine-tune off OpenAI onto Vertex AI, end to end: a job trained at OpenAI (the real
openai SDK against the fake OpenAI server), its recipe replayed on Gemini with one command
(google-genai in Vertex mode against the fake Vertex service, reached with the team's own
service account, the data converted to Gemini's form and staged in the emulated bucket), and
the new model compared with the old one across the two providers, through the core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.openai.provider import OpenAIProvider
from bot.providers.vertex.factory import TeamProviderBuilder, VertexKeyChecker
from handlers.actions import button_request
from handlers.model import Actor
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Reply, Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator, gcs_reader
from tests.fakes.google_accounts import service_account
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.vertex_server import BASE_MODELS, FakeVertex
from tests.world import World, actor, world, write_dataset

pytestmark = pytest.mark.e2e
OPENAI_KEY = "sk-proj-" + "Mig1" * 10
TOKEN = "ya29.migration-0123456789abcdefghij"
GPT = "gpt-4.1-mini-2025-04-14"
GEMINI = BASE_MODELS[0]
TEAM = "slack:T1"
BUCKET = "acme-ftbot"


def admin() -> Actor:
    return replace(actor(user="UA"), is_workspace_admin=True)


def _text(reply: Reply) -> str:
    return "\n".join([plain(reply.title), *(plain(line) for line in reply.lines)])


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
def storage_url() -> Iterator[str]:
    with gcs_emulator(BUCKET) as url:
        yield url


@pytest.fixture
async def fakes(storage_url: str) -> AsyncIterator[tuple[FakeOpenAI, FakeVertex]]:
    read = gcs_reader(gcs_client(storage_url))
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeVertex(token=TOKEN, read=read, clock=lambda: 1_800_000_000.0) as vertex,
    ):
        yield openai, vertex


async def _until(w: World, fake: FakeOpenAI | FakeVertex, job_id: str) -> None:
    """Move the fake's jobs on and let the watcher see them, until the job has finished."""
    for _ in range(80):
        fake.advance()
        await w.settle(seconds=5)
        job = await w.store.get_job(TEAM, job_id)
        assert job is not None
        if job.state.terminal:
            return
    raise AssertionError(f"{job_id} never finished")


async def test_an_openai_job_replayed_on_vertex_and_compared_across_providers(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeVertex], storage_url: str
) -> None:
    openai, vertex = fakes
    account = service_account(project="acme-ml")
    vertex.service_accounts[account.email] = account.public_pem
    deployment = OpenAIProvider.openai(api_key=OPENAI_KEY, base_url=openai.base_url)
    teams = TeamProviderBuilder(
        EndpointPolicy(),
        base_url=vertex.base_url,
        storage_url=storage_url,
        token_uri=vertex.token_uri,
    )
    built: list[TeamProviderDirectory] = []

    def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        built.append(TeamProviderDirectory(store=store, fallback=deployment, factory=teams))
        return built[0]

    async with world(tmp_path, directory=directory, keys=VertexKeyChecker(teams)) as w:
        try:
            # The team trains at OpenAI, as before the end date.
            train = write_dataset(tmp_path / "train.jsonl")
            held = write_dataset(tmp_path / "held.jsonl", n=10)
            assert (await w.run(f"upload {train} alias=train", actor())).tone is Tone.SUCCESS
            assert (await w.run(f"upload {held} alias=held", actor())).tone is Tone.SUCCESS
            started = await w.run(
                f"start file=train validation=held model={GPT} epochs=2 lr=2 suffix=support",
                actor(),
            )
            assert started.tone is Tone.SUCCESS, started
            [old] = await w.store.list_jobs(TEAM)
            await _until(w, openai, old.id)
            finished = await w.store.get_job(TEAM, old.id)
            assert finished is not None
            old_model = finished.state.fine_tuned_model
            assert old_model is not None

            # An admin sets up Vertex with the team's service account; OpenAI stays default.
            saved = await w.service.handle(
                SetupRequest(
                    provider="vertex",
                    secrets={"service_account": Secret(account.key_file)},
                    settings={"project": "acme-ml", "region": "us-central1", "bucket": BUCKET},
                ),
                admin(),
            )
            assert saved.tone is Tone.SUCCESS, saved
            assert (await w.run("setup default=openai", admin())).tone is Tone.SUCCESS

            # One command: the same data (converted to Gemini's form), options and suffix.
            replayed = await w.run(f"start like={old.id} provider=vertex model={GEMINI}", actor())
            assert replayed.tone is Tone.SUCCESS, replayed
            text = _text(replayed)
            assert f"Recipe of {old.id} (OpenAI) on Vertex AI, as it was asked." in text
            # OpenAI's lr and Vertex's are both multipliers of the provider's own rate.
            assert "Carried: epochs=2, lr=2, suffix=support." in text
            assert "Sent 'train' to vertex as 'train-vertex'" in text
            [new_id] = vertex.jobs
            sent = vertex.jobs[new_id]
            spec = sent["supervisedTuningSpec"]
            assert sent["baseModel"] == GEMINI
            assert spec["hyperParameters"] == {"epochCount": 2, "learningRateMultiplier": 2.0}
            assert spec["trainingDatasetUri"].startswith(f"gs://{BUCKET}/finetune-bot/gemini/")
            assert spec["validationDatasetUri"].startswith(f"gs://{BUCKET}/finetune-bot/gemini/")
            assert sent["tunedModelDisplayName"] == "support"
            staged = (
                gcs_client(storage_url)
                .bucket(BUCKET)
                .blob(spec["trainingDatasetUri"].removeprefix(f"gs://{BUCKET}/"))
            )
            first = json.loads(staged.download_as_bytes().splitlines()[0])
            assert [t["role"] for t in first["contents"]] == ["user", "model"]
            new = await w.store.get_job(TEAM, new_id)
            assert new is not None
            assert (new.provider, new.origin) == ("vertex", old.id)

            await _until(w, vertex, new_id)
            notices = [
                p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
            ]
            assert notices, "the replay's completion notice"
            buttons = {b.label: b for b in notices[-1].buttons}
            compare = buttons[f"Compare with {old_model}"]

            # The comparison: the tuned Gemini at its endpoint, the old model still serving at
            # OpenAI, on the original validation set (read back from the staged canonical copy).
            result = await w.service.handle(button_request(compare.action, compare.value), actor())
            assert result.tone is Tone.SUCCESS, result
            shown = _text(result)
            assert f"B = {old_model} (OpenAI)" in shown
            assert "(Vertex AI)" in shown
            assert "of 'held-vertex'" in shown
            assert result.table is not None
            rows = {row[0]: row[1:] for row in result.table.rows}
            assert rows["errors"] == ("0", "0")
            assert vertex.requests_to("POST /endpoints/{endpoint}")
        finally:
            await built[0].aclose()
            await deployment.aclose()
