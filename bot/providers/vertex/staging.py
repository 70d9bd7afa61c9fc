"""Provider layer: training files staged in the team's GCS bucket (google-cloud-storage).

The provider names each object by the sha256 of what it holds, so staging the same content
twice uploads once: uploads are created only if absent, and resumable, in
chunks with progress (google-cloud-storage sends a file up to 8 MB in one request). The bot
never changes a bucket's or an object's access: what it stages is as private as the bucket.
google-cloud-storage is blocking, so each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_errors
from google.cloud import storage

from handlers.errors import CredentialsRefused, ProviderError, ProviderErrorKind

CHUNK_BYTES: Final = 8 * 256 * 1024
"""A resumable upload's chunk (a multiple of 256 KiB, as GCS requires)."""
CONTENT_TYPE: Final = "application/jsonl"


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """Where a team's files go: `gs://<name>/<prefix>`."""

    name: str
    prefix: str = ""

    def uri(self, object_name: str) -> str:
        return f"gs://{self.name}/{object_name}"

    def object_of(self, uri: str) -> str | None:
        """The object a `gs://` URI of this bucket names, None if it is another bucket's."""
        head = f"gs://{self.name}/"
        return uri[len(head) :] if uri.startswith(head) else None


def normal_prefix(prefix: str) -> str:
    cleaned = prefix.strip().strip("/")
    return f"{cleaned}/" if cleaned else ""


class _Counted:
    """A file read in chunks that reports the bytes read so far."""

    def __init__(self, handle: IO[bytes], total: int, progress: Callable[[int, int], None]):
        self._handle = handle
        self._total = total
        self._done = 0
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._done += len(chunk)
        self._progress(self._done, self._total)
        return chunk

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)


class Staging:
    """Stage, read and delete a team's objects in one bucket."""

    def __init__(self, client: storage.Client, bucket: Bucket) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> Bucket:
        return self._bucket

    def close(self) -> None:
        """Close the client's HTTP session."""
        self._client.close()

    async def stage(
        self,
        path: Path,
        name: str,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """The `gs://` URI of `path`'s bytes at object `name` (below the prefix), uploaded
        unless an object of that name is there already."""
        return await asyncio.to_thread(self._stage, path, name, progress)

    def _stage(self, path: Path, name: str, progress: Callable[[int, int], None] | None) -> str:
        name = self._bucket.prefix + name
        blob = self._blob(name)
        size = path.stat().st_size
        with _errors():
            if blob.exists():
                if progress is not None:
                    progress(size, size)
                return self._bucket.uri(name)
            blob.chunk_size = CHUNK_BYTES
            with path.open("rb") as handle:
                stream: Any = _Counted(handle, size, progress) if progress else handle
                # A racing upload of the same bytes that made it first made the same object.
                with contextlib.suppress(gexc.PreconditionFailed):
                    blob.upload_from_file(
                        stream, size=size, content_type=CONTENT_TYPE, if_generation_match=0
                    )
        return self._bucket.uri(name)

    async def exists(self, uri: str) -> bool:
        return await asyncio.to_thread(self._exists, uri)

    def _exists(self, uri: str) -> bool:
        with _errors():
            return bool(self._blob(self._own(uri)).exists())

    async def read(self, uri: str) -> bytes:
        return await asyncio.to_thread(self._read, uri)

    def _read(self, uri: str) -> bytes:
        with _errors():
            return bytes(self._blob(self._own(uri)).download_as_bytes())

    async def delete(self, uri: str) -> None:
        await asyncio.to_thread(self._delete, uri)

    def _delete(self, uri: str) -> None:
        with _errors():
            self._blob(self._own(uri)).delete()

    async def check_writable(self) -> None:
        """Write and delete a tiny object: CredentialsRefused naming the fix if it cannot."""
        await asyncio.to_thread(self._check_writable)

    def _check_writable(self) -> None:
        probe = self._blob(f"{self._bucket.prefix}.ftbot-write-check")
        try:
            probe.upload_from_string(b"", content_type="text/plain")
            probe.delete()
        except gexc.NotFound:
            raise CredentialsRefused(
                f"There is no bucket gs://{self._bucket.name}: create it in the project "
                "(private, in the job's region) or fix the bucket name."
            ) from None
        except auth_errors.TransportError:
            raise ProviderError(ProviderErrorKind.CONNECTION) from None
        except (auth_errors.GoogleAuthError, gexc.Unauthorized):
            raise ProviderError(ProviderErrorKind.AUTH) from None
        except gexc.Forbidden:
            raise CredentialsRefused(
                f"The service account cannot write to gs://{self._bucket.name}: grant it "
                "roles/storage.objectAdmin on that bucket."
            ) from None

    def _own(self, uri: str) -> str:
        name = self._bucket.object_of(uri)
        if name is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        return name

    def _blob(self, name: str) -> storage.Blob:
        return self._client.bucket(self._bucket.name).blob(name)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """GCS and google.auth errors as the port's ProviderError kinds."""
    try:
        yield
    except auth_errors.TransportError as error:  # the token endpoint could not be reached
        raise ProviderError(ProviderErrorKind.CONNECTION) from error
    except auth_errors.GoogleAuthError as error:  # the key refused when a token was asked
        raise ProviderError(ProviderErrorKind.AUTH) from error
    except gexc.GoogleAPICallError as error:
        raise ProviderError(_KINDS.get(type(error), ProviderErrorKind.SERVER)) from error


_KINDS: Final[dict[type[BaseException], ProviderErrorKind]] = {
    gexc.NotFound: ProviderErrorKind.NOT_FOUND,
    gexc.Forbidden: ProviderErrorKind.PERMISSION,
    gexc.Unauthorized: ProviderErrorKind.AUTH,
    gexc.BadRequest: ProviderErrorKind.BAD_REQUEST,
    gexc.TooManyRequests: ProviderErrorKind.RATE_LIMITED,
}
