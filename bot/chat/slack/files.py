"""Slack adapter: finding a .jsonl file shared in a channel and downloading it with the token."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat import tempfiles
from handlers.errors import UsageError
from handlers.features.files import not_jsonl_name

MAX_DOWNLOAD_BYTES = 512 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedFile:
    id: str
    name: str
    size: int
    url: str
    thread_ts: str | None


def _shared(file: dict[str, Any], channel_id: str) -> SharedFile:
    shares = file.get("shares") or {}
    thread_ts = None
    for kind in ("public", "private"):
        entries = (shares.get(kind) or {}).get(channel_id) or []
        if entries:
            thread_ts = entries[0].get("ts")
            break
    return SharedFile(
        id=str(file["id"]),
        name=str(file.get("name") or file.get("title") or file["id"]),
        size=int(file.get("size") or 0),
        url=str(file.get("url_private_download") or file.get("url_private") or ""),
        thread_ts=thread_ts,
    )


async def newest_shared_jsonl(
    client: AsyncWebClient, *, channel_id: str, user_id: str, name: str = ""
) -> SharedFile | None:
    """The newest .jsonl file this user shared in this channel (named `name` if given). When
    no .jsonl matches but another file does (a .txt, a .csv), that one is refused by name
    before it is fetched (UsageError); None when the user shared nothing that matches."""
    response = await client.files_list(channel=channel_id, user=user_id, count=50)
    files = sorted(response.get("files") or [], key=lambda f: f.get("created", 0), reverse=True)
    other = ""
    for file in files:
        filename = str(file.get("name") or "")
        if name and filename != name:
            continue
        if not filename.lower().endswith(".jsonl"):
            other = other or filename
            continue
        return _shared(file, channel_id)
    if other:
        raise UsageError(not_jsonl_name(other))
    return None


async def shared_file(client: AsyncWebClient, file_id: str, channel_id: str) -> SharedFile:
    response = await client.files_info(file=file_id)
    return _shared(response["file"], channel_id)


async def download(file: SharedFile, *, token: str, directory: Path | None = None) -> Path:
    """Stream the file to a new 0600 file in the bot's private directory (the caller deletes
    it); Slack needs the bot token or it sends a login page."""
    if not file.url:
        raise UsageError(f"Slack gave no download link for {file.name}.")
    if file.size > MAX_DOWNLOAD_BYTES:
        raise UsageError(f"{file.name} is {file.size >> 20} MB; the limit is 512 MB.")
    fd, path = tempfiles.new_file(directory)
    handle = os.fdopen(fd, "wb")
    written = 0
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(file.url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            if response.status != 200:
                raise UsageError(f"Could not download {file.name} from Slack ({response.status}).")
            async for chunk in response.content.iter_chunked(1 << 16):
                written += len(chunk)
                if written > MAX_DOWNLOAD_BYTES:
                    raise UsageError(f"{file.name} is over the 512 MB limit.")
                handle.write(chunk)
    except BaseException:
        _discard(handle, path)
        raise
    handle.close()
    return path


def _discard(handle: Any, path: Path) -> None:
    handle.close()
    path.unlink(missing_ok=True)
