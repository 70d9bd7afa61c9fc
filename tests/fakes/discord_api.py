"""Test fake: a local Discord REST API and gateway on aiohttp, for the real discord.py client.

Usage::

    async with FakeDiscord(guilds=[GUILD_A, GUILD_B]) as fake:
        settings = Settings(discord_token="t", discord_api_base_url=fake.api_base,
                            discord_gateway_url=fake.gateway_url, ...)
        ...  # start the adapter, wait for fake.identified
        iid = await fake.command("list", {"limit": 5}, guild=GUILD_A)
        callback = await fake.wait_callback(iid)              # the defer
        follow = await fake.wait_followup(iid)                # the embed

It speaks the minimum discord.py 2.7 needs (see the project's reference notes, §2c): login,
command sync, /gateway/bot, HELLO/IDENTIFY/READY/GUILD_CREATE/heartbeat ACK, interaction
callbacks, webhook follow-ups, channel messages (with nonce dedupe), edits, threads, and a CDN
route for attachments. Every REST request is recorded; `fail_next` answers one with a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import WSMsgType, web

from tests.bot.render_checks import (
    discord_choices_problems,
    discord_message_problems,
    discord_modal_problems,
)

Json = dict[str, Any]

APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
ADMIN_PERMS = (1 << 5) | (1 << 10) | (1 << 11) | (1 << 31)  # manage guild, view, send, use cmds
MEMBER_PERMS = (1 << 10) | (1 << 11) | (1 << 31)
EPHEMERAL = 64
BOT_USER: Json = {
    "id": BOT_ID,
    "username": "finetune-bot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
    "flags": 0,
}
_TS = "2026-05-01T12:00:00.000000+00:00"


@dataclass(frozen=True)
class Guild:
    id: str
    channel_id: str
    name: str = "guild"


GUILD_A = Guild(id="100000000000000001", channel_id="100000000000000011", name="Acme")
GUILD_B = Guild(id="200000000000000001", channel_id="200000000000000011", name="Globex")


@dataclass(frozen=True)
class Attachment:
    """A file a user attaches to a command; the fake serves its bytes on its CDN route."""

    filename: str
    content: bytes
    declared_size: int | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: Mapping[str, str]
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.perf_counter)


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Json
    headers: dict[str, str]


def _jresp(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # discord.py decodes JSON only when Content-Type is exactly application/json.
    head = {"Content-Type": "application/json"}
    head.update(headers or {})
    return web.Response(body=json.dumps(obj).encode(), status=status, headers=head)


def _user(user_id: str, name: str) -> Json:
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "flags": 0,
    }


class FakeDiscord:
    """One fake Discord on 127.0.0.1, an ephemeral port; use as an async context manager."""

    def __init__(self, guilds: Iterable[Guild] = (GUILD_A, GUILD_B), shards: int = 1) -> None:
        self.guilds = list(guilds)
        self.shards = shards
        self.requests: list[Recorded] = []
        self.gateway_in: list[Json] = []
        self.messages: dict[str, Json] = {}
        self.threads: dict[str, Json] = {}
        self.commands: dict[str, list[Json]] = {}
        self.interactions: dict[str, Json] = {}
        self.sent_at: dict[str, float] = {}
        """When each INTERACTION_CREATE was handed to the gateway socket (perf_counter)."""
        self.cdn: dict[str, bytes] = {}
        self.cdn_fetches: list[str] = []
        """Attachment ids the bot downloaded, in order."""
        self.identified = asyncio.Event()
        self._ids = itertools.count(300000000000000000)
        self._seq = itertools.count(1)
        self._nonces: dict[tuple[str, str], str] = {}
        self._faults: list[Fault] = []
        self.refused: list[tuple[str, list[str]]] = []
        """Bodies answered 50035 Invalid Form Body (what Discord refuses), with the reasons."""
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._gateway_up = True
        self._silenced = asyncio.Event()
        self._released = asyncio.Event()
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._serve_cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)  # aiohttp types it as AbstractServer
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def new_id(self) -> str:
        return str(next(self._ids))

    # ------------------------------------------------------------------ faults

    def fail_next(
        self, method: str, path_regex: str, *, status: int = 429, retry_after: float = 0.05
    ) -> None:
        """Answer the next matching request with a rate limit discord.py must wait out."""
        body: Json = {"message": "You are being rate limited.", "retry_after": retry_after}
        body["global"] = False
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
        self._faults.append(Fault(method, re.compile(path_regex), status, body, headers))

    async def gateway_away(self, *, silent: bool = False) -> None:
        """The gateway goes away: open sockets are closed and every new handshake is refused
        (HTTP 503); or, `silent`, open sockets stay up but nothing more is read or answered
        (no heartbeat ACK, no close reply) and new handshakes hang, as a black-holed network."""
        self._gateway_up = False
        if silent:
            self._silenced.set()
            return
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=1001)
        self._sockets.clear()

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(check(), within)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    async def wait_request(
        self, method: str, path_regex: str, *, count: int = 1, within: float = 5.0
    ) -> list[Recorded]:
        found: list[Recorded] = await self.wait_for(
            lambda: r if len(r := self.requests_to(method, path_regex)) >= count else None,
            within,
        )
        return found

    async def wait_callback(self, interaction_id: str, within: float = 5.0) -> Recorded:
        path = rf"/interactions/{interaction_id}/[^/]+/callback"
        return (await self.wait_request("POST", path, within=within))[0]

    async def wait_followup(
        self, interaction_id: str, *, count: int = 1, within: float = 5.0
    ) -> Json:
        token = self.interactions[interaction_id]["token"]
        found: list[Json] = await self.wait_for(
            lambda: (
                m
                if len(
                    m := [
                        x
                        for x in self.messages.values()
                        if x.get("_interaction_token") == token and not x.get("_original")
                    ]
                )
                >= count
                else None
            ),
            within,
        )
        return found[count - 1]

    def response_message(self, interaction_id: str) -> Json:
        """The message an interaction's immediate answer (callback type 4) created."""
        token = self.interactions[interaction_id]["token"]
        return next(
            m
            for m in self.messages.values()
            if m.get("_interaction_token") == token and m.get("_original")
        )

    def channel_messages(self, channel_id: str) -> list[Json]:
        return [
            m
            for m in self.messages.values()
            if m["channel_id"] == channel_id and "_interaction_token" not in m
        ]

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if not self._gateway_up:
            if self._silenced.is_set():
                await self._released.wait()
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        # Text frames: discord.py only decompresses binary ones, so compression can be ignored.
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        while (msg := await self._receive(ws)) is not None:
            frame = json.loads(msg.data)
            self.gateway_in.append(frame)
            if frame["op"] == 1:
                await ws.send_json({"op": 11, "d": None})
            elif frame["op"] == 2:
                shard = frame["d"].get("shard", [0, 1])
                self._sockets[shard[0]] = ws
                ready = {
                    "v": 10,
                    "user": BOT_USER,
                    "session_id": f"session-{shard[0]}",
                    "resume_gateway_url": self.gateway_url,
                    "shard": shard,
                    "guilds": [
                        {"id": g.id, "unavailable": True} for g in self._shard_guilds(shard)
                    ],
                    "application": {"id": APP_ID, "flags": 0},
                }
                await self._send(ws, "READY", ready)
                for guild in self._shard_guilds(shard):
                    await self._send(ws, "GUILD_CREATE", self._guild_payload(guild))
                if len(self._sockets) >= self.shards:
                    self.identified.set()
            elif frame["op"] == 6:
                await self._send(ws, "RESUMED", {})
        return ws

    async def _receive(self, ws: web.WebSocketResponse) -> Any:
        """The next text frame; None once the socket closes. Silenced, it stops reading (so
        not even a close frame is answered) until the fake shuts down."""
        receive = asyncio.ensure_future(ws.receive())
        silenced = asyncio.ensure_future(self._silenced.wait())
        await asyncio.wait({receive, silenced}, return_when=asyncio.FIRST_COMPLETED)
        silenced.cancel()
        if not receive.done():
            receive.cancel()
            await self._released.wait()
            return None
        msg = receive.result()
        return msg if msg.type is WSMsgType.TEXT else None

    def _shard_guilds(self, shard: list[int]) -> list[Guild]:
        return [g for g in self.guilds if (int(g.id) >> 22) % shard[1] == shard[0]]

    async def _send(self, ws: web.WebSocketResponse, event: str, data: Json) -> None:
        await ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})

    async def dispatch(self, event: str, data: Json, *, guild_id: str | None = None) -> None:
        shard = (int(guild_id) >> 22) % self.shards if guild_id else 0
        await self._send(self._sockets[shard], event, data)

    def _guild_payload(self, guild: Guild) -> Json:
        return {
            "id": guild.id,
            "name": guild.name,
            "unavailable": False,
            "member_count": 2,
            "owner_id": "1",
            "roles": [
                {
                    "id": guild.id,
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [
                {
                    "id": guild.channel_id,
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                }
            ],
            "threads": [],
            "members": [],
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "features": [],
        }

    # ------------------------------------------------------------------ interactions

    def _base_interaction(
        self, kind: int, data: Json, guild: Guild | None, user_id: str, perms: int
    ) -> Json:
        iid = self.new_id()
        payload: Json = {
            "id": iid,
            "application_id": APP_ID,
            "type": kind,
            "token": f"token-{iid}",
            "version": 1,
            "attachment_size_limit": 25 * 1024 * 1024,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "app_permissions": str(ADMIN_PERMS),
            "data": data,
        }
        user = _user(user_id, f"user{user_id[-3:]}")
        if guild is not None:
            payload |= {
                "guild_id": guild.id,
                "guild_locale": "en-US",
                "context": 0,
                "channel_id": guild.channel_id,
                "channel": {
                    "id": guild.channel_id,
                    "type": 0,
                    "guild_id": guild.id,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "flags": 0,
                },
                "member": {
                    "user": user,
                    "roles": [],
                    "flags": 0,
                    "permissions": str(perms),
                    "joined_at": _TS,
                    "deaf": False,
                    "mute": False,
                },
            }
        else:
            dm = self.new_id()
            payload |= {
                "context": 1,
                "channel_id": dm,
                "channel": {"id": dm, "type": 1, "recipients": [user], "flags": 0},
                "user": user,
            }
        self.interactions[iid] = payload
        return payload

    async def redeliver(self, interaction_id: str) -> None:
        """The same INTERACTION_CREATE again (a gateway replay after a resume, a second shard)."""
        await self._deliver(self.interactions[interaction_id])

    async def _deliver(self, payload: Json) -> str:
        self.sent_at[str(payload["id"])] = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=payload.get("guild_id"))
        return str(payload["id"])

    def _options(self, values: Mapping[str, Any], focused: str | None) -> tuple[list[Json], Json]:
        options: list[Json] = []
        resolved: Json = {}
        for name, value in values.items():
            if isinstance(value, Attachment):
                att_id = self.new_id()
                self.cdn[att_id] = value.content
                size = (
                    value.declared_size if value.declared_size is not None else len(value.content)
                )
                resolved.setdefault("attachments", {})[att_id] = {
                    "id": att_id,
                    "filename": value.filename,
                    "size": size,
                    "url": f"http://127.0.0.1:{self.port}/cdn/{att_id}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/cdn/{att_id}",
                    "content_type": "application/jsonl",
                }
                options.append({"name": name, "type": 11, "value": att_id})
                continue
            kind = 4 if isinstance(value, int) else 10 if isinstance(value, float) else 3
            option: Json = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            options.append(option)
        return options, resolved

    def _command_data(self, sub: str, values: Mapping[str, Any], focused: str | None) -> Json:
        """`sub` is a subcommand ("list") or a subcommand of a nested group ("team budget")."""
        options, resolved = self._options(values, focused)
        command: Json = {"name": sub, "type": 1, "options": options}
        if " " in sub:
            group, name = sub.split(" ", 1)
            command = {"name": group, "type": 2, "options": [command | {"name": name}]}
        data: Json = {
            "id": self.new_id(),
            "name": "finetune",
            "type": 1,
            "options": [command],
        }
        if resolved:
            data["resolved"] = resolved
        return data

    async def command(
        self,
        sub: str,
        values: Mapping[str, Any] | None = None,
        *,
        guild: Guild | None = GUILD_A,
        user_id: str = "500000000000000001",
        perms: int = ADMIN_PERMS,
    ) -> str:
        """`/finetune <sub> ...` as INTERACTION_CREATE; returns the interaction id."""
        data = self._command_data(sub, values or {}, None)
        return await self._deliver(self._base_interaction(2, data, guild, user_id, perms))

    async def autocomplete(
        self,
        sub: str,
        values: Mapping[str, Any],
        focused: str,
        *,
        guild: Guild | None = GUILD_A,
        user_id: str = "500000000000000001",
    ) -> str:
        data = self._command_data(sub, values, focused)
        return await self._deliver(self._base_interaction(4, data, guild, user_id, ADMIN_PERMS))

    async def press(
        self,
        message: Json,
        custom_id: str,
        *,
        guild: Guild | None = GUILD_A,
        user_id: str = "500000000000000001",
        perms: int = ADMIN_PERMS,
    ) -> str:
        """A button press on a stored message (its components must carry the custom_id)."""
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._base_interaction(3, data, guild, user_id, perms)
        payload["message"] = self._public(message)
        return await self._deliver(payload)

    async def submit_modal(
        self,
        modal: Json,
        values: Mapping[str, str],
        *,
        guild: Guild | None = GUILD_A,
        user_id: str = "500000000000000001",
        perms: int = ADMIN_PERMS,
    ) -> str:
        """Submit a modal the bot opened (the callback's data), text inputs by custom_id."""
        components = []
        for text_input in _text_inputs(modal.get("components", [])):
            cid = text_input["custom_id"]
            value = values.get(cid, text_input.get("value") or "")
            components.append(
                {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": value}]}
            )
        data = {"custom_id": modal["custom_id"], "components": components}
        return await self._deliver(self._base_interaction(5, data, guild, user_id, perms))

    # ------------------------------------------------------------------ REST

    async def _serve_cdn(self, request: web.Request) -> web.StreamResponse:
        self.cdn_fetches.append(request.match_info["name"])
        content = self.cdn.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _read(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: dict[str, bytes] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                name = part.name or ""  # type: ignore[union-attr]
                if name == "payload_json":
                    body = json.loads(data)
                else:
                    files[part.filename or name] = bytes(data)  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), {}

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._read(request)
        self.requests.append(Recorded(request.method, path, dict(request.query), body, files))
        await self._notify()
        for fault in self._faults:
            if fault.method == request.method and fault.pattern.fullmatch(path):
                self._faults.remove(fault)
                return _jresp(fault.body, fault.status, fault.headers)
        problems = _form_problems(request.method, path, body or {})
        if problems:
            self.refused.append((path, problems))
            await self._notify()
            # Discord's answer to a payload past its limits; nothing is posted or opened.
            errors = [{"code": "BASE_TYPE_MAX_LENGTH", "message": p} for p in problems]
            return _jresp(
                {"message": "Invalid Form Body", "code": 50035, "errors": {"_errors": errors}},
                400,
            )
        response = await self._route(request.method, path, body or {}, files)
        await self._notify()
        return response

    async def _route(
        self, method: str, path: str, body: Json, files: dict[str, bytes]
    ) -> web.Response:
        parts = path.strip("/").split("/")
        match method, parts:
            case "GET", ["users", "@me"]:
                return _jresp(BOT_USER)
            case "GET", ["oauth2", "applications", "@me"]:
                return _jresp(
                    {
                        "id": APP_ID,
                        "name": "finetune-bot",
                        "description": "",
                        "icon": None,
                        "bot_public": True,
                        "bot_require_code_grant": False,
                        "owner": _user("1", "owner"),
                        "verify_key": "0" * 64,
                        "flags": 0,
                    }
                )
            case "GET", ["gateway", "bot"]:
                return _jresp(
                    {
                        "url": self.gateway_url,
                        "shards": self.shards,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 1000,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            case "PUT", ["applications", _, "commands"]:
                return _jresp(self._register("global", body))
            case "PUT", ["applications", _, "guilds", guild_id, "commands"]:
                return _jresp(self._register(guild_id, body))
            case "POST", ["interactions", iid, _, "callback"]:
                return _jresp(self._callback(iid, body, files))
            case "POST", ["webhooks", _, token]:
                message = self._message(self._channel_of_token(token), body, files)
                message["_interaction_token"] = token
                return _jresp(self._public(message))
            case "PATCH", ["webhooks", _, token, "messages", mid]:
                return self._edit(
                    self._original(token) if mid == "@original" else mid, body, files
                )
            case "DELETE", ["webhooks", _, token, "messages", mid]:
                key = self._original(token) if mid == "@original" else mid
                self.messages.pop(key or "", None)
                return web.Response(status=204)
            case "POST", ["channels", channel_id, "messages"]:
                if channel_id not in self._channel_ids() and channel_id not in self.threads:
                    return _jresp({"message": "Unknown Channel", "code": 10003}, 404)
                nonce = body.get("nonce")
                if nonce and body.get("enforce_nonce") and (channel_id, nonce) in self._nonces:
                    return _jresp(self._public(self.messages[self._nonces[channel_id, nonce]]))
                message = self._message(channel_id, body, files)
                if nonce:
                    self._nonces[channel_id, nonce] = message["id"]
                return _jresp(self._public(message))
            case "PATCH", ["channels", _, "messages", mid]:
                return self._edit(mid, body, files)
            case "POST", ["channels", channel_id, "messages", mid, "threads"]:
                if mid in self.threads:
                    return _jresp(
                        {
                            "message": "A thread has already been created for this message",
                            "code": 160004,
                        },
                        400,
                    )
                thread = {
                    "id": mid,  # a thread from a message shares the message's id
                    "guild_id": self._guild_of_channel(channel_id),
                    "parent_id": channel_id,
                    "owner_id": BOT_ID,
                    "name": body.get("name", ""),
                    "type": 11,
                    "message_count": 0,
                    "member_count": 1,
                    "rate_limit_per_user": 0,
                    "flags": 0,
                    "thread_metadata": {
                        "archived": False,
                        "auto_archive_duration": body.get("auto_archive_duration", 1440),
                        "archive_timestamp": _TS,
                        "locked": False,
                    },
                }
                self.threads[mid] = thread
                return _jresp(thread, 201)
        return _jresp({"message": f"fake has no route {method} {path}", "code": 0}, 404)

    def _register(self, scope: str, body: Any) -> list[Json]:
        commands = []
        for command in body or []:
            commands.append(
                {**command, "id": self.new_id(), "application_id": APP_ID, "version": "1"}
            )
        self.commands[scope] = commands
        return commands

    def _callback(self, iid: str, body: Json, files: dict[str, bytes]) -> Json:
        interaction = self.interactions.get(iid, {})
        kind = body.get("type")
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        result: Json = {
            "interaction": {
                "id": iid,
                "type": interaction.get("type", 2),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        channel = self._channel_of_token(interaction.get("token", ""))
        if kind == 4:
            message = self._message(channel, data, files)
            message["_interaction_token"] = interaction.get("token")
            message["_original"] = True
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"]["message"] = self._public(message)
        return result

    def _message(self, channel_id: str, body: Json, files: dict[str, bytes]) -> Json:
        mid = self.new_id()
        message: Json = {
            "id": mid,
            "channel_id": channel_id,
            "type": 0,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [
                self._attachment(channel_id, name, data) for name, data in files.items()
            ],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _TS,
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0),
            "author": BOT_USER,
            "nonce": body.get("nonce"),
            "_allowed_mentions": body.get("allowed_mentions"),
            "_files": files,
        }
        guild = self._guild_of_channel(channel_id)
        if guild:
            message["guild_id"] = guild
        self.messages[mid] = message
        return message

    def _edit(self, mid: str | None, body: Json, files: dict[str, bytes]) -> web.Response:
        message = self.messages.get(mid or "")
        if message is None:
            return _jresp({"message": "Unknown Message", "code": 10008}, 404)
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else message[key]
        if "attachments" in body:
            message["attachments"] = [
                self._attachment(str(message["channel_id"]), name, data)
                for name, data in files.items()
            ]
            message["_files"] = files
        message["edited_timestamp"] = _TS
        message["_edits"] = message.get("_edits", 0) + 1
        return _jresp(self._public(message))

    def _original(self, token: str) -> str | None:
        for message in self.messages.values():
            if message.get("_interaction_token") == token and message.get("_original"):
                return str(message["id"])
        return None

    def _attachment(self, channel_id: str, name: str, data: bytes) -> Json:
        """discord.py reads `url` and `proxy_url` of every attachment of a message it parses."""
        aid = self.new_id()
        url = f"https://cdn.discordapp.com/attachments/{channel_id}/{aid}/{name}"
        return {"id": aid, "filename": name, "size": len(data), "url": url, "proxy_url": url}

    def _public(self, message: Json) -> Json:
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _channel_ids(self) -> set[str]:
        return {g.channel_id for g in self.guilds}

    def _guild_of_channel(self, channel_id: str) -> str | None:
        for guild in self.guilds:
            if guild.channel_id == channel_id:
                return guild.id
        thread = self.threads.get(channel_id)
        return str(thread["guild_id"]) if thread else None

    def _channel_of_token(self, token: str) -> str:
        for interaction in self.interactions.values():
            if interaction["token"] == token:
                return str(interaction["channel_id"])
        return "0"


def _form_problems(method: str, path: str, body: Json) -> list[str]:
    """What Discord's own checks (the documented limits) refuse in a request body."""
    parts = path.strip("/").split("/")
    match method, parts:
        case "POST", ["interactions", _, _, "callback"]:
            data = body.get("data") or {}
            match body.get("type"):
                case 9:
                    return discord_modal_problems(data)
                case 8:
                    return discord_choices_problems(data.get("choices") or [])
                case 4 | 7:
                    return discord_message_problems(data)
        case ("POST", ["webhooks", _, _]) | ("PATCH", ["webhooks", _, _, "messages", _]):
            return discord_message_problems(body)
        case ("POST", ["channels", _, "messages"]) | ("PATCH", ["channels", _, "messages", _]):
            return discord_message_problems(body)
    return []


def _text_inputs(components: list[Json]) -> list[Json]:
    found = []
    for component in components:
        if component.get("type") == 1:
            found += _text_inputs(component.get("components", []))
        elif component.get("type") == 18:
            found += _text_inputs([component["component"]])
        elif component.get("type") == 4:
            found.append(component)
    return found
