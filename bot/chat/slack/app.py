"""Slack adapter: the Bolt AsyncApp: ack first, then build the request, call the core, render."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat import tempfiles
from bot.chat.pages import GONE, Pager, page_of
from bot.chat.slack import limits as slack_limits
from bot.chat.slack.acked_pool import Background
from bot.chat.slack.blocks import (
    ACTION_PREFIX,
    MORE_ACTION,
    bold,
    escape,
    fallback_text,
    reply_blocks,
    reply_pages,
)
from bot.chat.slack.files import SharedFile, download, newest_shared_jsonl, shared_file
from bot.chat.slack.modal import (
    CALLBACK_ID,
    ESTIMATE_FILE_ACTION,
    MODELS_ACTION,
    channel_of,
    chosen,
    fits_option,
    option,
    read_submission,
    start_view,
    training_probe,
)
from bot.chat.slack.setup_modal import SETUP_CALLBACK_ID, read_setup, setup_view
from handlers.actions import ACTIONS, Audience, button_request
from handlers.errors import FineTuneError, UsageError
from handlers.fairness import is_long
from handlers.model import Actor, Platform
from handlers.parse import parse
from handlers.profile import AccountKind
from handlers.replies import Reply, Visibility, error_reply
from handlers.requests import (
    Form,
    Request,
    SetupRequest,
    StartRequest,
    UploadRequest,
    ValidateRequest,
    command_of,
    resolve_command,
)
from handlers.service import Service
from handlers.sources import FileSource, PrivateFile, TypedPath

log = logging.getLogger(__name__)

COMMAND = "/finetune"
PAGER = Pager()
"""Long replies behind their More buttons (one per process: `_answer` serves every listener)."""
RIGHTS_CACHE_SECONDS = 30.0
"""How long users.info's is_admin/is_owner answer is trusted when no user_change event arrives:
admin-only actions (setup, access, budget, approve, audit) rest on it, so it is kept short."""
TAKE_FILE_ACTION = "ftbot_take_file"
CHECK_FILE_ACTION = "ftbot_check_file"
MODEL_CACHE_SECONDS = 600.0
OPTIONS_BUDGET_SECONDS = 2.0  # Slack waits 3 s for options; leave room for the round trip

REPLAY_WINDOW = timedelta(minutes=10)
"""Slack accepts a signature for 5 minutes either side of its timestamp and retries an event
for minutes: an identity is remembered this long."""

Respond = Callable[..., Awaitable[Any]]
TokenFor = Callable[[str], Awaitable[str]]
FirstDelivery = Callable[[str], Awaitable[bool]]
"""True the first time a request identity is seen, on any replica (the database decides)."""


def request_identity(body: dict[str, Any], headers: dict[str, Any]) -> str | None:
    """What makes one Slack request itself: an event's event_id, an interaction's or a slash
    command's trigger_id, else its signature (unique per timestamp and body).

    None for requests that change nothing and are never acted on twice (option loads).
    """
    if body.get("type") == "block_suggestion" or _only_reads(body):
        return None
    for name in ("event_id", "trigger_id"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return f"slack:{name}:{value}"
    signature = headers.get("x-slack-signature")
    if isinstance(signature, list):
        signature = signature[0] if signature else None
    return f"slack:signature:{signature}" if isinstance(signature, str) and signature else None


def _only_reads(body: dict[str, Any]) -> bool:
    """A slash command that changes nothing (help, list, inspect…): a repeat is answered again
    and acts on nothing, and no database write then sits in the ack of every read."""
    if "command" not in body or "type" in body:
        return False
    try:
        spec = command_of(parse(str(body.get("text") or "")))
    except UsageError:
        return True  # answered with its usage, nothing else
    return not (spec.mutating or spec.long or spec.form is not None)


class SlackHandlers:
    """Every Slack listener; each acks at once and does the work after the ack."""

    def __init__(
        self,
        *,
        service: Service,
        list_files: Callable[[str], Awaitable[Any]],
        token_for: TokenFor,
        download_dir: Path | None = None,
        first_delivery: FirstDelivery | None = None,
    ) -> None:
        self._first_delivery = first_delivery
        self._service = service
        self._list_files = list_files
        self._token_for = token_for
        self._dir = download_dir
        self._models: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self.background = Background(name="slack")
        self._rights: dict[tuple[str, str], tuple[float, bool]] = {}

    def register(self, app: AsyncApp) -> None:
        # Before every listener (and after Bolt's signature check): a replay is acked, no work.
        app.middleware(self.once)
        app.command(COMMAND)(self._later(self.on_command))
        pattern = re.compile(f"^{ACTION_PREFIX}({'|'.join(map(re.escape, ACTIONS))})$")
        app.action(pattern)(self._later(self.on_job_action))
        app.action(TAKE_FILE_ACTION)(self._later(self.on_take_file))
        app.action(MORE_ACTION)(self._later(self.on_more))
        app.action(CHECK_FILE_ACTION)(self._later(self.on_take_file))
        app.view(CALLBACK_ID)(self.on_start_submission)
        app.view(SETUP_CALLBACK_ID)(self.on_setup_submission)
        app.options(MODELS_ACTION)(self.on_model_options)
        for action in (MODELS_ACTION, ESTIMATE_FILE_ACTION):
            app.action(action)(self._later(self.on_form_change))
        app.event("file_shared")(self.on_file_shared)
        app.event("user_change")(self.on_user_change)
        app.event("message")(_ignore)

    async def once(
        self,
        body: dict[str, Any],
        request: AsyncBoltRequest,
        response: BoltResponse,
        next: Callable[[], Awaitable[None]],  # Bolt injects arguments by name
    ) -> BoltResponse:
        """Act on each signed request at most once, across replicas; a repeat gets an empty
        200 (Slack stops retrying) and nothing else."""
        identity = request_identity(body, request.headers)
        if identity is None or self._first_delivery is None:
            await next()
            return response
        if await self._first_delivery(identity):
            await next()
            return response
        log.info("repeated slack request ignored", extra={"kind": identity.split(":")[1]})
        return BoltResponse(status=200, body="")

    # ------------------------------------------------------------------ commands

    async def on_command(
        self, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        actor = _actor(
            body.get("team_id"),
            body.get("channel_id"),
            body.get("user_id"),
            body.get("user_name", ""),
            request_id=_request_id(body),
        )
        text = str(body.get("text") or "")
        try:
            actor = await self._with_rights(actor, client)
            form = _bare_form(text)
            kind = _setup_kind(text, self._service.governance.accounts)
            if form is Form.SETUP or kind is not None:
                trigger = str(body.get("trigger_id") or "")
                await self._open_setup(actor, trigger, client, respond, kind=kind)
                return
            if form is Form.START:
                # The form's submission is a start: whoever may not start never sees the form.
                refused = await self._service.permit(
                    StartRequest(model="", training_file=""), actor
                )
                if refused is not None:
                    await _answer(refused, actor, client, respond)
                    return
                files = await self._list_files(actor.team_id)
                providers = await self._service.team_providers(actor.team_id)
                fields = await self._service.start_fields(actor)
                await client.views_open(
                    trigger_id=body["trigger_id"],
                    view=start_view(
                        channel_id=actor.channel_id,
                        files=files,
                        fields=fields,
                        providers=providers,
                    ),
                )
                return
            try:
                request = parse(text)
            except UsageError as error:
                await _answer(
                    error_reply(error.message, usage=error.usage), actor, client, respond
                )
                return
            await self._perform(
                request, actor, client, respond, self._run(request, actor, client, respond)
            )
        except Exception:
            log.exception("slash command failed", extra={"team": actor.team_id})
            await _failed(actor, client, respond)

    async def _run(
        self, request: Request, actor: Actor, client: AsyncWebClient, respond: Respond
    ) -> None:
        try:
            if isinstance(request, UploadRequest | ValidateRequest):
                await self._with_shared(request, actor, client, respond)
                return
            reply = await self._service.handle(request, actor)
            await _answer(reply, actor, client, respond)
        except Exception:
            log.exception("slash command failed", extra={"team": actor.team_id})
            await _failed(actor, client, respond)

    async def _perform(
        self,
        request: Request,
        actor: Actor,
        client: AsyncWebClient,
        respond: Respond,
        work: Coroutine[Any, Any, None],
        *,
        thread_ts: str | None = None,
    ) -> None:
        """Short work runs here. Long work: the role is checked and the team's slot claimed
        now (a refusal is answered at once), then the work runs as its own task, so the workers
        that answer commands stay free."""
        if not is_long(request):
            await work
            return
        try:
            slot = await self._service.admit(request, actor)
        except FineTuneError as error:
            work.close()
            await _answer(error_reply(error.text), actor, client, respond, thread_ts=thread_ts)
            return

        async def held() -> None:
            with slot:
                await work

        self.background.spawn(held())

    async def _with_shared(
        self,
        request: UploadRequest | ValidateRequest,
        actor: Actor,
        client: AsyncWebClient,
        respond: Respond,
        *,
        file_id: str | None = None,
    ) -> None:
        """Upload or validate files the user shared in the channel: the role check first, then
        the look-up (`file_id`, the name typed, or the newest .jsonl) and the download into the
        bot's private directory. Text that names no shared file goes to the core as typed, which
        refuses a path (and audits it) with how to share the file instead."""
        refused = await self._service.permit(request, actor)
        if refused is not None:
            await _answer(refused, actor, client, respond)
            return
        try:
            if file_id is not None:
                main: SharedFile | None = await shared_file(client, file_id, actor.channel_id)
            else:
                main = await self._find(request.file, actor, client, newest=True)
            extra = (
                await self._find(request.validation, actor, client, newest=False)
                if isinstance(request, ValidateRequest)
                else None
            )
        except FineTuneError as error:  # a shared file that is not .jsonl, named before fetching
            await _answer(error_reply(error.text), actor, client, respond)
            return
        if (main is None and isinstance(request.file, TypedPath)) or (
            extra is None and isinstance(request, ValidateRequest) and request.validation
        ):
            # Something typed names no shared file: the core refuses it; fetch nothing for that.
            main = extra = None
        token = await self._token_for(actor.workspace_id) if main or extra else ""
        taken: list[Path] = []
        try:
            try:
                if main is not None:
                    taken.append(path := await download(main, token=token, directory=self._dir))
                    request = replace(request, file=PrivateFile(path=path, name=main.name))
                if extra is not None and isinstance(request, ValidateRequest):
                    taken.append(path := await download(extra, token=token, directory=self._dir))
                    request = replace(request, validation=PrivateFile(path=path, name=extra.name))
            except FineTuneError as error:
                await _answer(error_reply(error.text), actor, client, respond)
                return
            reply = await self._service.handle(request, actor)
        finally:
            for path in taken:
                await asyncio.to_thread(tempfiles.remove, path)
        if main is not None and main.thread_ts:
            # The report (stats, or errors with line numbers) goes in the file's own thread.
            await client.chat_postMessage(
                channel=actor.channel_id,
                thread_ts=main.thread_ts,
                text=fallback_text(reply),
                blocks=reply_blocks(reply),
            )
            return
        await _answer(reply, actor, client, respond)

    async def _find(
        self, source: FileSource | None, actor: Actor, client: AsyncWebClient, *, newest: bool
    ) -> SharedFile | None:
        """The shared .jsonl `source` names (or the newest one); None leaves it to the core."""
        match source:
            case TypedPath(text=name):
                pass
            case None if newest:
                name = ""
            case _:
                return None
        return await newest_shared_jsonl(
            client, channel_id=actor.channel_id, user_id=actor.user_id, name=name
        )

    # ------------------------------------------------------------------ buttons

    async def on_job_action(
        self, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        actor = _actor(
            (body.get("team") or {}).get("id"),
            (body.get("channel") or {}).get("id"),
            (body.get("user") or {}).get("id"),
            (body.get("user") or {}).get("username", ""),
        )
        action = (body.get("actions") or [{}])[0]
        name = str(action.get("action_id", "")).removeprefix(ACTION_PREFIX)
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        try:
            request = button_request(name, str(action.get("value", "")))
        except UsageError as error:
            await _answer(error_reply(error.text), actor, client, respond)
            return
        actor = await self._with_rights(actor, client)
        private = ACTIONS[name].audience is Audience.PRESSER
        work = self._press(request, actor, client, respond, thread_ts, private=private)
        await self._perform(request, actor, client, respond, work, thread_ts=thread_ts)

    async def _press(
        self,
        request: Request,
        actor: Actor,
        client: AsyncWebClient,
        respond: Respond,
        thread_ts: str | None,
        *,
        private: bool,
    ) -> None:
        reply = await self._service.handle(request, actor)
        if private:
            reply = _private(reply)
        await _answer(reply, actor, client, respond, thread_ts=thread_ts)

    async def on_more(
        self, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        """The next page of a long reply, seen by whoever could see the first."""
        actor = _actor(
            (body.get("team") or {}).get("id"),
            (body.get("channel") or {}).get("id"),
            (body.get("user") or {}).get("id"),
        )
        action = (body.get("actions") or [{}])[0]
        found = page_of(str(action.get("value", "")))
        reply = None if found is None else PAGER.get(actor.workspace_id, found[0])
        if found is None or reply is None:
            await _answer(error_reply(GONE), actor, client, respond)
            return
        token, page = found
        await respond(
            text=fallback_text(reply),
            blocks=reply_blocks(reply, page=page, more_token=token),
            response_type="ephemeral" if reply.ephemeral else "in_channel",
            replace_original=False,
        )

    async def on_take_file(
        self, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        actor = _actor(
            (body.get("team") or {}).get("id"),
            (body.get("channel") or {}).get("id"),
            (body.get("user") or {}).get("id"),
        )
        actor = await self._with_rights(actor, client)
        action = (body.get("actions") or [{}])[0]
        checking = action.get("action_id") == CHECK_FILE_ACTION
        request: UploadRequest | ValidateRequest = (
            ValidateRequest() if checking else UploadRequest()
        )
        # The download is long work too: the role and the team's slot come before it starts.
        work = self._with_shared(
            request, actor, client, respond, file_id=str(action.get("value", ""))
        )
        await self._perform(request, actor, client, respond, work)

    # ------------------------------------------------------------------ the start modal

    def _later(
        self, work: Callable[[dict[str, Any], AsyncWebClient, Respond], Coroutine[Any, Any, None]]
    ) -> Callable[..., Awaitable[None]]:
        """A listener that acks (Slack gives 3 seconds) and queues the work behind it."""

        async def listener(
            ack: Callable[..., Awaitable[None]],
            body: dict[str, Any],
            client: AsyncWebClient,
            respond: Respond,
        ) -> None:
            await ack()
            self.background.submit(work(body, client, respond))

        return listener

    async def on_start_submission(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        # Field checks are pure and the profile's one store read, so inline errors can ride
        # on the ack itself.
        state = view.get("state") or {}
        _, errors = read_submission(state)
        probe = training_probe(state)
        if probe is not None:
            errors = await self._profile_errors(body, probe) | errors
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        self.background.submit(self.on_start_view(body, view, client))

    async def _profile_errors(self, body: dict[str, Any], request: StartRequest) -> dict[str, str]:
        """The start form's option the team's provider would refuse, beside its field."""
        actor = _actor(
            (body.get("team") or {}).get("id"), "modal", (body.get("user") or {}).get("id")
        )
        refused = await self._service.start_refusal(actor, request)
        if refused is None:
            return {}
        return {refused.option: refused.message[:150]}

    async def on_start_view(
        self, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        request, errors = read_submission(view.get("state") or {})
        channel = channel_of(view)
        user = (body.get("user") or {}).get("id")
        if request is None or errors or channel is None:
            return
        actor = await self._with_rights(
            _actor(
                (body.get("team") or {}).get("id"), channel, user, request_id=_request_id(body)
            ),
            client,
        )
        # The form showed the estimate before its submit: the submit is the confirmation.
        reply = await self._service.handle(replace(request, confirm="yes"), actor)
        await client.chat_postEphemeral(
            channel=channel,
            user=actor.user_id,
            text=fallback_text(reply),
            blocks=reply_blocks(reply),
        )

    # ------------------------------------------------------------------ the setup modal

    async def _open_setup(
        self,
        actor: Actor,
        trigger_id: str,
        client: AsyncWebClient,
        respond: Respond,
        *,
        kind: str | None = None,
    ) -> None:
        """The setup modal: every account kind's fields, or only those of `kind`."""
        refused = await self._service.permit(SetupRequest(), actor)
        if refused is not None:
            await _answer(refused, actor, client, respond)
            return
        accounts = self._service.governance.accounts
        offered = {kind: accounts[kind]} if kind is not None else accounts
        await client.views_open(
            trigger_id=trigger_id,
            view=setup_view(channel_id=actor.channel_id, accounts=offered),
        )

    async def on_setup_submission(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        # The shape checks are pure: inline errors ride on the ack, naming no part of the key.
        request, errors = read_setup(view.get("state") or {}, self._service.governance.accounts)
        if errors or request is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        self.background.submit(self.on_setup_view(body, view, request, client))

    async def on_setup_view(
        self,
        body: dict[str, Any],
        view: dict[str, Any],
        request: SetupRequest,
        client: AsyncWebClient,
    ) -> None:
        channel = channel_of(view)
        if channel is None:
            return
        actor = _actor(
            (body.get("team") or {}).get("id"), channel, (body.get("user") or {}).get("id")
        )
        actor = await self._with_rights(actor, client)
        reply = await self._service.handle(request, actor)
        await client.chat_postEphemeral(
            channel=channel,
            user=actor.user_id,
            text=fallback_text(reply),
            blocks=reply_blocks(reply),
        )

    # ------------------------------------------------------------------ rights

    async def _with_rights(self, actor: Actor, client: AsyncWebClient) -> Actor:
        """Workspace owners and admins are team admins: users.info after the ack, cached."""
        key = (actor.workspace_id, actor.user_id)
        cached = self._rights.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < RIGHTS_CACHE_SECONDS:
            return replace(actor, is_workspace_admin=cached[1])
        try:
            answer = await client.users_info(user=actor.user_id)
            user = answer.get("user") or {}
            admin = bool(user.get("is_admin") or user.get("is_owner"))
        except Exception as error:  # no rights is the safe answer; the command still runs
            log.warning(
                "users.info failed", extra={"team": actor.team_id, "error": type(error).__name__}
            )
            return actor
        self._rights[key] = (now, admin)
        return replace(actor, is_workspace_admin=admin)

    async def on_user_change(self, event: dict[str, Any]) -> None:
        """A member's profile or role changed: their next action asks users.info afresh."""
        user = str((event.get("user") or {}).get("id") or "")
        # Slack user ids are unique across workspaces (and an Enterprise Grid member's event can
        # name another workspace than the cache key), so every entry for the user goes.
        for key in [k for k in self._rights if k[1] == user]:
            del self._rights[key]

    async def on_form_change(
        self, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        """A file or model was picked in the start form: show what the job would cost."""
        view = body.get("view") or {}
        state = view.get("state") or {}
        channel = channel_of(view)
        actor = _actor(
            (body.get("team") or {}).get("id"),
            channel or "modal",
            (body.get("user") or {}).get("id"),
        )
        training, model = chosen(state, "file"), chosen(state, "model")
        if not training or not model or channel is None:
            return
        epochs_text = chosen(state, "epochs")
        epochs = int(epochs_text) if epochs_text and epochs_text.isdigit() else None
        picked = chosen(state, "provider")
        providers = list(await self._service.team_providers(actor.team_id))
        lines = await self._service.estimate_start(
            actor,
            training_file=training,
            model=model,
            n_epochs=epochs,
            family=picked if picked in providers else None,
        )
        files = await self._list_files(actor.team_id)
        if picked in providers:  # the rebuilt form keeps the family picked
            providers.remove(picked)
            providers.insert(0, picked)
        # The rebuilt form shows the options of the family picked (the default if none).
        fields = await self._service.start_fields(actor, picked if picked in providers else None)
        await client.views_update(
            view_id=view.get("id"),
            hash=view.get("hash"),
            view=start_view(
                channel_id=channel,
                files=files,
                fields=fields,
                estimate="\n".join(lines),
                providers=providers,
            ),
        )

    async def on_model_options(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]
    ) -> None:
        actor = _actor(
            (body.get("team") or {}).get("id"), "modal", (body.get("user") or {}).get("id")
        )
        query = str(body.get("value") or "")
        # The family picked in the form (a team with several): only its models are offered.
        family = chosen((body.get("view") or {}).get("state") or {}, "provider")
        names = await self._models_for(actor, family)
        wanted = [n for n in names if query.lower() in n.lower() and fits_option(n)]
        await ack(options=[option(n, n) for n in wanted[: slack_limits.SELECT_OPTIONS]])

    async def _models_for(self, actor: Actor, family: str | None = None) -> list[str]:
        key = (actor.team_id, family or "")
        cached = self._models.get(key)
        if cached and time.monotonic() - cached[0] < MODEL_CACHE_SECONDS:
            return cached[1]
        try:
            names = await asyncio.wait_for(
                self._service.fine_tunable_models(actor, family=family), OPTIONS_BUDGET_SECONDS
            )
        except (TimeoutError, FineTuneError):
            return cached[1] if cached else []
        self._models[key] = (time.monotonic(), names)
        return names

    # ------------------------------------------------------------------ events

    async def on_file_shared(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        """Offer to take a .jsonl file the moment someone shares it with the bot."""
        channel = str(event.get("channel_id") or "")
        user = str(event.get("user_id") or "")
        if not channel or not user:
            return
        found = await shared_file(client, str(event.get("file_id", "")), channel)
        if not found.name.lower().endswith(".jsonl"):
            return
        await client.chat_postEphemeral(
            channel=channel,
            user=user,
            text=f"Use {escape(found.name)} for fine-tuning?",
            blocks=[
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"Use {bold(found.name)} for fine-tuning? I can check it only, "
                        "or check and upload it.",
                        "verbatim": True,
                    },
                },
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": TAKE_FILE_ACTION,
                            "style": "primary",
                            "text": {"type": "plain_text", "text": "Check and upload"},
                            "value": found.id,
                        },
                        {
                            "type": "button",
                            "action_id": CHECK_FILE_ACTION,
                            "text": {"type": "plain_text", "text": "Check only"},
                            "value": found.id,
                        },
                    ],
                },
            ],
        )


