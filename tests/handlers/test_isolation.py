"""Team isolation, proven by property: a member of one team, holding another team's ids, can run
every command, button and autocomplete source and learn nothing, change nothing.

Hypothesis builds two or three teams with interleaved uploads, jobs, models, subscriptions and
pending approvals on one store and one provider account. Then an admin of one team runs every
command in SPECS (and every button action) with the other team's ids, and again with made-up ids
of the same shape: the two replies must be the same once the id itself is masked, no foreign id
may appear anywhere else in a reply, the store must not change, and the provider must not be
asked about anything.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from handlers.actions import ACTIONS, button_request
from handlers.model import Actor
from handlers.replies import Reply, plain
from handlers.requests import SPECS, OptionKind, Request, build_request
from storage.memory.base import CredentialRow, JobRow, SubscriptionRow, TeamRow
from storage.memory.store import MemoryStore
from tests.world import World, actor, chat_example, world

MODEL = "gpt-4.1-mini-2025-04-14"
TABLES = (
    "teams",
    "files",
    "models",
    "jobs",
    "job_metrics",
    "subscriptions",
    "outbox",
    "team_roles",
    "team_credentials",
    "team_budgets",
    "spend",
    "approvals",
)
"""Every table a foreign command could touch (the audit records the attempt in one's own team)."""
PROVIDER_CALLS_BY_ID = frozenset(
    {
        "get_job",
        "cancel_job",
        "pause_job",
        "resume_job",
        "list_events_after",
        "list_checkpoints",
        "delete_file",
        "get_file",
        "create_job",
        "upload_file",
        "file_content",
        "chat",
    }
)


@dataclass
class Team:
    workspace: str
    admin: Actor
    jobs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)


