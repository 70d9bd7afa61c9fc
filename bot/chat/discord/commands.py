"""Discord adapter: the `/finetune` group built from the core's specs, and what each press does.

Each handler defers before touching the store or the provider (Discord drops an interaction
that is not acknowledged within 3 seconds), then answers with a follow-up embed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import aiohttp
import discord
from discord import app_commands

from bot.chat import tempfiles
from bot.chat.discord import limits, naming
from bot.chat.discord.buttons import JobButton
from bot.chat.discord.render import MORE_ACTION, clip, page_count, render
from bot.chat.pages import GONE, Pager, page_of
from handlers.actions import ACTIONS, UNSUPPORTED, Audience, button_request
from handlers.cancelled import settle
from handlers.commands.options import MAX_TEXT
from handlers.errors import FineTuneError, UsageError
from handlers.features.files import not_jsonl_name
from handlers.features.sharing import answers_privately
from handlers.model import Actor, Platform, team_id_for
from handlers.playground import RUN_PREFIX
from handlers.ports import Store
from handlers.profile import AccountKind
from handlers.replies import Reply, Visibility, error_reply
from handlers.requests import (
    SPECS,
    CommandSpec,
    Form,
    FormField,
    OptionKind,
    OptionSpec,
    Request,
    SetupRequest,
    StartRequest,
    build_request,
    command_names,
    setup_fields,
)
from handlers.secrets import Secret
from handlers.service import Service
from handlers.sources import PrivateFile

log = logging.getLogger(__name__)

GROUP_NAME = naming.GROUP_NAME
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
AUTOCOMPLETE_BUDGET_SECONDS = 2.0
"""Autocomplete cannot be deferred: answer within Discord's 3 s or not at all."""
CHOICES_MAX = limits.CHOICES
DESCRIPTION_MAX = limits.COMMAND_DESCRIPTION
PRIVATE_COMMANDS = frozenset({"help"})
MODAL_FIELDS = ("file", "model", "validation")
"""The start form's fixed fields; two of the provider's training fields follow (a modal holds
at most five)."""
MODAL_TRAINING_FIELDS = 2
MODAL_ITEMS = limits.MODAL_COMPONENTS
"""The most text inputs a Discord modal holds."""
START_FIELD_MAX = 256
"""What a start form's field takes unless its pre-filled value is longer."""
TEAM_GROUP = naming.TEAM_GROUP
TEAM_COMMANDS = naming.TEAM_COMMANDS
DM_TEXT = "Use /finetune in a server: jobs, files and models belong to a server's team."

AnyInteraction = discord.Interaction[Any]


def actor_of(interaction: AnyInteraction) -> Actor | None:
    """The core's Actor; None outside a server (a DM has no team)."""
    if interaction.guild_id is None or interaction.channel_id is None:
        return None
    user = interaction.user
    perms = interaction.permissions
    return Actor(
        platform=Platform.DISCORD,
        workspace_id=str(interaction.guild_id),
        channel_id=str(interaction.channel_id),
        user_id=str(user.id),
        display_name=user.display_name,
        # The resolved bitset: Administrator implies Manage Server on Discord itself.
        is_workspace_admin=perms.manage_guild or perms.administrator,
    )


def interaction_identity(interaction: AnyInteraction) -> str:
    """An interaction's id is unique: it is the request's identity (a start's key uses it)."""
    return f"discord:interaction:{interaction.id}"