async def _ignore() -> None:
    return None


def _actor(
    team: object, channel: object, user: object, name: object = "", *, request_id: str = ""
) -> Actor:
    if not team or not channel or not user:
        raise UsageError("Slack sent a request without a team, channel or user.")
    return Actor(
        platform=Platform.SLACK,
        workspace_id=str(team),
        channel_id=str(channel),
        user_id=str(user),
        display_name=str(name or ""),
        request_id=request_id,
    )


def _bare_form(text: str) -> Form | None:
    """The form a command typed alone opens; with options, the text is parsed as usual."""
    words = text.split()
    spec = resolve_command(words[0]) if len(words) == 1 else None
    return spec.form_for(()) if spec is not None else None


def _setup_kind(text: str, accounts: Mapping[str, AccountKind]) -> str | None:
    """The account kind `setup provider=KIND` (and nothing else) names, whose form opens."""
    words = text.split()
    spec = resolve_command(words[0]) if len(words) == 2 else None
    if spec is None or spec.request_type is not SetupRequest:
        return None
    name, _, value = words[1].partition("=")
    kind = value.strip().lower()
    return kind if name == "provider" and kind in accounts else None


async def _failed(actor: Actor, client: AsyncWebClient, respond: Respond) -> None:
    await _answer(
        error_reply("Something went wrong on our side; it was logged."), actor, client, respond
    )


def _request_id(body: dict[str, Any]) -> str:
    """The core's request identity (a start's provider key derives from it)."""
    return request_identity(body, {}) or ""


def _private(reply: Reply) -> Reply:
    from dataclasses import replace

    return replace(reply, visibility=Visibility.EPHEMERAL)


async def _answer(
    reply: Reply,
    actor: Actor,
    client: AsyncWebClient,
    respond: Respond,
    *,
    thread_ts: str | None = None,
) -> None:
    """Through the response URL (works where the bot is not a member); PNGs as file uploads.
    A reply too long for one message is kept for its More button."""
    token = PAGER.keep(actor.workspace_id, reply) if reply_pages(reply) > 1 else None
    await respond(
        text=fallback_text(reply),
        blocks=reply_blocks(reply, more_token=token),
        response_type="ephemeral" if reply.ephemeral else "in_channel",
        replace_original=False,
    )
    for attachment in reply.attachments:
        await client.files_upload_v2(
            channel=actor.channel_id,
            thread_ts=thread_ts,
            content=attachment.content,
            filename=attachment.filename,
            title=attachment.title or attachment.filename,
        )
