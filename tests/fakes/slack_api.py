"""Test fake: a local Slack Web API (plus response URLs, file hosting and a Socket Mode server).

Reached through SLACK_API_BASE_URL. Records every call with its parsed arguments; answers the
methods the bot uses; can answer one call with 429 to prove retries; serves shared files. Keeps
the posted messages, which conversations.history and conversations.replies read back as Slack
does (newest first, resp. the thread oldest first; `oldest`, `limit`, cursors; message
metadata only with include_all_metadata).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.bot.render_checks import slack_blocks_problems, slack_view_problems


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class FakeFile:
    id: str
    name: str
    content: bytes
    user: str
    channel: str
    created: int
    share_ts: str


@dataclass
class FakeSlack:
    """`async with FakeSlack() as slack:` then point the bot at `slack.base_url`."""

    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, list[str]]] = field(default_factory=list)
    """Method (or response_url) and why Slack would refuse what was sent; nothing was posted."""
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    rate_limit_next: dict[str, int] = field(default_factory=dict)
    admins: set[str] = field(default_factory=lambda: {"U1"})
    """Users that users.info calls workspace admins (everyone else is a plain member)."""
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    """Ids of the shared files the bot downloaded, in order."""
    rejected_tokens: set[str] = field(default_factory=set)
    """Tokens every method answers with `invalid_auth`, as Slack does for a revoked one."""
    channel_messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """channel -> the messages posted in it (thread replies too), oldest first."""
    _ts: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.root}/response/{name}"

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{id}", self._upload)
        app.router.add_get("/files-pri/{id}", self._download)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ inspection

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, predicate: Callable[[], bool], *, within: float = 10.0, what: str = ""
    ) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.02)

    def share_file(self, *, name: str, content: bytes, user: str, channel: str) -> FakeFile:
        n = len(self.files) + 1
        file = FakeFile(
            id=f"F{n:04d}",
            name=name,
            content=content,
            user=user,
            channel=channel,
            created=1_700_000_000 + n,
            share_ts=f"1700000000.{n:06d}",
        )
        self.files[file.id] = file
        return file

    # ------------------------------------------------------------------ handlers

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        elif request.can_read_body:
            text = (await request.read()).decode("utf-8", "replace")
            args.update(dict(parse_qsl(text)))
        for key in ("blocks", "metadata", "view", "files"):
            if isinstance(args.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or args.get("token")
        remaining = self.rate_limit_next.get(method, 0)
        if remaining:
            self.rate_limit_next[method] = remaining - 1
            self.calls.append(Call(method=f"{method}#429", args=args, token=token))
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        self.calls.append(Call(method=method, args=args, token=token))
        if token in self.rejected_tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(self._answer(method, args))

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        refusal = self._refusal(method, args)
        if refusal is not None:
            return refusal
        match method:
            case "users.info":
                user = str(args.get("user"))
                return ok | {
                    "user": {
                        "id": user,
                        "name": f"user-{user}",
                        "is_admin": user in self.admins,
                        "is_owner": False,
                    }
                }
            case "auth.test":
                return ok | {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "t"}
            case "chat.postMessage":
                # Seconds of the wall clock, as Slack's are; the counter keeps them unique.
                ts = f"{int(time.time())}.{next(self._ts):06d}"
                message: dict[str, Any] = {
                    "type": "message",
                    "ts": ts,
                    "text": args.get("text"),
                    "user": "UBOT",
                    "bot_id": "BBOT",
                }
                if args.get("thread_ts"):
                    message["thread_ts"] = str(args["thread_ts"])
                if isinstance(args.get("metadata"), dict):
                    message["metadata"] = args["metadata"]
                self.channel_messages.setdefault(str(args.get("channel")), []).append(message)
                return ok | {
                    "channel": args.get("channel"),
                    "ts": ts,
                    "message": {"ts": ts, "text": args.get("text")},
                }
            case "chat.update":
                for posted in self.channel_messages.get(str(args.get("channel")), []):
                    if posted["ts"] == args.get("ts"):
                        posted["text"] = args.get("text")
                return ok | {"channel": args.get("channel"), "ts": args.get("ts")}
            case "conversations.history":
                found = [
                    m
                    for m in self.channel_messages.get(str(args.get("channel")), [])
                    if m.get("thread_ts") in (None, m["ts"])
                ]
                return ok | self._page(list(reversed(found)), args)
            case "conversations.replies":
                ts = str(args.get("ts"))
                thread = [
                    m
                    for m in self.channel_messages.get(str(args.get("channel")), [])
                    if m["ts"] == ts or m.get("thread_ts") == ts
                ]
                if not thread:
                    return {"ok": False, "error": "thread_not_found"}
                return ok | self._page(thread, args)
            case "chat.postEphemeral":
                return ok | {"message_ts": f"1800000000.{next(self._ts):06d}"}
            case "views.open":
                return ok | {"view": {"id": "V1"}}
            case "files.getUploadURLExternal":
                file_id = f"FU{next(self._ts):05d}"
                return ok | {"upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}
            case "files.completeUploadExternal":
                return ok | {"files": [{"id": f["id"]} for f in args.get("files") or []]}
            case "files.info":
                file = self.files.get(str(args.get("file")))
                if file is None:
                    return {"ok": False, "error": "file_not_found"}
                return ok | {"file": self._file_json(file)}
            case "files.list":
                chosen = [
                    self._file_json(f)
                    for f in self.files.values()
                    if f.channel == args.get("channel") and f.user == args.get("user")
                ]
                return ok | {"files": chosen}
            case "oauth.v2.access":
                team = str(args.get("code", "T9")).removeprefix("code-") or "T9"
                return ok | {
                    "access_token": f"xoxb-{team}-installed",
                    "token_type": "bot",
                    "scope": "commands,chat:write,files:read,files:write",
                    "bot_user_id": f"UB{team}",
                    "app_id": "A1",
                    "team": {"id": team, "name": f"team {team}"},
                    "enterprise": None,
                    "authed_user": {"id": f"U{team}"},
                    "is_enterprise_install": False,
                }
            case "apps.connections.open":
                return ok | {"url": f"ws://127.0.0.1:{self.port}/link"}
        return ok

    def _page(self, messages: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        """One page of messages as conversations.history/replies answer: `oldest` and `latest`
        bound the ts (exclusive), `limit` (default 100, at most 999) and an opaque cursor."""
        oldest = float(args.get("oldest") or 0)
        latest = float(args["latest"]) if args.get("latest") else float("inf")
        chosen = [m for m in messages if oldest < float(m["ts"]) < latest]
        limit = min(int(args.get("limit") or 100), 999)
        start = int(args.get("cursor") or 0)
        page = chosen[start : start + limit]
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        shown = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in page]
        more = start + limit < len(chosen)
        return {
            "messages": shown,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _refusal(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to blocks or a view past the documented limits (nothing is posted)."""
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            blocks = args.get("blocks")
            problems = slack_blocks_problems(blocks if isinstance(blocks, list) else [], None)
            error = "invalid_blocks"
        elif method in ("views.open", "views.update", "views.push", "views.publish"):
            view = args.get("view")
            problems = slack_view_problems(view) if isinstance(view, dict) else ["no view"]
            error = "invalid_arguments"
        else:
            return None
        if not problems:
            return None
        self.refused.append((method, problems))
        return {"ok": False, "error": error, "response_metadata": {"messages": problems}}

    def _file_json(self, file: FakeFile) -> dict[str, Any]:
        return {
            "id": file.id,
            "name": file.name,
            "size": len(file.content),
            "created": file.created,
            "url_private_download": f"{self.root}/files-pri/{file.id}",
            "shares": {"public": {file.channel: [{"ts": file.share_ts}]}},
        }

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["id"]] = await request.read()
        return web.Response(text="OK")

    async def _download(self, request: web.Request) -> web.Response:
        self.downloads.append(request.match_info["id"])
        file = self.files.get(request.match_info["id"])
        if file is None or request.headers.get("Authorization", "") == "":
            return web.Response(text="<html>login</html>", content_type="text/html")
        return web.Response(body=file.content, content_type="application/octet-stream")

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        blocks = body.get("blocks")
        problems = slack_blocks_problems(blocks, body.get("text")) if blocks else []
        if problems:
            self.refused.append(("response_url", problems))
            return web.Response(status=400, text="invalid_blocks")
        self.responses.append({"name": request.match_info["name"], **body})
        return web.Response(text="ok")

    # ------------------------------------------------------------------ socket mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        self._sockets.remove(ws)
        return ws

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        for ws in self._sockets:
            await ws.send_json(envelope)
