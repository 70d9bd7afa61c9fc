"""Provider tests: staging to GCS against gcp-storage-emulator, idempotent by content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.providers.vertex.staging import Bucket, Staging
from handlers.errors import CredentialsRefused, ProviderError
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with gcs_emulator("team-bucket") as url:
        yield url


async def test_staging_is_idempotent_by_name_resumable_and_removable(
    endpoint: str, tmp_path: Path
) -> None:
    client = gcs_client(endpoint)
    staging = Staging(client, Bucket(name="team-bucket", prefix="ftbot/t1/"))
    path = tmp_path / "train.jsonl"
    content = b'{"contents": []}\n' * 600_000  # over 8 MB: resumable, in chunks
    path.write_bytes(content)
    seen: list[tuple[int, int]] = []
    name = f"{hashlib.sha256(content).hexdigest()}.jsonl"
    uri = await staging.stage(path, name, progress=lambda d, t: seen.append((d, t)))
    digest = hashlib.sha256(content).hexdigest()
    assert uri == f"gs://team-bucket/ftbot/t1/{digest}.jsonl"
    assert seen[-1] == (len(content), len(content))
    assert len(seen) > 2
    assert await staging.read(uri) == content
    blob = client.bucket("team-bucket").get_blob(f"ftbot/t1/{digest}.jsonl")
    assert blob is not None
    assert blob.size == len(content)
    created = blob.generation
    assert await staging.exists(uri)
    again = await staging.stage(path, name)  # there already: not uploaded again
    assert again == uri
    blob = client.bucket("team-bucket").get_blob(f"ftbot/t1/{digest}.jsonl")
    assert blob is not None
    assert blob.generation == created
    await staging.delete(uri)
    assert not await staging.exists(uri)
    assert client.bucket("team-bucket").get_blob(f"ftbot/t1/{digest}.jsonl") is None
    with pytest.raises(ProviderError):
        await staging.read("gs://someone-else/x.jsonl")


async def test_a_missing_bucket_is_named_with_the_fix(endpoint: str) -> None:
    staging = Staging(gcs_client(endpoint), Bucket(name="no-such-bucket"))
    with pytest.raises(CredentialsRefused, match="There is no bucket gs://no-such-bucket"):
        await staging.check_writable()
    await Staging(gcs_client(endpoint), Bucket(name="team-bucket")).check_writable()
