"""Providers: training files staged in the team's S3 bucket, named by content, over aiobotocore.

Each object is named by the sha256 of what it holds (`<prefix>files/<sha256>.jsonl`, and a
job's converted form under `<prefix>converted/<sha256 of the canonical file>/`), so staging
the same bytes twice sends nothing. Large files go up in parts with progress; an unfinished
multipart upload is aborted (its parts are billed until then). No call sets an ACL: what the
bot stages is as private as the bucket.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from bot.providers.bedrock.account import BedrockAccount
from bot.providers.bedrock.errors import aws_call, classify
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import ProviderFile

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD: Final = 64 * 2**20
"""Files above this go up in parts (S3 takes at most 5 GB in one PUT)."""
PART_BYTES: Final = 16 * 2**20
"""S3's parts are at least 5 MiB, except the last."""
CONTENT_TYPE: Final = "application/jsonl"
_READ_BYTES: Final = 1 << 20

Progress = Callable[[int, int], None]
S3Client = Callable[[], Awaitable[Any]]
"""The account's S3 client, made on first use by the provider that owns it."""


class Staging:
    """Stage, read and delete one account's objects under its prefix."""

    def __init__(
        self,
        s3: S3Client,
        account: BedrockAccount,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self._s3 = s3
        self._bucket = account.bucket
        prefix = account.prefix
        self._prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._threshold = multipart_threshold
        self._part = part_bytes

    def key(self, *parts: str) -> str:
        return self._prefix + "/".join(parts)

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def staged_key(self, file_id: str) -> str:
        """The object key of a file id this account staged; NOT_FOUND for any other (an id
        from chat never names another bucket or a key outside the team's files)."""
        head = f"s3://{self._bucket}/"
        key = file_id.removeprefix(head)
        if key == file_id or not key.startswith(self.key("files/")) or ".." in key:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        return key

    @staticmethod
    def content_name(key: str) -> str:
        """The sha256 a staged file's key is named by."""
        return key.rsplit("/", 1)[-1].removesuffix(".jsonl")

    async def stage(self, path: Path, *, filename: str, progress: Progress | None) -> ProviderFile:
        """Stage the file at `<prefix>files/<sha256>.jsonl`, unless those bytes are there."""
        size, sha = await asyncio.to_thread(file_digest, path)
        key = self.key("files", f"{sha}.jsonl")
        found = await self.head(key)
        if found is None:
            await self.put(key, path, size, {"filename": quote(filename[:200])}, progress)
            found = await self.head(key)
            if found is None:
                raise ProviderError(ProviderErrorKind.SERVER, "the staged file is not there")
        if progress is not None:
            progress(size, size)
        return ProviderFile(
            id=self.uri(key),
            filename=unquote(found.get("Metadata", {}).get("filename", "")) or filename,
            bytes=int(found["ContentLength"]),
            created_at=_aware(found["LastModified"]),
            status="processed",
        )

    async def stage_beside(self, sha: str, name: str, path: Path) -> str:
        """Stage a file derived from the staged file `sha` (a job's converted form) under
        `<prefix>converted/<sha>/<name>`, unless it is there; its S3 URI."""
        key = self.key("converted", sha, name)
        if await self.head(key) is None:
            size = (await asyncio.to_thread(path.stat)).st_size
            await self.put(key, path, size, {}, None)
        return self.uri(key)

    def source_of(self, uri: str) -> str:
        """The file id of the staged file a converted form (`stage_beside`) was made from, so
        a job names the team's file as it was uploaded; any other URI as it came."""
        head = self.uri(self.key("converted", ""))
        sha, slash, _ = uri.removeprefix(head).partition("/")
        if not uri.startswith(head) or not slash or not sha:
            return uri
        return self.uri(self.key("files", f"{sha}.jsonl"))

    async def put(
        self,
        key: str,
        path: Path,
        size: int,
        metadata: Mapping[str, str],
        progress: Progress | None,
    ) -> None:
        s3 = await self._s3()
        if size > self._threshold:
            await self._multipart(key, path, size, metadata, progress)
            return
        body = await asyncio.to_thread(path.read_bytes)
        await aws_call(
            s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
                Metadata=dict(metadata),
            )
        )

    async def _multipart(
        self,
        key: str,
        path: Path,
        size: int,
        metadata: Mapping[str, str],
        progress: Progress | None,
    ) -> None:
        s3 = await self._s3()
        started = await aws_call(
            s3.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=CONTENT_TYPE, Metadata=dict(metadata)
            )
        )
        upload = started["UploadId"]
        parts: list[dict[str, object]] = []
        done = 0
        try:
            with path.open("rb") as source:
                while chunk := await asyncio.to_thread(source.read, self._part):
                    number = len(parts) + 1
                    sent = await aws_call(
                        s3.upload_part(
                            Bucket=self._bucket,
                            Key=key,
                            UploadId=upload,
                            PartNumber=number,
                            Body=chunk,
                        )
                    )
                    parts.append({"ETag": sent["ETag"], "PartNumber": number})
                    done += len(chunk)
                    if progress is not None:
                        progress(done, size)
            await aws_call(
                s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload,
                    MultipartUpload={"Parts": parts},
                )
            )
        except BaseException:
            try:
                await s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload)
            except (ClientError, BotoCoreError):
                log.warning("could not abort a multipart upload", extra={"key": key})
            raise

    async def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, None when there is no such object."""
        s3 = await self._s3()
        try:
            return dict(await s3.head_object(Bucket=self._bucket, Key=key))
        except (ClientError, BotoCoreError, OSError) as error:
            found = classify(error)
            if found.kind is ProviderErrorKind.NOT_FOUND:
                return None
            raise found from None

    async def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` (the listing's continuation tokens, 100 pages at most)."""
        s3 = await self._s3()
        found: list[str] = []
        token: str | None = None
        for _ in range(100):
            extra = {"ContinuationToken": token} if token else {}
            page = await aws_call(s3.list_objects_v2(Bucket=self._bucket, Prefix=prefix, **extra))
            found.extend(str(o["Key"]) for o in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                break
        return found

    async def read(self, key: str) -> bytes:
        s3 = await self._s3()
        answer = await aws_call(s3.get_object(Bucket=self._bucket, Key=key))
        async with answer["Body"] as body:
            data: bytes = await aws_call(body.read())
        return data

    async def download(self, key: str, target: Path) -> None:
        """The object's bytes into `target`, a part at a time (it may be gigabytes)."""
        s3 = await self._s3()
        answer = await aws_call(s3.get_object(Bucket=self._bucket, Key=key))
        with target.open("wb") as out:
            async with answer["Body"] as body:
                while chunk := await aws_call(body.read(_READ_BYTES)):
                    await asyncio.to_thread(out.write, chunk)

    async def delete(self, file_id: str) -> None:
        """Delete a staged file and every form of it staged beside it."""
        key = self.staged_key(file_id)
        if await self.head(key) is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        s3 = await self._s3()
        beside = await self.keys(self.key("converted", self.content_name(key)) + "/")
        for each in (*beside, key):
            await aws_call(s3.delete_object(Bucket=self._bucket, Key=each))

    async def probe(self, name: str) -> None:
        """Write and delete one empty object under the prefix: can this identity stage?"""
        s3 = await self._s3()
        key = self.key(name)
        await aws_call(s3.put_object(Bucket=self._bucket, Key=key, Body=b""))
        await aws_call(s3.delete_object(Bucket=self._bucket, Key=key))


def file_digest(path: Path) -> tuple[int, str]:
    """A file's size and sha256, read in parts."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_READ_BYTES):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ProviderError(ProviderErrorKind.INVALID_RESPONSE)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["MULTIPART_THRESHOLD", "PART_BYTES", "Staging", "file_digest"]