def _dataset(path: Path, team: int, n: int) -> Path:
    lines = [chat_example(team * 1000 + n * 100 + i) for i in range(12)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _build(w: World, root: Path, plan: list[tuple[str, int]], teams: list[Team]) -> None:
    """Run the interleaved plan: ("upload" | "start" | "subscribe" | "approval" | "tick", team)."""
    counts: dict[int, int] = {}
    for step, i in plan:
        team = teams[i]
        n = counts[i] = counts.get(i, 0) + 1
        match step:
            case "upload":
                alias = f"t{i}f{n}"
                path = _dataset(root / f"{alias}.jsonl", i, n)
                reply = await w.run(f"upload {path} alias={alias}", team.admin)
                assert plain(reply.title).startswith("Uploaded"), reply
                team.aliases.append(alias)
            case "start" | "approval" if team.aliases:
                if step == "approval":
                    await w.run("budget approve_over=0.000001", team.admin)
                # A distinct seed: an identical start within minutes answers with the first job.
                reply = await w.run(
                    f"start file={team.aliases[-1]} model={MODEL} epochs=1 seed={n}", team.admin
                )
                if step == "approval":
                    team.approvals.append(plain(reply.lines[0]).split()[1].rstrip(":"))
                    await w.run("budget approve_over=0", team.admin)
                else:
                    assert plain(reply.title).startswith("Started"), reply
            case "subscribe":
                await w.run("subscribe failures", replace(team.admin, channel_id=f"C{i}sub"))
            case "tick":
                await w.settle(seconds=60, step=10)
    await w.settle(seconds=200, step=20)
    for team in teams:
        jobs = await w.store.list_jobs(f"slack:{team.workspace}", limit=100)
        team.jobs = [j.id for j in jobs]
        files = await w.store.list_files(f"slack:{team.workspace}")
        team.file_ids = [f.provider_file_id for f in files]
        team.models = [m.name for m in await w.store.list_models(f"slack:{team.workspace}")]


async def _snapshot(w: World, team_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the victim team owns (the attacker may change its own team's rows)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    if isinstance(w.store, MemoryStore):
        for table in TABLES:
            rows = getattr(w.store.database, table).items()
            owned = [(repr(k), repr(r)) for k, r in rows if _owner(k, r) == team_id]
            out[table] = sorted(owned)
        return out
    from tests.sqlrows import team_rows  # TEST_STORE=sqlite only: it loads SQLAlchemy

    return await team_rows(w.store, TABLES, team_id)


def _owner(key: Any, row: Any) -> str:
    """The team an in-memory row belongs to: what the SQL query above filters on."""
    match row:
        case TeamRow():
            return row.team.id
        case JobRow():
            return row.job.team_id
        case SubscriptionRow():
            return row.subscription.team_id
        case CredentialRow():
            return str(key)
        case _:
            return str(row.team_id)


def _text(reply: Reply) -> str:
    parts = [plain(reply.title), *map(plain, reply.lines), plain(reply.footer)]
    parts += [f"{f.name}={plain(f.value)}" for f in reply.fields]
    if reply.table is not None:
        parts += [
            " ".join(reply.table.headers),
            *(" ".join(map(plain, r)) for r in reply.table.rows),
        ]
    parts += [f"{b.action}:{b.value}" for b in reply.buttons]
    parts += [a.filename for a in reply.attachments]
    return "\n".join(parts)


def _shape(reply: Reply, ident: str) -> tuple[object, ...]:
    return (
        reply.tone,
        reply.visibility,
        _text(reply).replace(ident, "<ID>"),
        len(reply.buttons),
        len(reply.attachments),
    )


def _made_up(kind: OptionKind, rng: random.Random) -> str:
    tail = "".join(rng.choice("abcdef0123456789") for _ in range(20))
    match kind:
        case OptionKind.JOB_ID:
            return f"ftjob-{tail}"
        case OptionKind.MODEL:
            return f"ft:{MODEL}:org:x:{tail[:8]}"
        case OptionKind.APPROVAL:
            return f"apr-{tail[:12]}"
        case _:
            return f"zz{tail[:10]}"


def _foreign(kind: OptionKind, victim: Team, rng: random.Random) -> list[str]:
    match kind:
        case OptionKind.JOB_ID:
            return victim.jobs
        case OptionKind.FILE | OptionKind.ALIAS:
            return victim.aliases + victim.file_ids
        case OptionKind.MODEL:
            return victim.models
        case OptionKind.APPROVAL:
            return victim.approvals
    return []


def _filler(option: Any, own: Team) -> object:
    """A valid value for a required option: the attacker's own ids for id options."""
    match option.kind:
        case OptionKind.JOB_ID if own.jobs:
            return own.jobs[0]
        case OptionKind.FILE if own.aliases:
            return own.aliases[0]
        case OptionKind.MODEL:
            return MODEL
        case OptionKind.JOB_ID | OptionKind.FILE | OptionKind.APPROVAL:
            return "zzprobe"
        case OptionKind.INT:
            return int(option.minimum if option.minimum is not None else 1) + 1
        case OptionKind.FLOAT:
            return 0.5
        case OptionKind.CHOICE:
            return option.choices[0]
        case OptionKind.USER:
            return "UNOBODY"
        case OptionKind.SUFFIX:
            return "probe"
        case _:
            return "/nonexistent/probe.jsonl"


def _requests(victim: Team, own: Team, rng: random.Random) -> list[tuple[str, Request, Request]]:
    """(label, request with a foreign id, the same with a made-up id) for every command and
    option that takes an id; commands with no id option are returned with both the same."""
    out: list[tuple[str, Request, Request]] = []
    for spec in SPECS.values():
        base = {o.name: _filler(o, own) for o in spec.options if o.required}
        id_options = [o for o in spec.options if _foreign(o.kind, victim, rng)]
        if not id_options:
            try:
                request = build_request(spec.name, base)
            except Exception:
                continue
            out.append((spec.name, request, request))
            continue
        for option in id_options:
            foreign = rng.choice(_foreign(option.kind, victim, rng))
            made_up = _made_up(option.kind, rng)
            try:
                a = build_request(spec.name, {**base, option.name: foreign})
                b = build_request(spec.name, {**base, option.name: made_up})
            except Exception:
                continue
            out.append((f"{spec.name} {option.name}={foreign}|{made_up}", a, b))
    for action, entry in sorted(ACTIONS.items()):
        target = SPECS.get(entry.command)
        if target is None or not target.positionals:
            continue
        kind = target.positionals[0].kind
        pool = _foreign(kind, victim, rng)
        if not pool:
            continue
        foreign, made_up = rng.choice(pool), _made_up(kind, rng)
        try:
            a = button_request(action, foreign)
            b = button_request(action, made_up)
        except Exception:
            continue
        out.append((f"button {action}={foreign}|{made_up}", a, b))
    # The audit shows what this team itself typed (foreign ids too): read it before typing any.
    return sorted(out, key=lambda item: item[0] != "audit")


async def _scenario(plan: list[tuple[str, int]], n_teams: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with world(root) as w:
            teams = [
                Team(
                    workspace=f"T{i}",
                    admin=replace(actor(f"T{i}", f"U{i}"), is_workspace_admin=True),
                )
                for i in range(n_teams)
            ]
            await _build(w, root, plan, teams)
            victim, attacker = rng.sample(teams, 2)
            foreign_ids = {
                *victim.jobs,
                *victim.aliases,
                *victim.file_ids,
                *victim.models,
                *victim.approvals,
            }
            before = await _snapshot(w, victim.admin.team_id)
            for label, foreign, made_up in _requests(victim, attacker, rng):
                calls = dict(w.provider.calls)
                got = await w.service.handle(foreign, attacker.admin)
                after_calls = dict(w.provider.calls)
                asked = {
                    k: after_calls.get(k, 0) - calls.get(k, 0)
                    for k in PROVIDER_CALLS_BY_ID
                    if after_calls.get(k, 0) != calls.get(k, 0)
                }
                assert not asked, f"{label}: the provider was asked {asked}"
                expected = await w.service.handle(made_up, attacker.admin)
                if foreign is not made_up:
                    ident = label.split("=", 1)[1].split("|")[0]
                    fake = label.split("|")[1]
                    assert _shape(got, ident) == _shape(expected, fake), label
                    shown = _text(got).replace(ident, "")
                else:
                    shown = _text(got)
                leaked = [i for i in foreign_ids if i in shown]
                assert not leaked, f"{label}: {leaked} in {_text(got)!r}"
            # Autocomplete sources (Slack model options, Discord choices) are scoped too.
            team_id = attacker.admin.team_id
            offered = [
                *(await w.service.fine_tunable_models(attacker.admin)),
                *(j.id for j in await w.store.list_jobs(team_id, limit=100)),
                *(f.alias for f in await w.store.list_files(team_id)),
                *(m.name for m in await w.store.list_models(team_id)),
            ]
            assert not foreign_ids & set(offered)
            assert await _snapshot(w, victim.admin.team_id) == before


STEPS = st.sampled_from(["upload", "upload", "start", "start", "subscribe", "approval", "tick"])


@settings(
    max_examples=5,
    deadline=None,
    # Each example builds a bot's worth of state; shrinking one would take minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n_teams=st.integers(min_value=2, max_value=3),
    data=st.data(),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_no_command_button_or_autocomplete_crosses_teams(
    n_teams: int, data: st.DataObject, seed: int
) -> None:
    # Every team uploads and starts at least once, then the rest interleaves at random.
    required = [(s, i) for i in range(n_teams) for s in ("upload", "start", "approval")]
    extra = data.draw(
        st.lists(st.tuples(STEPS, st.integers(0, n_teams - 1)), min_size=0, max_size=8)
    )
    plan = data.draw(st.permutations(required + extra))
    # A team's starts need an upload first: move each team's first upload to the front.
    firsts = [("upload", i) for i in range(n_teams)]
    asyncio.run(_scenario(firsts + list(plan), n_teams, seed))
