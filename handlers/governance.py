"""Core layer: who may do what in a team, its own provider key, budgets, cost approvals, audit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from handlers.errors import (
    BudgetError,
    ConfigError,
    CredentialsRefused,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    UsageError,
)
from handlers.families import resolve_family
from handlers.features.routing import Routes
from handlers.model import (
    Actor,
    Approval,
    ApprovalStatus,
    Budget,
    JobState,
    Method,
    Platform,
    Role,
    RoleGrant,
    SpendEntry,
    TeamCredentials,
    TeamFile,
)
from handlers.ports import (
    Clock,
    KeyChecker,
    OutboxMessage,
    ProviderDirectory,
    Store,
    WatchStore,
)
from handlers.pricing import PriceTable, estimate
from handlers.profile import AccountKind, JobStatus
from handlers.replies import (
    Button,
    ButtonStyle,
    Content,
    Field,
    Reply,
    Table,
    Tone,
    UserRef,
    Visibility,
    commands_in,
    rich,
)
from handlers.requests import (
    SPECS,
    AccessRequest,
    ApproveRequest,
    AuditRequest,
    BudgetRequest,
    HelpRequest,
    RejectRequest,
    Request,
    SetupRequest,
    StartRequest,
    command_of,
)
from handlers.secrets import (
    Secret,
    api_version_problem,
    endpoint_problem,
    key_problem,
    pack_secret,
    setting_problem,
)
from handlers.text import count, money, timestamp

log = logging.getLogger(__name__)

DEFAULT_APPROVAL_TTL = timedelta(hours=24)
APPROVAL_PREFIX = "apr-"

Launch = Callable[[StartRequest, Approval], Awaitable[Reply]]
"""Starts an approved request for its requester, in its channel (the service's own path)."""


def required_role(request: Request) -> Role:
    """The least role a request needs: admin for the team's policy, operator for anything that
    changes state (every `mutating` command, including ones added later), viewer to read."""
    match request:
        case HelpRequest():
            return Role.VIEWER
        case SetupRequest() | ApproveRequest() | RejectRequest() | AuditRequest():
            return Role.ADMIN
        case AccessRequest(action=action):
            return Role.VIEWER if action == "list" else Role.ADMIN
        case BudgetRequest(cap=None, approve_over=None):
            return Role.VIEWER
        case BudgetRequest():
            return Role.ADMIN
    return Role.OPERATOR if command_of(request).mutating else Role.VIEWER


LOCAL_ESTIMATE = "local estimate from the price table"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCost:
    """What a start is expected to cost; None when the tokens or the price are unknown."""

    cost: float | None
    price_per_million: float | None
    source: str = LOCAL_ESTIMATE
    """Whose figure it is: the provider's own estimate, or the local one from the price table."""
    billed_tokens: int | None = None
    """The tokens the figure bills (epochs × tokens per epoch), when known."""
    as_of: str = ""
    """The date of the price table the price per 1M tokens comes from."""

    def describe(self) -> str:
        """`$1.23: 410,000 billed tokens at $3 per 1M tokens (local estimate ..., prices as of
        2025-08-01)`: the amount, what it bills, the price and whose figure it is."""
        tokens = f"{self.billed_tokens:,} billed tokens" if self.billed_tokens else ""
        price = (
            f"at ${self.price_per_million:g} per 1M tokens"
            if self.price_per_million is not None
            else ""
        )
        basis = " ".join(p for p in (tokens, price) if p)
        dated = f", prices as of {self.as_of}" if self.as_of and self.price_per_million else ""
        if self.cost is None:
            return f"unknown ({self.source}: no price or no token count)"
        return f"{money(self.cost)}" + (f": {basis}" if basis else "") + f" ({self.source}{dated})"


def month_of(at: datetime) -> str:
    return f"{at:%Y-%m}"


def encode_start(request: StartRequest) -> dict[str, object]:
    """The start request as JSON-safe values, to wait in an approval row."""
    out: dict[str, object] = {}
    for f in fields(request):
        if f.name == "confirm":
            continue  # how the start was confirmed is not part of what it starts
        value = getattr(request, f.name)
        out[f.name] = value.value if isinstance(value, Method) else value
    return out


def decode_start(data: Mapping[str, object]) -> StartRequest:
    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    def whole(name: str) -> int | None:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def number(name: str) -> float | None:
        value = data.get(name)
        return float(value) if isinstance(value, int | float) else None

    return StartRequest(
        model=text("model") or "",
        training_file=text("training_file") or "",
        validation_file=text("validation_file"),
        method=Method(text("method") or Method.SUPERVISED.value),
        n_epochs=whole("n_epochs"),
        learning_rate_multiplier=number("learning_rate_multiplier"),
        batch_size=whole("batch_size"),
        beta=number("beta"),
        suffix=text("suffix"),
        provider=text("provider"),
        seed=whole("seed"),
        n_checkpoints=whole("n_checkpoints"),
        n_evals=whole("n_evals"),
        warmup_ratio=number("warmup_ratio"),
        lora_r=whole("lora_r"),
        lora_alpha=whole("lora_alpha"),
        warmup_steps=whole("warmup_steps"),
        context_length=whole("context_length"),
        training_type=text("training_type"),
        like=text("like"),
        defaults=data.get("defaults") is True,
    )


async def settle_spend(store: Store, team_id: str, state: JobState) -> None:
    """Correct a finished job's estimate: trained tokens × the price it was estimated at.

    A failed job is not billed; a cancelled one keeps its estimate unless tokens are known.
    """
    if state.terminal:
        await settle_spend_entry(store, team_id, state, await store.get_spend(team_id, state.id))


async def settle_spend_entry(
    store: Store, team_id: str, state: JobState, entry: SpendEntry | None
) -> None:
    """settle_spend with the job's spend row already read (None: it has none)."""
    if not state.terminal:
        return
    if entry is None or entry.actual is not None:
        return
    if state.status == JobStatus.FAILED:
        await store.settle_spend(team_id, state.id, 0.0)
        return
    if state.trained_tokens is None or entry.price_per_million is None:
        return
    await store.settle_spend(
        team_id, state.id, state.trained_tokens * entry.price_per_million / 1_000_000
    )


SETUP_REFUSED = (
    "Could not check the key with that provider and endpoint; nothing was stored. Check the key; "
    "the endpoint must be an https URL of a public server, with no user name, password or query."
)
"""The one reply to every failed setup check: telling them apart would map the network."""


def _fingerprint(credentials: TeamCredentials) -> str:
    return "the deployment's identity" if credentials.ambient else credentials.fingerprint


def _secret_of(account: AccountKind, request: SetupRequest) -> Secret:
    """The account's one stored secret from the form's secret fields, checked by shape (a
    UsageError that quotes none of it); "" when an ambient-capable kind left them empty."""
    values = {name: value.reveal() for name, value in request.secrets.items()}
    if request.api_key is not None:
        values["key"] = request.api_key.reveal()
    names = account.secret_names
    values = {n: values.get(n, "").strip() if n != "key" else values.get(n, "") for n in names}
    if account.ambient and not any(values.values()):
        return Secret("")
    if account.secret_problem is not None:
        problem = account.secret_problem(values)
    else:
        problem = key_problem(account.key_shape, account.key_refusal, values.get("key", ""))
    if problem:
        raise UsageError(problem + " Nothing was stored.")
    return Secret(pack_secret(names, values))


def _settings_problem(account: AccountKind, settings: Mapping[str, str]) -> str | None:
    """Why the account's own settings cannot be stored: one missing or of the wrong shape."""
    for name in account.setting_names:
        setting = account.field(name)
        assert setting is not None
        value = settings.get(name, "")
        if not value:
            if setting.required:
                return f"{setting.label} is required for {account.label}."
            continue
        if problem := setting_problem(setting.label, value):
            return problem
    return None


class Governance:
    """Roles, per-team keys, budgets, approvals and the audit view; the service asks it first."""

    def __init__(
        self,
        *,
        store: Store,
        watch_store: WatchStore,
        clock: Clock,
        prices: PriceTable,
        keys: KeyChecker | None = None,
        default_role: Role = Role.VIEWER,
        approval_ttl: timedelta = DEFAULT_APPROVAL_TTL,
        self_approval: bool = False,
        credentials_changed: Callable[[str], None] | None = None,
        accounts: Mapping[str, AccountKind] | None = None,
        account_families: Mapping[str, str] | None = None,
        providers: ProviderDirectory | None = None,
    ) -> None:
        self._store = store
        self._accounts = dict(accounts or {})
        """The account kinds setup offers, from the registered providers' profiles."""
        self._families = dict(account_families or {})
        """The family each account kind's key is for (an unlisted kind is its own family)."""
        self._providers = providers
        self._watch = watch_store
        self._clock = clock
        self._prices = prices
        self._keys = keys
        self._default_role = default_role
        self._self_approval = self_approval
        """The operator lets a team admin approve their own start (a one-admin team)."""
        self._ttl = approval_ttl
        self._changed = credentials_changed

    def routes(self, launch: Launch) -> Routes:
        """Approvals start through `launch`: the jobs feature's own path for a start."""
        return {
            SetupRequest: self.setup,
            AccessRequest: self.access,
            BudgetRequest: self.budget,
            ApproveRequest: lambda r, a: self.decide(r, a, launch),
            RejectRequest: lambda r, a: self.decide(r, a, launch),
            AuditRequest: self.audit,
        }

    # ------------------------------------------------------------------ roles

    async def role_of(self, actor: Actor) -> Role:
        """Workspace owners and admins (Slack) and Manage Server (Discord) are admins; the
        console is its operator's own; everyone else has their grant or the default role."""
        if actor.platform is Platform.CONSOLE or actor.is_workspace_admin:
            return Role.ADMIN
        granted = await self._store.get_role(actor.team_id, actor.user_id)
        return granted or self._default_role

    async def authorize(self, request: Request, actor: Actor) -> None:
        """Raise PermissionDeniedError unless the actor's role allows the request."""
        needed = required_role(request)
        if needed is Role.VIEWER:
            return  # everyone in a team is at least a viewer: no lookup needed
        role = await self.role_of(actor)
        if role.allows(needed) or await self._withdrawing(request, actor):
            return
        spec = command_of(request)
        lead = (
            f"{spec.ref.text} needs the {needed.value} role in this team; you are a "
            f"{role.value}. A team admin can grant it: "
        )
        grant = SPECS["access"].ref
        raise PermissionDeniedError(
            f"{lead}{grant.text} grant @{actor.user_id} {needed.value}",
            # The member's own mention (only the core makes one), the command as typed there.
            text=rich(
                spec.ref,
                lead.removeprefix(spec.ref.text),
                grant,
                " grant ",
                UserRef(user_id=actor.user_id),
                f" {needed.value}",
            ),
        )

    async def _withdrawing(self, request: Request, actor: Actor) -> bool:
        """Whoever asked for a start may withdraw it (reject their own request) whatever
        their role: a team with one admin is never stuck with a request only it can decide."""
        if not isinstance(request, RejectRequest):
            return False
        approval = await self._store.get_approval(actor.team_id, request.approval_id)
        return approval is not None and approval.requester_id == actor.user_id

    async def access(self, request: AccessRequest, actor: Actor) -> Reply:
        team = actor.team_id
        match request.action:
            case "grant":
                assert request.user is not None
                assert request.role is not None
                await self._store.set_role(
                    RoleGrant(
                        team_id=team,
                        user_id=request.user,
                        role=request.role,
                        granted_by=actor.user_id,
                        at=self._clock.now(),
                    )
                )
                return Reply(
                    title=rich(_member(request.user), f" is now {_a(request.role)} in this team."),
                    tone=Tone.SUCCESS,
                )
            case "revoke":
                assert request.user is not None
                if not await self._store.remove_role(team, request.user):
                    # Errors are plain text; the id is the member the admin typed.
                    raise NotFoundError(f"{request.user} has no granted role in this team.")
                return Reply(
                    title=rich(
                        _member(request.user),
                        f" is back to the default role ({self._default_role.value}).",
                    ),
                    tone=Tone.SUCCESS,
                )
        grants = await self._store.list_roles(team)
        lines = (
            "Workspace owners and admins (Slack) and members with Manage Server (Discord) are "
            f"admins; everyone else is {_a(self._default_role)} until granted a role.",
        )
        if not grants:
            return Reply(title="No roles granted in this team yet.", lines=lines)
        return Reply(
            title=f"{count(len(grants), 'granted role')}",
            table=Table(
                headers=("member", "role", "granted by", "when"),
                rows=tuple(
                    (_member(g.user_id), g.role.value, _member(g.granted_by), timestamp(g.at))
                    for g in grants
                ),
            ),
            lines=lines,
        )

    # ------------------------------------------------------------------ the team's own key

    async def setup(self, request: SetupRequest, actor: Actor) -> Reply:
        team = actor.team_id
        if request.action == "show":
            return await self._show_credentials(team)
        if request.action == "remove":
            return await self._remove_credentials(team, request.family)
        if request.default is not None:
            return await self._set_default(team, request.default)
        if request.provider is None or (
            request.api_key is None and not request.secrets and not request.settings
        ):
            return Reply(
                title="Set the team's provider in the private form.",
                lines=(
                    commands_in(
                        "Run /finetune setup in Slack or Discord: it opens a form only you "
                        "see. Never type a key in a channel."
                    ),
                ),
                visibility=Visibility.EPHEMERAL,
            )
        credentials = self.check_setup(request, team=team, by=actor.user_id)
        if not await self._store.can_store_secrets():
            raise ConfigError(
                "This deployment cannot store keys yet: the operator must set "
                "FINETUNE_BOT_ENCRYPTION_KEYS. Nothing was stored."
            )
        if self._keys is None:
            raise ConfigError("This deployment cannot check keys; nothing was stored.")
        try:
            await self._keys.check(credentials)
        except CredentialsRefused as refused:
            # A cloud identity at the cloud's own addresses: what failed is safe to say.
            log.warning("team credentials refused", extra={"team": team})
            raise UsageError(f"{refused.message} Nothing was stored.") from None
        except ProviderError as error:
            # One answer whatever failed (refused address, closed port, TLS, 401...), so the
            # form cannot be used to map the deployment's network; the operator's log has why.
            log.warning("team key check failed", extra={"team": team, "kind": error.kind.value})
            raise UsageError(SETUP_REFUSED) from None
        await self._store.set_credentials(credentials)
        # The first family a team sets up becomes its default, as its one key was before.
        if await self._store.get_default_provider(team) is None:
            await self._store.set_default_provider(team, credentials.family)
        self._notify(team)
        log.info("team credentials set", extra={"team": team, "provider": credentials.provider})
        return Reply(
            title=f"This team now uses its own {self._label(credentials.provider)} account.",
            fields=(
                Field(name="Provider", value=credentials.family),
                Field(name="Key fingerprint", value=_fingerprint(credentials)),
                *(Field(name=k, value=v) for k, v in credentials.settings.items()),
            ),
            lines=(
                "The deployment's own cloud identity acts for this team; it was checked."
                if credentials.ambient
                else "The key was checked with the provider and is stored encrypted.",
            ),
            tone=Tone.SUCCESS,
            visibility=Visibility.EPHEMERAL,
        )

    async def _remove_credentials(self, team: str, family: str | None) -> Reply:
        """Forget one family's key: the one named, else the team's only one."""
        keys = await self._store.list_credentials(team)
        if family is None:
            if len(keys) > 1:
                raise UsageError(
                    "This team has keys for " + ", ".join(k.family for k in keys) + ": say "
                    "which to forget with /finetune setup remove provider=FAMILY."
                )
            family = keys[0].family if keys else None
        if family is None or not await self._store.remove_credentials(team, family):
            raise NotFoundError(
                f"This team has no {family or 'provider'} key of its own; nothing to remove."
                + _has(keys)
            )
        if await self._store.get_default_provider(team) == family:
            await self._store.set_default_provider(team, None)
        self._notify(team)
        return Reply(
            title=f"Removed the team's {family} key; {family} jobs use the deployment's "
            "account again, if it has one.",
            tone=Tone.SUCCESS,
            visibility=Visibility.EPHEMERAL,
        )

    async def _set_default(self, team: str, family: str) -> Reply:
        """The family `start` uses when it names none: one the team can use right now."""
        if self._providers is not None:  # refuses a family the team cannot use now
            family = await resolve_family(self._providers, team, family)
        await self._store.set_default_provider(team, family)
        return Reply(
            title=f"New jobs in this team go to {family} unless start names provider=.",
            tone=Tone.SUCCESS,
            visibility=Visibility.EPHEMERAL,
        )

    def check_setup(self, request: SetupRequest, *, team: str, by: str) -> TeamCredentials:
        """The credentials the form describes, or a UsageError that quotes no part of the key."""
        account = self._account(request.provider)
        secret = _secret_of(account, request)
        problem = _settings_problem(account, request.settings)
        problem = problem or api_version_problem(request.api_version)
        if problem:
            raise UsageError(problem + " Nothing was stored.")
        if reason := endpoint_problem(request.endpoint, required=account.requires("endpoint")):
            log.warning("team endpoint refused", extra={"team": team, "reason": reason})
            raise UsageError(SETUP_REFUSED)
        version = request.api_version or account.api_version_default
        return TeamCredentials(
            team_id=team,
            family=self._families.get(account.name, account.name),
            provider=account.name,
            api_key=secret,
            endpoint=request.endpoint or None,
            api_version=version,
            set_by=by,
            updated_at=self._clock.now(),
            settings={
                n: request.settings[n] for n in account.setting_names if request.settings.get(n)
            },
        )

    @property
    def accounts(self) -> Mapping[str, AccountKind]:
        """The account kinds the setup forms offer, in order (the first is the default)."""
        return self._accounts

    def _account(self, name: str | None) -> AccountKind:
        """The account kind setup names (the first offered when it names none)."""
        found = self._accounts.get(name) if name else next(iter(self._accounts.values()), None)
        if found is None:
            offered = ", ".join(self._accounts) or "none on this deployment"
            raise UsageError(
                f"Unknown provider {name!r}: pick one of {offered}. Nothing was stored."
            )
        return found

    def _label(self, name: str) -> str:
        found = self._accounts.get(name)
        return found.label if found is not None else name

    async def _show_credentials(self, team: str) -> Reply:
        """Every family the team set up, with its key's fingerprint, and which is the default."""
        keys = await self._store.list_credentials(team)
        if not keys:
            return Reply(
                title="This team uses the deployment's provider account.",
                lines=(commands_in("An admin can set the team's own with /finetune setup."),),
                visibility=Visibility.EPHEMERAL,
            )
        default = await self._store.get_default_provider(team)
        rows = tuple(
            (
                k.family + (" (default)" if k.family == default else ""),
                self._label(k.provider),
                _fingerprint(k),
                k.endpoint or " ".join(f"{n}={v}" for n, v in k.settings.items()),
                _member(k.set_by),
                timestamp(k.updated_at),
            )
            for k in keys
        )
        lines = () if default else ("No default: start uses the deployment's provider.",)
        return Reply(
            title="This team's provider accounts",
            fields=(Field(name="Default provider", value=default or "the deployment's"),),
            table=Table(
                headers=(
                    "Provider",
                    "Account",
                    "Key fingerprint",
                    "Endpoint",
                    "Set by",
                    "Updated",
                ),
                rows=rows,
            ),
            lines=(*lines, commands_in("Change the default with /finetune setup default=FAMILY.")),
            visibility=Visibility.EPHEMERAL,
        )

    def _notify(self, team: str) -> None:
        if self._changed is not None:
            self._changed(team)

    # ------------------------------------------------------------------ budgets

    async def budget(self, request: BudgetRequest, actor: Actor) -> Reply:
        team = actor.team_id
        current = await self._store.get_budget(team)
        changed = request.cap is not None or request.approve_over is not None
        if changed:
            current = Budget(
                team_id=team,
                monthly_cap=_or_keep(request.cap, current.monthly_cap),
                approve_over=_or_keep(request.approve_over, current.approve_over),
            )
            await self._store.set_budget(current)
        now = self._clock.now()
        spent = await self._store.month_spend(team, month_of(now))
        fields_ = [
            Field(name="Month", value=month_of(now)),
            Field(name="Spent", value=money(spent)),
            Field(name="Monthly cap", value=money(current.monthly_cap)),
        ]
        if current.monthly_cap is not None:
            fields_.append(Field(name="Left", value=money(max(0.0, current.monthly_cap - spent))))
        fields_.append(Field(name="Approval above", value=money(current.approve_over)))
        return Reply(
            title="Budget updated" if changed else "This month's fine-tuning spend",
            fields=tuple(fields_),
            lines=(
                "Spend counts each job's estimate at start, corrected by its trained tokens "
                "when it ends.",
                commands_in("Admins: /finetune budget cap=USD approve_over=USD (0 removes one)."),
            ),
            tone=Tone.SUCCESS if changed else Tone.INFO,
        )

    def cost_of(self, request: StartRequest, training: TeamFile) -> StartCost:
        price = self._prices.lookup(request.model)
        per_million = price.training_per_million if price is not None else None
        as_of = self._prices.table_for(request.model).as_of
        if training.tokens is None:
            return StartCost(cost=None, price_per_million=per_million, as_of=as_of)
        found = estimate(
            self._prices,
            model=request.model,
            examples=training.examples,
            billed_tokens_per_epoch=training.tokens,
            epochs=request.n_epochs,
        )
        return StartCost(
            cost=found.cost,
            price_per_million=per_million,
            billed_tokens=found.billed_tokens,
            as_of=as_of,
        )

    async def check_budget(self, team: str, cost: StartCost) -> None:
        """Raise BudgetError with the numbers when this start would pass the monthly cap."""
        budget = await self._store.get_budget(team)
        if budget.monthly_cap is None or cost.cost is None:
            return
        spent = await self._store.month_spend(team, month_of(self._clock.now()))
        if spent + cost.cost > budget.monthly_cap:
            raise BudgetError(
                f"Not started: this job would pass the team's monthly cap (spent "
                f"{money(spent)} + this job {money(cost.cost)} > cap "
                f"{money(budget.monthly_cap)}). An admin can raise it: "
                "/finetune budget cap=USD"
            )

    async def needs_approval(self, team: str, cost: StartCost) -> bool:
        budget = await self._store.get_budget(team)
        if budget.approve_over is None:
            return False
        # An unknown cost cannot be shown to be under the threshold.
        return cost.cost is None or cost.cost > budget.approve_over

    # ------------------------------------------------------------------ approvals

    async def request_approval(
        self, request: StartRequest, actor: Actor, cost: StartCost
    ) -> Reply:
        """Store the start as a pending request and post it, with buttons, through the outbox."""
        team = actor.team_id
        now = self._clock.now()
        budget = await self._store.get_budget(team)
        approval = Approval(
            id=APPROVAL_PREFIX + uuid.uuid4().hex[:12],
            team_id=team,
            requester_id=actor.user_id,
            channel=actor.channel,
            request=encode_start(request),
            cost=cost.cost,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.add_approval(approval)
        await self._post(approval)
        why = (
            f"estimated at {money(cost.cost)} ({cost.source}), above the team's "
            f"{money(budget.approve_over)}"
            if cost.cost is not None
            else "its cost cannot be estimated (unknown tokens or price), and the team has a"
        )
        return Reply(
            title=f"Waiting for an admin: this start is {why} approval threshold.",
            lines=(
                f"Request {approval.id}: an admin other than you approves or rejects it; it "
                f"expires {timestamp(approval.expires_at)}.",
                "Nothing was sent to the provider yet.",
            ),
            tone=Tone.WARNING,
        )

    async def decide(
        self, request: ApproveRequest | RejectRequest, actor: Actor, launch: Launch
    ) -> Reply:
        team = actor.team_id
        approval = await self._store.get_approval(team, request.approval_id)
        if approval is None:
            raise NotFoundError(f"No approval request '{request.approval_id}' in this team.")
        now = self._clock.now()
        if approval.status is not ApprovalStatus.PENDING:
            return _already(approval)
        if approval.expired(now):
            if await self._store.decide_approval(
                team, approval.id, status=ApprovalStatus.EXPIRED, by="", at=now
            ):
                await self._post(await self._reload(approval))
            return Reply(
                title=f"Request {approval.id} expired {timestamp(approval.expires_at)}; "
                "nothing was started.",
                lines=(rich(_member(approval.requester_id), " can run the start again."),),
                tone=Tone.WARNING,
                visibility=Visibility.EPHEMERAL,
            )
        approving = isinstance(request, ApproveRequest)
        own = actor.user_id == approval.requester_id
        if approving and own and not self._self_approval:
            raise PermissionDeniedError(
                f"You asked for this start; another team admin must approve it. Withdraw it "
                f"with /finetune reject {approval.id}; on a team with one admin the bot's "
                "operator can let admins approve their own starts (FINETUNE_BOT_SELF_APPROVAL)."
            )
        start = decode_start(approval.request)
        if approving:
            budget = await self._store.get_budget(team)
            training = await self._store.get_file(team, start.training_file)
            if training is not None and budget.monthly_cap is not None:
                await self.check_budget(team, self.cost_of(start, training))
        status = ApprovalStatus.APPROVED if approving else ApprovalStatus.REJECTED
        if not await self._store.decide_approval(
            team, approval.id, status=status, by=actor.user_id, at=now
        ):
            return _already(await self._reload(approval))  # another admin got there first
        if not approving:
            await self._post(await self._reload(approval))
            return Reply(
                title=f"{'Withdrew' if own else 'Rejected'} {approval.id}; nothing was started.",
                tone=Tone.WARNING,
                visibility=Visibility.EPHEMERAL,
            )
        reply = await launch(start, approval)
        await self._post(await self._reload(approval))
        if own:
            # The title is what the audit log keeps: a self-approval says so there.
            return replace(reply, title=rich(f"Self-approved {approval.id}: ", reply.title))
        return reply

    async def _reload(self, approval: Approval) -> Approval:
        return await self._store.get_approval(approval.team_id, approval.id) or approval

    async def _post(self, approval: Approval) -> None:
        """The approval message, edited in place as its status changes."""
        key = f"approval:{approval.id}"
        await self._watch.enqueue(
            [
                OutboxMessage(
                    dedupe_key=f"{key}:{approval.status.value}",
                    team_id=approval.team_id,
                    target=approval.channel,
                    kind="approval",
                    reply=approval_card(approval),
                    card_key=key,
                )
            ],
            now=self._clock.now(),
        )

    # ------------------------------------------------------------------ audit

    async def audit(self, request: AuditRequest, actor: Actor) -> Reply:
        entries = await self._store.list_audit(actor.team_id, limit=request.limit)
        if not entries:
            return Reply(title="No audited actions yet.", visibility=Visibility.EPHEMERAL)
        return Reply(
            title=f"Latest {count(len(entries), 'audited action')}, newest first",
            table=Table(
                headers=("when", "who", "command", "arguments", "result"),
                rows=tuple(
                    (
                        timestamp(e.at),
                        _member(e.user_id),
                        e.command,
                        e.arguments[:80],
                        e.result[:80],
                    )
                    for e in entries
                ),
            ),
            visibility=Visibility.EPHEMERAL,
        )


def approval_card(approval: Approval) -> Reply:
    """The request as the team's admins see it; buttons only while it waits."""
    start = decode_start(approval.request)
    fields_ = (
        Field(name="Requested by", value=_member(approval.requester_id)),
        Field(name="Estimated cost", value=money(approval.cost)),
        Field(name="Base model", value=start.model),
        Field(name="Training file", value=start.training_file),
        Field(name="Epochs", value="auto" if start.n_epochs is None else str(start.n_epochs)),
        Field(name="Expires", value=timestamp(approval.expires_at)),
    )
    title: Content
    match approval.status:
        case ApprovalStatus.PENDING:
            return Reply(
                title=f"Approval needed: fine-tune {start.model} ({approval.id})",
                fields=fields_,
                lines=(
                    "A team admin other than the requester approves or rejects it; the "
                    "requester may withdraw it (Reject).",
                ),
                tone=Tone.WARNING,
                buttons=(
                    Button(
                        label="Approve",
                        action="approve",
                        value=approval.id,
                        style=ButtonStyle.PRIMARY,
                    ),
                    Button(
                        label="Reject",
                        action="reject",
                        value=approval.id,
                        style=ButtonStyle.DANGER,
                    ),
                ),
            )
        case ApprovalStatus.EXPIRED:
            title = f"Expired: fine-tune {start.model} ({approval.id}); nothing was started"
        case _:
            own = approval.decided_by == approval.requester_id
            verb = approval.status.value.capitalize()
            if own:
                verb = (
                    "Withdrawn" if approval.status is ApprovalStatus.REJECTED else "Self-approved"
                )
            title = rich(
                f"{verb} by ",
                _member(approval.decided_by),
                f": fine-tune {start.model} ({approval.id})",
            )
    return Reply(
        title=title,
        fields=fields_,
        tone=Tone.SUCCESS if approval.status is ApprovalStatus.APPROVED else Tone.INFO,
    )


def _already(approval: Approval) -> Reply:
    if approval.status is ApprovalStatus.EXPIRED:
        title = rich(f"Request {approval.id} was expired; nothing more to do.")
    else:
        title = rich(
            f"Request {approval.id} was already {approval.status.value} by ",
            _member(approval.decided_by),
            "; nothing more to do.",
        )
    return Reply(
        title=title,
        visibility=Visibility.EPHEMERAL,
    )


def _or_keep(value: float | None, current: float | None) -> float | None:
    if value is None:
        return current
    return None if value == 0 else value


def _has(keys: Sequence[TeamCredentials]) -> str:
    if not keys:
        return ""
    return " It has keys for " + ", ".join(k.family for k in keys) + "."


def _member(user_id: str | None) -> Content:
    """A member the store names, as a structured mention; a missing one as a dash."""
    return rich(UserRef(user_id=user_id)) if user_id else "—"


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"