class DiscordCommands:
    """Translates interactions into core requests and Replies into Discord messages."""

    def __init__(
        self,
        *,
        service: Service,
        store: Store,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        download_dir: Path | None = None,
        first_delivery: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._first_delivery = first_delivery
        self._service = service
        self._store = store
        self._max_upload = max_upload_bytes
        self._dir = download_dir
        self._session: aiohttp.ClientSession | None = None
        self.pager = Pager()
        """Long replies behind their More buttons."""
        self._handling: set[asyncio.Task[Any]] = set()
        """The interactions being handled (discord.py runs each in a task of its own)."""

    def _track(self) -> None:
        """Count the running interaction's task among those a stop waits for."""
        task = asyncio.current_task()
        if task is not None and task not in self._handling:
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)

    async def drain(self, grace: float) -> None:
        """Let the interactions being handled finish for `grace` seconds, then cancel and
        await the rest, so none is still using the database when the engine is disposed (a
        start cut short is settled from its intent by the next process)."""
        deadline = asyncio.get_running_loop().time() + grace
        while pending := {t for t in self._handling if t is not asyncio.current_task()}:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(pending, timeout=left)
        late = {t for t in self._handling if not t.done()}
        for task in late:
            task.cancel()
        await settle(late)

    @property
    def accounts(self) -> Mapping[str, AccountKind]:
        """The account kinds the setup form offers (the deployment's provider families')."""
        return self._service.governance.accounts

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ the command group

    def build_group(self) -> app_commands.Group:
        group = app_commands.Group(
            name=GROUP_NAME,
            description="Fine-tuning jobs: upload data, start, watch and control jobs",
            guild_only=True,
        )
        team = app_commands.Group(
            name=TEAM_GROUP,
            description="The team's provider key, roles, budget, approvals and audit",
            parent=group,
        )
        for spec in SPECS.values():
            if spec.name in TEAM_COMMANDS:
                team.add_command(self._command(spec))
            else:
                group.add_command(self._command(spec))
        return group

    def _command(self, spec: CommandSpec) -> app_commands.Command[Any, ..., None]:
        async def callback(interaction: AnyInteraction, **values: Any) -> None:
            await self.run(interaction, spec, values)

        options = list(self._discord_options(spec))
        params = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=discord.Interaction,
            )
        ]
        for option, annotation, required in options:
            params.append(
                inspect.Parameter(
                    option.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=annotation,
                    default=inspect.Parameter.empty if required else None,
                )
            )
        # discord.py reads options from the signature; the specs decide it, not this file.
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__qualname__ = f"{GROUP_NAME}_{spec.name}.<locals>.callback"
        described = app_commands.describe(
            **{o.name: clip(o.help, DESCRIPTION_MAX) for o, _, _ in options}
        )(callback)
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=clip(spec.summary, DESCRIPTION_MAX),
            callback=described,
        )
        for option, _, _ in options:
            complete = self._autocomplete_for(option)
            if complete is not None:
                command.autocomplete(option.name)(complete)
        return command

    def _discord_options(self, spec: CommandSpec) -> Sequence[tuple[OptionSpec, Any, bool]]:
        """The slots naming.slots decides (help's usage lines read the same), typed."""
        return [
            (
                option,
                discord.Attachment if option.kind is OptionKind.DATA_FILE else _annotation(option),
                required,
            )
            for option, required in naming.slots(spec)
        ]

    def _autocomplete_for(
        self, option: OptionSpec
    ) -> (
        Callable[[AnyInteraction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]] | None
    ):
        match option.kind:
            case OptionKind.JOB_ID:
                return self.complete_jobs
            case OptionKind.FILE:
                return self.complete_files
            case OptionKind.MODEL:
                return self.complete_models
            case OptionKind.TEXT if option.name == "command":
                return self.complete_commands
            case OptionKind.TEXT if option.name == "provider":
                return self.complete_providers
        return None

    # ------------------------------------------------------------------ commands

    async def run(
        self, interaction: AnyInteraction, spec: CommandSpec, raw: Mapping[str, Any]
    ) -> None:
        self._track()
        actor = actor_of(interaction)
        if actor is None:
            await self._say(interaction, error_reply(DM_TEXT))
            return
        values = {k: v for k, v in raw.items() if v is not None}
        if any(o.kind is OptionKind.DATA_FILE for o in spec.options):
            if await self._first(interaction):
                await self._with_files(interaction, actor, spec, values)
            return
        form = spec.form_for(values)
        kind = _setup_kind(spec, values, self.accounts)
        if form is Form.SETUP or kind is not None:
            # The key goes in a modal only the admin sees, never in an option of the command;
            # whoever may not set it never sees the form. `setup provider=KIND` opens that
            # kind's own fields: a modal holds five, fewer than every kind's together.
            if await self._refused(interaction, actor, SetupRequest()):
                return
            await interaction.response.send_modal(SetupForm(self, kind=kind))
            return
        if form is Form.START:
            if await self._refused(interaction, actor, StartRequest(model="", training_file="")):
                return
            fields = _modal_training_fields(await self._service.start_fields(actor))
            await interaction.response.send_modal(StartForm(self, values, fields))
            return
        try:
            request = build_request(spec.name, values)
        except UsageError as error:
            await self._say(interaction, error_reply(error.message, usage=error.usage))
            return
        # A read-only answer is the asker's (the core says which): deferred privately too, so
        # the channel never sees a "thinking…" for it.
        private = spec.name in PRIVATE_COMMANDS or answers_privately(request)
        await self.answer(interaction, actor, request, private=private)

    async def answer(
        self, interaction: AnyInteraction, actor: Actor, request: Request, *, private: bool
    ) -> None:
        """Defer, ask the core, answer with a follow-up: the one path every command takes."""
        self._track()
        if not await self._first(interaction):
            return
        await interaction.response.defer(ephemeral=private, thinking=True)
        actor = replace(actor, request_id=interaction_identity(interaction))
        reply = await self._service.handle(request, actor)
        await self._follow_up(interaction, reply, deferred_private=private)

    async def _first(self, interaction: AnyInteraction) -> bool:
        """False for an interaction already acted on (by any replica): it gets no answer,
        since the first delivery answers it."""
        if self._first_delivery is None or await self._first_delivery(
            interaction_identity(interaction)
        ):
            return True
        log.info("repeated discord interaction ignored", extra={"interaction": interaction.id})
        return False

    async def confirm_start(
        self, interaction: AnyInteraction, actor: Actor, request: StartRequest
    ) -> None:
        """Show what the job would cost, privately, and start it only when confirmed."""
        self._track()
        if await self._refused(interaction, actor, request):
            return  # a form opened before the role changed: no estimate, one refusal
        await interaction.response.defer(ephemeral=True, thinking=True)
        lines = await self._service.estimate_start(
            actor,
            training_file=request.training_file,
            model=request.model,
            n_epochs=request.n_epochs,
            family=request.provider,
        )
        reply = Reply(
            title=f"Start {request.model} on {request.training_file}?",
            lines=lines,
            visibility=Visibility.EPHEMERAL,
        )
        message = render(reply)
        await interaction.followup.send(
            embed=message.embed, view=ConfirmStart(self, actor, request), ephemeral=True
        )

    async def _follow_up(
        self, interaction: AnyInteraction, reply: Reply, *, deferred_private: bool
    ) -> None:
        if reply.ephemeral and not deferred_private:
            # The public "thinking…" message would make the error public; replace it.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        token = None
        if page_count(reply) > 1 and interaction.guild_id is not None:
            token = self.pager.keep(str(interaction.guild_id), reply)
        message = render(reply, more_token=token)
        kwargs: dict[str, Any] = {"files": message.files} if message.files else {}
        if message.view is not None:
            kwargs["view"] = message.view
        await interaction.followup.send(
            content=message.content or discord.utils.MISSING,
            embeds=message.embeds,
            allowed_mentions=message.allowed_mentions,
            ephemeral=reply.ephemeral or deferred_private,
            wait=True,
            **kwargs,
        )

    async def _say(self, interaction: AnyInteraction, reply: Reply) -> None:
        """An immediate answer that needs no store or provider call (private by default)."""
        message = render(reply)
        kwargs: dict[str, Any] = {"view": message.view} if message.view is not None else {}
        await interaction.response.send_message(
            embeds=message.embeds,
            ephemeral=reply.ephemeral,
            allowed_mentions=message.allowed_mentions,
            **kwargs,
        )

    async def _refused(self, interaction: AnyInteraction, actor: Actor, request: Request) -> bool:
        """The role check before any form or download: a refusal is one private message."""
        refused = await self._service.permit(request, actor)
        if refused is None:
            return False
        await self._say(interaction, replace(refused, visibility=Visibility.EPHEMERAL))
        return True

    async def _with_files(
        self,
        interaction: AnyInteraction,
        actor: Actor,
        spec: CommandSpec,
        values: Mapping[str, Any],
    ) -> None:
        """upload / validate: check the attachments, the role, then download each into the bot's
        private directory, hand them to the core as private files and delete them."""
        attachments = {k: v for k, v in values.items() if isinstance(v, discord.Attachment)}
        if "file" not in attachments:
            await self._say(
                interaction, error_reply("Attach a .jsonl file.", usage=spec.usage_ref)
            )
            return
        # Checked before download: a wrong file costs nothing but this message.
        for attachment in attachments.values():
            problem = self._attachment_problem(attachment)
            if problem is not None:
                await self._say(interaction, error_reply(problem))
                return
        try:
            # The names stand in until the downloads replace them; the core refuses any left.
            request = build_request(
                spec.name, {**values, **{k: a.filename for k, a in attachments.items()}}
            )
        except UsageError as error:
            await self._say(interaction, error_reply(error.message, usage=error.usage))
            return
        if await self._refused(interaction, actor, request):
            return
        await interaction.response.defer(thinking=True)
        try:
            # The download is long work: the role and the team's slot come before it.
            slot = await self._service.admit(request, actor)
        except FineTuneError as error:
            await self._follow_up(interaction, error_reply(error.text), deferred_private=False)
            return
        taken: list[Any] = []
        reply: Reply | None = None
        try:
            for name, attachment in attachments.items():
                fd, path = tempfiles.new_file(self._dir)
                taken.append(path)
                with os.fdopen(fd, "wb") as out:
                    ok = await self._download(attachment.url, out, attachment.filename)
                if not ok:
                    reply = error_reply(
                        f"Could not download {attachment.filename} from Discord, or it is "
                        f"larger than {self._max_upload:,} bytes. Try again."
                    )
                    break
                shared = PrivateFile(path=path, name=attachment.filename)
                request = replace(request, **{name: shared})  # type: ignore[arg-type]
            if reply is None:
                with slot:
                    reply = await self._service.handle(request, actor)
        finally:
            slot.release()
            for path in taken:
                await asyncio.to_thread(tempfiles.remove, path)
        await self._follow_up(interaction, reply, deferred_private=False)

    def _attachment_problem(self, attachment: discord.Attachment) -> str | None:
        if not attachment.filename.lower().endswith(".jsonl"):
            return not_jsonl_name(attachment.filename)
        if attachment.size > self._max_upload:
            return (
                f"{attachment.filename} is {attachment.size:,} bytes; "
                f"the limit is {self._max_upload:,} bytes."
            )
        return None

    async def _download(self, url: str, out: Any, filename: str) -> bool:
        """Stream to disk with a hard cap (the declared size could be wrong)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        written = 0
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    log.warning("attachment download failed", extra={"status": response.status})
                    return False
                async for chunk in response.content.iter_chunked(1 << 20):
                    written += len(chunk)
                    if written > self._max_upload:
                        return False
                    out.write(chunk)
        except aiohttp.ClientError as error:
            log.warning(
                "attachment download failed",
                extra={"file": filename, "error": type(error).__name__},
            )
            return False
        return True

    # ------------------------------------------------------------------ buttons

    async def on_button(
        self, interaction: AnyInteraction, action: str, value: str, *, confirmed: bool
    ) -> None:
        self._track()
        actor = actor_of(interaction)
        if actor is None:
            await self._say(interaction, error_reply(DM_TEXT))
            return
        if action == MORE_ACTION:
            await self._more(interaction, actor, value)
            return
        entry = ACTIONS.get(action)
        if entry is None:
            await self._say(interaction, error_reply(UNSUPPORTED))
            return
        if entry.confirm and not confirmed:
            view = discord.ui.View(timeout=None)
            view.add_item(
                JobButton(
                    action,
                    value,
                    label=f"Yes, {action}",
                    style=discord.ButtonStyle.danger,
                    confirmed=True,
                )
            )
            message = render(
                Reply(
                    title=f"Really {action} {value}?",
                    lines=(
                        "The comparison stops; the partial results are kept."
                        if value.startswith(RUN_PREFIX)
                        else "Training stops and cannot be resumed.",
                    ),
                    visibility=Visibility.EPHEMERAL,
                )
            )
            await interaction.response.send_message(embed=message.embed, view=view, ephemeral=True)
            return
        try:
            request = button_request(action, value)
        except UsageError as error:
            await self._say(interaction, error_reply(error.text))
            return
        # A message here has no thread: an answer not for the channel goes to the presser.
        private = entry.audience is not Audience.CHANNEL
        await self.answer(interaction, actor, request, private=private)

    async def _more(self, interaction: AnyInteraction, actor: Actor, value: str) -> None:
        """The next page of a long reply, as private or public as the reply itself."""
        found = page_of(value)
        reply = None if found is None else self.pager.get(actor.workspace_id, found[0])
        if found is None or reply is None:
            await self._say(interaction, error_reply(GONE))
            return
        token, page = found
        message = render(reply, page=page, more_token=token)
        kwargs: dict[str, Any] = {"view": message.view} if message.view is not None else {}
        await interaction.response.send_message(
            embeds=message.embeds,
            ephemeral=reply.ephemeral,
            allowed_mentions=message.allowed_mentions,
            **kwargs,
        )

    # ------------------------------------------------------------------ autocomplete

    async def complete_jobs(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        async def choices(team: str) -> list[app_commands.Choice[str]]:
            jobs = await self._store.list_jobs(team, limit=100)
            return [
                app_commands.Choice(
                    name=clip(
                        f"{j.id} · {j.state.shown_status} · {j.state.model}", limits.CHOICE_NAME
                    ),
                    value=j.id,
                )
                for j in jobs
                if current.lower() in j.id.lower() and len(j.id) <= limits.CHOICE_VALUE
            ]

        return await self._complete(interaction, choices)

    async def complete_providers(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The team's provider families, its default first (start and upload provider:)."""

        async def choices(team: str) -> list[app_commands.Choice[str]]:
            families = await self._service.team_providers(team)
            return [
                app_commands.Choice(
                    name=clip(f + (" (default)" if i == 0 else ""), limits.CHOICE_NAME), value=f
                )
                for i, f in enumerate(families)
                if current.lower() in f.lower()
            ]

        return await self._complete(interaction, choices)

    async def complete_files(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        async def choices(team: str) -> list[app_commands.Choice[str]]:
            files = await self._store.list_files(team)
            needle = current.lower()
            return [
                app_commands.Choice(
                    name=clip(
                        f"{f.alias} · {f.filename} · {f.examples} examples", limits.CHOICE_NAME
                    ),
                    value=f.alias,
                )
                for f in files
                if (needle in f.alias.lower() or needle in f.filename.lower())
                and len(f.alias) <= limits.CHOICE_VALUE
            ]

        return await self._complete(interaction, choices)

    async def complete_models(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        # With provider: already given, only the team's models made at that family.
        family = getattr(interaction.namespace, "provider", None)

        async def choices(team: str) -> list[app_commands.Choice[str]]:
            models = await self._store.list_models(team)
            found = [
                app_commands.Choice(name=clip(m.name, limits.CHOICE_NAME), value=m.name)
                for m in models
                if current.lower() in m.name.lower()
                and len(m.name) <= limits.CHOICE_VALUE
                and (not isinstance(family, str) or not family or m.provider == family)
            ]
            typed = current.strip()
            if (
                typed
                and len(typed) <= limits.CHOICE_VALUE
                and all(c.value != typed for c in found)
            ):
                # Any base model name is allowed; offer what was typed as it is. Longer than a
                # choice may be is no model name: it is not echoed (Discord refuses the list).
                found.insert(0, app_commands.Choice(name=typed, value=typed))
            return found

        return await self._complete(interaction, choices)

    async def complete_commands(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=name, value=name)
            for name in command_names()
            if current.lower() in name
        ][:CHOICES_MAX]

    async def _complete(
        self,
        interaction: AnyInteraction,
        choices: Callable[[str], Awaitable[list[app_commands.Choice[str]]]],
    ) -> list[app_commands.Choice[str]]:
        """Served from the store, scoped by the guild's team; empty rather than late."""
        self._track()
        if interaction.guild_id is None:
            return []
        team = team_id_for(Platform.DISCORD, str(interaction.guild_id))
        try:
            found = await asyncio.wait_for(choices(team), AUTOCOMPLETE_BUDGET_SECONDS)
        except TimeoutError:
            log.warning("autocomplete too slow", extra={"team": team})
            return []
        return found[:CHOICES_MAX]


def _annotation(option: OptionSpec) -> Any:
    """The Discord option type for a core option: ranges and choices come from the spec."""
    match option.kind:
        case OptionKind.INT:
            if option.minimum is not None or option.maximum is not None:
                return app_commands.Range[
                    int, _int_bound(option.minimum), _int_bound(option.maximum)
                ]
            return int
        case OptionKind.FLOAT:
            if option.minimum is not None or option.maximum is not None:
                # Discord has no exclusive bounds; the core rejects the bound itself.
                return app_commands.Range[
                    float, _float_bound(option.minimum), _float_bound(option.maximum)
                ]
            return float
        case OptionKind.CHOICE:
            return Literal.__getitem__(tuple(option.choices))
        case OptionKind.SUFFIX:
            # One command schema serves every provider; the core applies each one's limit.
            return app_commands.Range[str, 1, MAX_TEXT]
        case _:
            return str


def _int_bound(value: float | None) -> int | None:
    """A spec's bound as discord.py's Range takes it; None leaves that side open."""
    return None if value is None else int(value)


def _float_bound(value: float | None) -> float | None:
    return None if value is None else float(value)


def _setup_kind(
    spec: CommandSpec, values: Mapping[str, Any], accounts: Mapping[str, AccountKind]
) -> str | None:
    """The account kind `setup provider=KIND` (and nothing else) names, whose form opens."""
    if spec.request_type is not SetupRequest or set(values) != {"provider"}:
        return None
    kind = str(values["provider"]).strip().lower()
    return kind if kind in accounts else None


def _either(names: Sequence[str]) -> str:
    """ "a, b or c": the names a form field takes."""
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


class SetupForm(discord.ui.Modal, title="The team's provider account"):
    """Provider, key, endpoint and API version, or one account kind's own fields (`kind`);
    what is typed here is never echoed back."""

    def __init__(self, commands: DiscordCommands, *, kind: str | None = None) -> None:
        super().__init__(timeout=900)
        self._commands = commands
        self._kind = kind
        self._choices = (kind,) if kind is not None else tuple(commands.accounts)
        self.provider: discord.ui.TextInput[SetupForm] | None = None
        room = MODAL_ITEMS
        if kind is None:
            # The choices go in the placeholder: with four families they pass a label's 45.
            self.provider = discord.ui.TextInput(
                label="Provider",
                custom_id="setup:provider",
                placeholder=clip(_either(self._choices), limits.TEXT_INPUT_PLACEHOLDER) or None,
                default=self._choices[0] if self._choices else "",
                max_length=max((len(c) for c in self._choices), default=20),
            )
            self.add_item(self.provider)
            room -= 1
        offered = {kind: commands.accounts[kind]} if kind is not None else commands.accounts
        self.inputs: dict[str, discord.ui.TextInput[SetupForm]] = {}
        for field in setup_fields(offered)[:room]:
            own = offered[kind].field(field.name) if kind is not None else None
            text_input: discord.ui.TextInput[SetupForm] = discord.ui.TextInput(
                label=clip(field.label, limits.TEXT_INPUT_LABEL),
                custom_id=f"setup:{field.name}",
                required=field.required,
                style=(
                    discord.TextStyle.paragraph if field.multiline else discord.TextStyle.short
                ),
                # Which account kinds need it, and each one's hint: a label holds only 45.
                placeholder=clip(field.hint, limits.TEXT_INPUT_PLACEHOLDER) or None,
                default=own.default if own is not None and not field.secret else None,
                max_length=min(field.max_length, limits.TEXT_INPUT_VALUE),
            )
            self.inputs[field.name] = text_input
            self.add_item(text_input)

    def _typed(self, name: str) -> str | None:
        found = self.inputs.get(name)
        return (found.value.strip() or None) if found is not None else None

    def _raw(self, name: str) -> str:
        found = self.inputs.get(name)
        return found.value if found is not None else ""

    async def on_submit(self, interaction: AnyInteraction) -> None:
        actor = actor_of(interaction)
        if actor is None:
            await self._commands._say(interaction, error_reply(DM_TEXT))
            return
        provider = self._kind or (self.provider.value if self.provider else "").strip().lower()
        account = self._commands.accounts.get(provider)
        if provider not in self._choices or account is None:
            await self._commands._say(
                interaction, error_reply(f"Provider must be {_either(self._choices)}.")
            )
            return
        key = self._typed("key")
        request = SetupRequest(
            provider=provider,
            api_key=Secret(key or "") if key or not account.ambient else None,
            endpoint=self._typed("endpoint"),
            api_version=self._typed("api_version"),
            secrets={n: Secret(self._raw(n)) for n in account.secret_names if n != "key"},
            settings={
                n: value for n in account.setting_names if (value := self._typed(n)) is not None
            },
        )
        await self._commands.answer(interaction, actor, request, private=True)

    async def on_error(  # type: ignore[override]  # discord.py's Modal narrows BaseView's
        self, interaction: AnyInteraction, error: Exception, /
    ) -> None:
        log.error("setup form failed", extra={"error": type(error).__name__})
        if not interaction.response.is_done():
            await interaction.response.send_message(
                "Something went wrong on our side; the error was logged.", ephemeral=True
            )


def _modal_training_fields(fields: Sequence[FormField]) -> tuple[FormField, ...]:
    """The two training fields the modal has room for: the provider's first option and its
    suffix when it takes one, else its next option."""
    first = fields[:1]
    rest = [f for f in fields[1:] if f.name == "suffix"] or list(fields[1:])
    return (*first, *rest[: MODAL_TRAINING_FIELDS - len(first)])


class StartForm(discord.ui.Modal, title="Start a fine-tuning job"):
    """The start command's free-text fields; typed options already given are kept."""

    def __init__(
        self,
        commands: DiscordCommands,
        given: Mapping[str, Any],
        training: Sequence[FormField] = (),
    ) -> None:
        super().__init__(timeout=900)
        self._commands = commands
        self._given = dict(given)
        self._kept: set[str] = set()
        self.inputs: dict[str, discord.ui.TextInput[StartForm]] = {}
        spec = SPECS["start"]
        for name in MODAL_FIELDS:
            option = spec.option(name)
            assert option is not None
            self._add(name, f"{name} ({option.help})", "", required=option.required)
        for field in training:
            # The provider's range and default go in the placeholder: a label holds 45.
            self._add(field.name, f"{field.name} ({field.label})", field.hint, required=False)

    def _add(self, name: str, label: str, hint: str, *, required: bool) -> None:
        given = self._given.get(name)
        default = None if given is None else str(given)
        if default is not None and len(default) > limits.TEXT_INPUT_VALUE:
            # Too long to pre-fill (Discord refuses the form); the typed option stays as given.
            self._kept.add(name)
            default = None
        text_input: discord.ui.TextInput[StartForm] = discord.ui.TextInput(
            label=clip(label, limits.TEXT_INPUT_LABEL),
            custom_id=f"start:{name}",
            required=required and name not in self._kept,
            placeholder=clip(hint, limits.TEXT_INPUT_PLACEHOLDER) if hint else None,
            default=default,
            # A pre-filled value always fits its own field.
            max_length=min(max(START_FIELD_MAX, len(default or "")), limits.TEXT_INPUT_VALUE),
        )
        self.inputs[name] = text_input
        self.add_item(text_input)

    async def on_submit(self, interaction: AnyInteraction) -> None:
        actor = actor_of(interaction)
        if actor is None:
            await self._commands._say(interaction, error_reply(DM_TEXT))
            return
        values: dict[str, Any] = dict(self._given)
        for name, text_input in self.inputs.items():
            text = text_input.value.strip()
            if text:
                values[name] = text
            elif name not in self._kept:
                values.pop(name, None)
        try:
            request = build_request("start", values)
        except UsageError as error:
            await self._commands._say(interaction, error_reply(error.message, usage=error.usage))
            return
        assert isinstance(request, StartRequest)
        await self._commands.confirm_start(interaction, actor, request)

    async def on_error(  # type: ignore[override]  # discord.py's Modal narrows BaseView's
        self, interaction: AnyInteraction, error: Exception, /
    ) -> None:
        log.error("start form failed", exc_info=error)
        if not interaction.response.is_done():
            await interaction.response.send_message(
                "Something went wrong on our side; the error was logged.", ephemeral=True
            )


class ConfirmStart(discord.ui.View):
    """Start / Keep editing under a start's cost estimate; lives only as long as the prompt."""

    def __init__(self, commands: DiscordCommands, actor: Actor, request: StartRequest) -> None:
        super().__init__(timeout=900)
        self._commands = commands
        self._actor = actor
        self._request = request

    @discord.ui.button(label="Start", style=discord.ButtonStyle.primary)
    async def start(
        self, interaction: AnyInteraction, _button: discord.ui.Button[ConfirmStart]
    ) -> None:
        if str(interaction.user.id) != self._actor.user_id:
            await self._commands._say(interaction, error_reply("Only the requester can start it."))
            return
        self.stop()
        # The estimate was shown above this button: pressing it is the confirmation.
        confirmed = replace(self._request, confirm="yes")
        await self._commands.answer(interaction, self._actor, confirmed, private=False)

    @discord.ui.button(label="Don't start", style=discord.ButtonStyle.secondary)
    async def drop(
        self, interaction: AnyInteraction, _button: discord.ui.Button[ConfirmStart]
    ) -> None:
        self.stop()
        await self._commands._say(interaction, Reply(title="Not started."))
