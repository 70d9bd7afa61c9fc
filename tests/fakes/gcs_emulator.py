"""Test fake: gcp-storage-emulator (GCS's JSON and upload API, in memory) on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
