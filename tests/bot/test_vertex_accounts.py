"""Vertex AI accounts and bad input through the core: setup (a service account, checked with a
token, a page of jobs and a write to the bucket), the deployment's identity, and the replies
for credentials that do not work, a bucket the identity cannot write, a region without the
base model and a file Gemini's form cannot express: one reply each, nothing staged or
started. Real google-genai and google-cloud-storage against the fake Vertex service and
gcp-storage-emulator, real google.auth service-account credentials."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from google.cloud import storage

from bot.directory import TeamProviderDirectory
from bot.providers.endpoint_policy import EndpointPolicy
from bot.providers.vertex.factory import TeamProviderBuilder, VertexKeyChecker
from handlers.model import Actor
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Reply, Tone, plain
from handlers.requests import SetupRequest
from handlers.secrets import Secret, looks_like_secret, redact
from storage import crypto
from tests.dbutil import AnyStore
from tests.fakes.clock import ManualClock
from tests.fakes.gcs_emulator import forbidding_gcs, gcs_client, gcs_emulator, gcs_reader
from tests.fakes.google_accounts import ServiceAccount, service_account
from tests.fakes.vertex_server import FakeVertex
from tests.world import World, actor, world, write_dataset

TEAM = "slack:T1"
TOKEN = "ya29.accounts-0123456789abcdefghij"
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


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with gcs_emulator(BUCKET) as url:
        yield url


@dataclass(frozen=True, slots=True, kw_only=True)
class Cloud:
    world: World
    fake: FakeVertex
    account: ServiceAccount
    bucket: storage.Bucket


@asynccontextmanager
async def cloud(
    tmp_path: Path, emulator: str, *, storage_url: str | None = None, ambient: bool = False
) -> AsyncIterator[Cloud]:
    """The deployment runs the sandbox; a team reaches Vertex with its own account."""
    client = gcs_client(emulator, project="acme-ml")
    bucket = client.bucket(BUCKET)
    for blob in list(bucket.list_blobs()):
        blob.delete()
    async with FakeVertex(token=TOKEN, read=gcs_reader(client), clock=lambda: 1.8e9) as fake:
        account = service_account(project="acme-ml")
        fake.service_accounts[account.email] = account.public_pem
        builder = TeamProviderBuilder(
            EndpointPolicy(ambient_identity=ambient),
            base_url=fake.base_url,
            storage_url=storage_url or emulator,
            token_uri=fake.token_uri,
        )
        built: list[TeamProviderDirectory] = []

        def directory(
            sandbox: FineTuning, store: AnyStore, clock: ManualClock
        ) -> ProviderDirectory:
            built.append(TeamProviderDirectory(store=store, fallback=sandbox, factory=builder))
            return built[0]

        async with world(tmp_path, directory=directory, keys=VertexKeyChecker(builder)) as w:
            try:
                yield Cloud(world=w, fake=fake, account=account, bucket=bucket)
            finally:
                await built[0].aclose()


def setup(key: str, **settings: str) -> SetupRequest:
    given = {"project": "acme-ml", "region": "us-central1", "bucket": BUCKET, **settings}
    return SetupRequest(
        provider="vertex", secrets={"service_account": Secret(key)}, settings=given
    )


async def test_a_team_sets_up_a_service_account_and_uploads_converted_staged_files(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        w = c.world
        reply = await w.service.handle(setup(c.account.key_file, prefix="teams/t1"), admin())
        assert reply.tone is Tone.SUCCESS, reply
        assert "private_key" not in repr(reply)
        assert not looks_like_secret(redact(repr(reply)))
        stored = await w.store.get_credentials(TEAM, "vertex")
        assert stored is not None
        assert stored.settings == {
            "project": "acme-ml",
            "region": "us-central1",
            "bucket": BUCKET,
            "prefix": "teams/t1",
        }
        assert json.loads(stored.api_key.reveal())["client_email"] == c.account.email
        # The check wrote nothing that stays.
        assert [b.name for b in c.bucket.list_blobs()] == []

        path = write_dataset(tmp_path / "train.jsonl")
        # Vertex became the team's default; its limits judge the file, for a model the
        # deployment's price table does not know too.
        checked = await w.run(f"validate {path} model=gemini-2.5-flash", actor())
        assert "Over the 131,072-token limit of gemini-2.5-flash" in _text(checked)
        uploaded = await w.run(f"upload {path} alias=train provider=vertex", actor())
        assert uploaded.tone is Tone.SUCCESS, uploaded
        names = sorted(b.name for b in c.bucket.list_blobs())
        assert [n.rsplit("/", 1)[0] for n in names] == ["teams/t1/gemini", "teams/t1/source"]
        gemini = c.bucket.blob(names[0]).download_as_bytes().decode().splitlines()
        first = json.loads(gemini[0])
        assert first["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
        assert [t["role"] for t in first["contents"]] == ["user", "model"]
        assert c.bucket.blob(names[1]).download_as_bytes() == path.read_bytes()

        # The same file again is found by its content; removing it deletes what was staged.
        again = await w.run(f"upload {path} alias=train2 provider=vertex", actor())
        assert "already uploaded" in plain(again.title)
        removed = await w.run("rm-file train", actor())
        assert removed.tone is Tone.SUCCESS, removed
        assert [b.name for b in c.bucket.list_blobs()] == []


async def test_a_key_google_refuses_gets_one_reply_and_nothing_is_stored(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        stranger = service_account(project="acme-ml", name="deleted")
        reply = await c.world.service.handle(setup(stranger.key_file), admin())
        assert reply.tone is Tone.ERROR
        assert "Google refused the service account's key" in plain(reply.title)
        assert "create a new JSON key" in plain(reply.title)
        assert "Nothing was stored." in plain(reply.title)
        assert "PRIVATE KEY" not in repr(reply)
        assert await c.world.store.get_credentials(TEAM, "vertex") is None
        # Its assertion went to the test's token endpoint, never to the file's token_uri.
        assert c.fake.requests_to("POST /token")


async def test_not_a_key_file_is_refused_by_shape_before_any_call(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        for pasted, expected in (
            ("sk-" + "a" * 40, "That is not JSON"),
            ('{"type": "authorized_user"}', "is not a service-account key"),
            ('{"type": "service_account", "project_id": "p"}', "The key file lacks"),
        ):
            reply = await c.world.service.handle(setup(pasted), admin())
            assert reply.tone is Tone.ERROR, pasted
            assert expected in plain(reply.title), (pasted, reply)
        assert c.fake.requests == []


async def test_a_region_vertex_does_not_have_is_named_with_the_fix(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        reply = await c.world.service.handle(
            setup(c.account.key_file, region="mars-central1"), admin()
        )
        assert reply.tone is Tone.ERROR
        assert "Vertex AI has no region mars-central1 for project acme-ml" in plain(reply.title)
        assert "e.g. us-central1" in plain(reply.title)
        assert await c.world.store.get_credentials(TEAM, "vertex") is None


async def test_a_missing_bucket_and_one_the_identity_cannot_write(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        reply = await c.world.service.handle(
            setup(c.account.key_file, bucket="no-such-bucket"), admin()
        )
        assert "There is no bucket gs://no-such-bucket" in plain(reply.title)
        assert await c.world.store.get_credentials(TEAM, "vertex") is None
    async with (
        forbidding_gcs() as forbidding,
        cloud(tmp_path / "2", emulator, storage_url=forbidding) as c,
    ):
        reply = await c.world.service.handle(setup(c.account.key_file), admin())
        assert reply.tone is Tone.ERROR
        assert f"The service account cannot write to gs://{BUCKET}" in plain(reply.title)
        assert "roles/storage.objectAdmin" in plain(reply.title)
        assert await c.world.store.get_credentials(TEAM, "vertex") is None


async def test_the_deployments_identity_only_when_the_operator_allows_it(
    tmp_path: Path, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ambient = SetupRequest(
        provider="vertex",
        settings={"project": "acme-ml", "region": "us-central1", "bucket": BUCKET},
    )
    async with cloud(tmp_path, emulator) as c:
        reply = await c.world.service.handle(ambient, admin())
        assert reply.tone is Tone.ERROR
        assert "does not lend its own Google identity" in plain(reply.title)
        assert "FINETUNE_BOT_AMBIENT_CLOUD_IDENTITY=true" in plain(reply.title)
        assert await c.world.store.get_credentials(TEAM, "vertex") is None
    async with cloud(tmp_path / "2", emulator, ambient=True) as c:
        # Application Default Credentials: here a key file the environment names, whose
        # tokens come from the fake's token endpoint (google.auth reads no metadata server).
        deployment = service_account(
            project="acme-ml", name="deployment", token_uri=c.fake.token_uri
        )
        c.fake.service_accounts[deployment.email] = deployment.public_pem
        adc = tmp_path / "adc.json"
        adc.write_text(deployment.key_file)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        reply = await c.world.service.handle(ambient, admin())
        assert reply.tone is Tone.SUCCESS, reply
        assert "deployment's own cloud identity" in _text(reply)
        stored = await c.world.store.get_credentials(TEAM, "vertex")
        assert stored is not None
        assert stored.ambient


async def test_a_file_gemini_cannot_express_is_refused_per_line_and_nothing_is_staged(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        w = c.world
        assert (await w.service.handle(setup(c.account.key_file), admin())).tone is Tone.SUCCESS
        lines = [
            json.loads(line)
            for line in write_dataset(tmp_path / "a.jsonl").read_text().splitlines()
        ]
        lines[4]["messages"][1]["content"] = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]
        path = tmp_path / "images.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        for forced in ("", " force=yes"):
            reply = await w.run(f"upload {path} alias=img provider=vertex{forced}", actor())
            assert reply.tone is Tone.ERROR
            text = _text(reply)
            assert "line 5: an image_url part; Gemini tuning takes text only here" in text
            assert text.count("line 5") == 1
        assert [b.name for b in c.bucket.list_blobs()] == []
        assert await w.store.get_file(TEAM, "img") is None


async def test_a_start_in_a_region_without_the_base_model_starts_nothing(
    tmp_path: Path, emulator: str
) -> None:
    async with cloud(tmp_path, emulator) as c:
        w = c.world
        saved = await w.service.handle(setup(c.account.key_file, region="europe-west9"), admin())
        assert saved.tone is Tone.SUCCESS, saved
        path = write_dataset(tmp_path / "train.jsonl")
        assert (await w.run(f"upload {path} alias=train provider=vertex", actor())).tone is (
            Tone.SUCCESS
        )
        reply = await w.run(
            "start file=train model=gemini-2.5-flash provider=vertex epochs=1", actor()
        )
        assert reply.tone is Tone.ERROR
        text = _text(reply)
        assert "gemini-2.5-flash cannot be tuned in europe-west9" in text
        assert "set the team's region again with /finetune setup" in text
        assert c.fake.jobs == {}
        assert await w.store.list_jobs(TEAM) == []
