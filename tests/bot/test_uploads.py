"""Adapter tests: OpenAIProvider uploads (Files API, then the Uploads API in parts) on the fake."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.providers.openai.provider import (
    FILES_API_MAX_BYTES,
    MAX_UPLOAD_BYTES,
    UPLOAD_PART_BYTES,
    OpenAIProvider,
)
from handlers.errors import ProviderError, ProviderErrorKind
from tests.fakes.openai_server import FakeOpenAI, Fault, Route

API_KEY = "sk-test-uploads-0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=API_KEY) as server:
        yield server
    assert server.errors == []


def provider_for(fake: FakeOpenAI, *, threshold: int, part: int) -> OpenAIProvider:
    return OpenAIProvider.openai(
        API_KEY,
        base_url=fake.base_url,
        timeout=5,
        max_retries=0,
        chunked_threshold=threshold,
        part_bytes=part,
    )


def big_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "big.jsonl"
    line = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}]}\n'
    with path.open("wb") as out:
        written = 0
        while written < size:
            out.write(line)
            written += len(line)
    return path


def test_default_threshold_is_the_files_api_limit() -> None:
    assert FILES_API_MAX_BYTES == 512 * 1024 * 1024
    assert UPLOAD_PART_BYTES == 64 * 1024 * 1024
    assert MAX_UPLOAD_BYTES == 8 * 1024**3
    defaults = inspect.signature(OpenAIProvider.__init__).parameters
    assert defaults["chunked_threshold"].default == FILES_API_MAX_BYTES
    assert defaults["part_bytes"].default == UPLOAD_PART_BYTES


async def test_file_under_threshold_uses_files_api(fake: FakeOpenAI, tmp_path: Path) -> None:
    path = big_file(tmp_path, 10_000)
    seen: list[tuple[int, int]] = []
    async with provider_for(fake, threshold=1 << 20, part=1 << 18) as provider:
        uploaded = await provider.upload_file(
            path, filename="t.jsonl", progress=lambda d, t: seen.append((d, t))
        )
    assert fake.file_contents[uploaded.id] == path.read_bytes()
    assert len(fake.requests_to(Route.UPLOAD_FILE)) == 1
    assert fake.requests_to(Route.CREATE_UPLOAD) == []
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


async def test_file_over_threshold_goes_in_parts_with_md5_and_progress(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    path = big_file(tmp_path, 3 << 20)  # 3 MB against a 1 MB threshold and 512 KB parts
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    async with provider_for(fake, threshold=1 << 20, part=512 << 10) as provider:
        uploaded = await provider.upload_file(
            path, filename="big.jsonl", progress=lambda d, t: seen.append((d, t))
        )
    assert fake.requests_to(Route.UPLOAD_FILE) == []
    create = fake.requests_to(Route.CREATE_UPLOAD)[0].json
    assert create == {
        "bytes": size,
        "filename": "big.jsonl",
        "mime_type": "text/jsonl",
        "purpose": "fine-tune",
    }
    parts = fake.requests_to(Route.ADD_UPLOAD_PART)
    assert len(parts) == -(-size // (512 << 10))
    complete = fake.requests_to(Route.COMPLETE_UPLOAD)[0].json
    assert complete["md5"] == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    assert len(complete["part_ids"]) == len(parts)
    assert fake.file_contents[uploaded.id] == path.read_bytes()
    assert uploaded.bytes == size
    assert uploaded.filename == "big.jsonl"
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (size, size)
    assert len(seen) == len(parts)


async def test_a_failed_part_cancels_the_upload(fake: FakeOpenAI, tmp_path: Path) -> None:
    path = big_file(tmp_path, 2 << 20)
    fake.inject(Route.ADD_UPLOAD_PART, Fault.error(400, "bad part"))
    async with provider_for(fake, threshold=1 << 20, part=512 << 10) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.upload_file(path, filename="big.jsonl")
    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert len(fake.requests_to(Route.CANCEL_UPLOAD)) == 1
    assert [u["status"] for u in fake.uploads.values()] == ["cancelled"]
    assert fake.files == {}


async def test_over_8_gb_is_refused_before_any_request(fake: FakeOpenAI, tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no disk used
    async with provider_for(fake, threshold=1 << 20, part=512 << 10) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.upload_file(path, filename="huge.jsonl")
    assert caught.value.kind is ProviderErrorKind.BAD_REQUEST
    assert fake.requests_to(Route.CREATE_UPLOAD) == []
