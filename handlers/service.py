"""Core layer: `handle(request, actor) -> Reply`: team, role, long-work slot, route, audit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import timedelta

from handlers.datasets import EstimateTokenizer
from handlers.errors import DataError, FineTuneError, UsageError
from handlers.fairness import LongWork, Slot, is_long
from handlers.features.channels import Channels
from handlers.features.files import FORCE_RISK, Files
from handlers.features.help import help_reply
from handlers.features.help import routes as help_routes
from handlers.features.jobs import BOT_METADATA_KEY, Jobs
from handlers.features.progress import Progress, current
from handlers.features.providers import Providers
from handlers.features.recipes import Recipes
from handlers.features.routing import Handler, table
from handlers.features.sharing import Sharing, answers_privately
from handlers.governance import DEFAULT_APPROVAL_TTL, Governance
from handlers.model import Actor, AuditEntry, Role, Team
from handlers.parse import parse
from handlers.playground import Playground, PlaygroundSettings
from handlers.ports import (
    ChartRenderer,
    Clock,
    KeyChecker,
    ProviderDirectory,
    Store,
    Tokenizer,
    WatchStore,
)
from handlers.pricing import UNPRICED, PriceTable
from handlers.profile import AccountKind, ProviderProfile
from handlers.replies import Reply, Tone, Visibility, error_reply, plain
from handlers.requests import SPECS, FormField, OptionRefused, Request, StartRequest, command_of
from handlers.secrets import Secret, redact, safe_endpoint
from handlers.sources import LocalPathRefusedError

log = logging.getLogger(__name__)

DEFAULT_CPU_THREADS = 1
"""Validations that run at once when the composition root gives no pool of its own."""


class Service:
    """The one entry for every command; never posts, only answers."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        providers: ProviderDirectory,
        clock: Clock,
        charts: ChartRenderer,
        instance: str = "default",
        tokenizer: Tokenizer | None = None,
        prices: PriceTable | None = None,
        keys: KeyChecker | None = None,
        default_role: Role = Role.OPERATOR,
        approval_ttl: timedelta = DEFAULT_APPROVAL_TTL,
        self_approval: bool = False,
        confirm_over: float | None = None,
        credentials_changed: Callable[[str], None] | None = None,
        playground: PlaygroundSettings | None = None,
        accounts: Mapping[str, AccountKind] | None = None,
        account_families: Mapping[str, str] | None = None,
        profiles: Sequence[ProviderProfile] = (),
        long_work: LongWork | None = None,
        cpu: Executor | None = None,
    ) -> None:
        # Without a real tokenizer counts are estimates, and every report says so.
        tokenizer = tokenizer or EstimateTokenizer()
        prices = prices or UNPRICED
        self.prices = prices
        """The price table every estimate reads (its date is named when it is old)."""
        self._store = store
        self._clock = clock
        self._providers = providers
        self.long_work = long_work or LongWork()
        self._teams: set[str] = set()
        # Validation gets its own few threads: on the default pool (which file and temp-file
        # work of every command shares) eight big files would make everyone else queue.
        cpu = cpu or ThreadPoolExecutor(
            max_workers=DEFAULT_CPU_THREADS, thread_name_prefix="ftbot-cpu"
        )
        files = Files(
            store=store,
            providers=providers,
            clock=clock,
            tokenizer=tokenizer,
            prices=prices,
            cpu=cpu,
            scratch=playground.scratch_dir if playground is not None else None,
        )
        self.governance = Governance(
            store=store,
            watch_store=watch_store,
            clock=clock,
            prices=prices,
            keys=keys,
            default_role=default_role,
            approval_ttl=approval_ttl,
            self_approval=self_approval,
            credentials_changed=credentials_changed,
            accounts=accounts,
            account_families=account_families,
            providers=providers,
        )
        self.playground = Playground(
            store=store,
            watch_store=watch_store,
            providers=providers,
            clock=clock,
            prices=prices,
            validate=files.check_chat,
            upload=files.upload,
            settings=playground,
        )
        self._jobs = Jobs(
            store=store,
            watch_store=watch_store,
            providers=providers,
            clock=clock,
            charts=charts,
            prices=prices,
            instance=instance,
            governance=self.governance,
            playground=self.playground,
            confirm_over=confirm_over,
        )
        self._sharing = Sharing(clock=clock)
        # A new command adds its request type to its feature's routes, not a branch here.
        self._routes: dict[type[Request], Handler] = table(
            help_routes(),
            files.routes(),
            self._jobs.routes(),
            Recipes(store=store, providers=providers, files=files, jobs=self._jobs).routes(),
            Channels(store=store).routes(),
            Providers(store=store, providers=providers, profiles=profiles).routes(),
            self.governance.routes(launch=self._jobs.launch_approved),
            self.playground.routes(),
            self._sharing.routes(),
        )

    async def handle(
        self, request: Request, actor: Actor, *, progress: Progress | None = None
    ) -> Reply:
        """Answer one command for one actor; every failure becomes one plain reply.

        `progress(stage, done, total)` hears how validation ("validating", from a worker
        thread) and the upload ("uploading", on the loop) of a large file advance.
        """
        current.set(progress)
        name = command_of(request).name
        audited = SPECS[name].mutating
        try:
            await self._ensure_team(actor)
            await self.governance.authorize(request, actor)
            if is_long(request) and not self.long_work.holds(actor.team_id):
                with self.long_work.claim(actor.team_id):
                    reply = await self._dispatch(request, actor)
            else:
                reply = await self._dispatch(request, actor)
            if answers_privately(request) and not reply.ephemeral:
                reply = self._sharing.private(reply, actor)
        except UsageError as error:
            reply = error_reply(error.message, usage=error.usage)
        except DataError as error:
            reply = Reply(
                title=error.message,
                lines=error.problems,
                tone=Tone.ERROR,
                visibility=Visibility.EPHEMERAL,
            )
        except FineTuneError as error:
            reply = error_reply(error.text)
            # A path typed in chat is an attempt on the bot's disk: recorded whatever the command.
            audited = audited or isinstance(error, LocalPathRefusedError)
        except Exception:
            log.exception("command failed", extra={"command": name, "team": actor.team_id})
            reply = error_reply("Something went wrong on our side; the error was logged.")
        if audited:
            await self._audit(actor, name, request, reply)
        return reply

    async def permit(self, request: Request, actor: Actor) -> Reply | None:
        """May the actor run this request? Adapters ask before any work for it (a download, a
        form): None, or the one private refusal, audited as `handle` would."""
        try:
            await self.governance.authorize(request, actor)
        except FineTuneError as error:
            reply = error_reply(error.text)
            name = command_of(request).name
            if SPECS[name].mutating:
                await self._audit(actor, name, request, reply)
            return reply
        return None

    async def admit(self, request: Request, actor: Actor) -> Slot:
        """For an adapter that does long work of its own before `handle` (a download): the
        role check first, then the team's long-task slot; a FineTuneError says why not."""
        await self._ensure_team(actor)
        await self.governance.authorize(request, actor)
        return self.long_work.claim(actor.team_id)

    async def _ensure_team(self, actor: Actor) -> None:
        """Record the team once per process: teams are never deleted, and a write per command
        would make every short command wait for SQLite's one writer behind long work."""
        if actor.team_id in self._teams:
            return
        await self._store.ensure_team(
            Team(id=actor.team_id, platform=actor.platform, workspace_id=actor.workspace_id)
        )
        self._teams.add(actor.team_id)

    def wake_with(self, wake: Callable[[], None]) -> None:
        """`wake()` runs right after this service queues a job's card (a start) or makes a
        job due (a refused control): the app sweeps and dispatches at once."""
        self._jobs.wake = wake

    async def handle_text(
        self, text: str, actor: Actor, *, progress: Progress | None = None
    ) -> Reply:
        """Parse one command line (Slack text, console) and answer it; bad text gets usage."""
        try:
            request = parse(text)
        except UsageError as error:
            return error_reply(error.message, usage=error.usage)
        return await self.handle(request, actor, progress=progress)

    async def estimate_start(
        self,
        actor: Actor,
        *,
        training_file: str,
        model: str,
        n_epochs: int | None = None,
        family: str | None = None,
    ) -> tuple[str, ...]:
        """What a start would bill and cost at the family (None: the team's default), and
        when training that model ends there if that is announced, for the start forms to
        show before submission."""
        return await self._jobs.estimate_start(
            actor, training_file=training_file, model=model, n_epochs=n_epochs, family=family
        )

    async def start_fields(self, actor: Actor, family: str | None = None) -> tuple[FormField, ...]:
        """The start forms' training options (ranges, defaults) as the chosen family's
        provider takes them (the team's default when none is named); adapters draw these,
        never a list of their own."""
        return await self._jobs.start_fields(actor, family)

    async def start_refusal(self, actor: Actor, request: StartRequest) -> OptionRefused | None:
        """The option of a start form the team's provider would refuse, for inline errors."""
        return await self._jobs.start_refusal(actor, request)

    async def team_providers(self, team_id: str) -> Sequence[str]:
        """The provider families the team can use now, its default first (the start forms
        offer them)."""
        return await self._providers.available(team_id)

    async def fine_tunable_models(
        self, actor: Actor, query: str = "", family: str | None = None
    ) -> list[str]:
        """Base models a family (None: the team's default) offers for fine-tuning, plus the
        team's own models made there (the start forms' model list)."""
        return await self._jobs.fine_tunable_models(actor, query, family)

    async def _dispatch(self, request: Request, actor: Actor) -> Reply:
        route = self._routes.get(type(request))
        if route is None:  # pragma: no cover - a test proves every request type is routed
            raise UsageError("Unknown command.", usage="/finetune help")
        return await route(request, actor)

    def routed(self) -> frozenset[type[Request]]:
        """The request types this service answers (every one in the catalogue)."""
        return frozenset(self._routes)

    async def _audit(self, actor: Actor, name: str, request: Request, reply: Reply) -> None:
        result = "error" if reply.tone is Tone.ERROR else "ok"
        try:
            await self._store.record_audit(
                AuditEntry(
                    team_id=actor.team_id,
                    user_id=actor.user_id,
                    command=name,
                    arguments=_describe(request),
                    result=f"{result}: {plain(reply.title)[:200]}",
                    at=self._clock.now(),
                )
            )
        except Exception:
            log.exception("audit write failed", extra={"command": name, "team": actor.team_id})


def _describe(request: Request) -> str:
    parts = []
    for key in getattr(request, "__dataclass_fields__", {}):
        value = getattr(request, key)
        if key == "endpoint" and isinstance(value, str):
            value = safe_endpoint(value)  # a typed ?token= or user:pass@ is never audited
        if isinstance(value, Mapping):
            if not value or any(isinstance(v, Secret) for v in value.values()):
                continue  # secret fields are never audited, not even by name
            value = " ".join(f"{k}:{v}" for k, v in sorted(value.items()))
        if value is not None and not isinstance(value, Secret):
            parts.append(redact(f"{key}={value}"))
    return " ".join(parts)[:500]


__all__ = [
    "BOT_METADATA_KEY",
    "FORCE_RISK",
    "Progress",
    "Service",
    "help_reply",
]
