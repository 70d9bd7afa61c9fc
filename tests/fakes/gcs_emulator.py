"""Test fake: gcp-storage-emulator (GCS's JSON and upload API, in memory) on 127.0.0.1, and a
front that refuses every call as GCS refuses an identity without permission."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiohttp import web
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gcs_emulator(bucket: str = "team-bucket") -> Iterator[str]:
    """The emulator's base URL, with `bucket` created, for the duration."""
    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@asynccontextmanager
async def forbidding_gcs() -> AsyncIterator[str]:
    """A Cloud Storage front where the caller has no storage.objects.* permission: every call
    is GCS's JSON API 403 (the emulator has no IAM to say it)."""

    async def forbidden(request: web.Request) -> web.Response:
        message = (
            "ftbot@acme-ml.iam.gserviceaccount.com does not have storage.objects.create "
            "access to the Google Cloud Storage object. Permission 'storage.objects.create' "
            "denied on resource (or it may not exist)."
        )
        body = {"error": {"code": 403, "message": message, "errors": [{"reason": "forbidden"}]}}
        return web.json_response(body, status=403)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forbidden)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def gcs_client(endpoint: str, project: str = "test-project") -> storage.Client:
    """A real google-cloud-storage client at the emulator, with no credentials to fetch."""
    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )


def gcs_reader(client: storage.Client) -> Callable[[str], bytes | None]:
    """Reads a `gs://bucket/object` through the client (None when it is not there): how the
    fake Vertex service reads the training files a job names."""

    def read(uri: str) -> bytes | None:
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        blob = client.bucket(bucket).get_blob(name)
        return None if blob is None else bytes(blob.download_as_bytes())

    return read
