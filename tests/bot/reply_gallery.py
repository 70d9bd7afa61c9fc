"""Test helpers: every kind of reply the bot makes, gathered from the real core on the sandbox
world (commands, buttons' answers, the watcher's cards and notices), for the limit checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from handlers.actions import button_request
from handlers.model import Actor, TeamFile
from handlers.profile import AccountKind
from handlers.replies import Reply, error_reply
from handlers.requests import SPECS, FormField
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
JOBS = 100
"""A full `list limit=100`: the longest list the bot gives."""
LONG = "x" * 3900
"""Typed text longer than most limits of either platform, within the command's 4000."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gallery:
    replies: Mapping[str, Reply]
    """Every reply kind, named."""
    files: Sequence[TeamFile]
    fields: Sequence[FormField]
    """The start form's training fields (the sandbox's)."""
    accounts: Mapping[str, AccountKind]
    """Every account kind the setup forms offer (all registered families)."""
    providers: Sequence[str]


def _admin(user: str = "UA") -> Actor:
    return replace(actor(user=user), is_workspace_admin=True)


def _broken_file(path: Path, lines: int = 300) -> Path:
    """A training file whose every line is wrong: a long validation report."""
    path.write_text("\n".join(f'{{"messages": [{{"role": "user{i}"}}]}}' for i in range(lines)))
    return path


async def _commands(w: World, tmp_path: Path, out: dict[str, Reply]) -> None:
    who = _admin()

    async def run(name: str, line: str, by: Actor = who) -> Reply:
        out[name] = reply = await w.run(line, by)
        return reply

    out["help"] = await w.run("/finetune help", who)
    for name in SPECS:
        await run(f"help {name}", f"/finetune help {name}")
    train = write_dataset(tmp_path / "train.jsonl", n=12)
    valid = write_dataset(tmp_path / "valid.jsonl", n=10)
    valid.write_text(valid.read_text() + valid.read_text().splitlines()[0] + "\n")
    await run("validate", f"/finetune validate {train}")
    await run("validate broken", f"/finetune validate {_broken_file(tmp_path / 'bad.jsonl')}")
    await run("upload", f"/finetune upload {train} alias=train")
    await run("upload valid", f"/finetune upload {valid} alias=valid")
    await run("files", "/finetune files")
    await run(
        "start", f"/finetune start file=train validation=valid model={MODEL} epochs=2 suffix=s1"
    )
    await w.settle(seconds=200)
    for i in range(JOBS - 1):
        await w.run(f"/finetune start file=train model={MODEL} suffix=j{i}", who)
    await w.settle(seconds=30)
    await run("list", f"/finetune list limit={JOBS}")
    jobs = await w.store.list_jobs(who.team_id, limit=JOBS)
    first = jobs[-1].id
    await run("inspect", f"/finetune inspect {first}")
    await run("events", f"/finetune events {first} limit=100")
    await run("checkpoints", f"/finetune checkpoints {first}")
    await run("chart", f"/finetune chart {first}")
    await run("cancel", f"/finetune cancel {jobs[0].id}")
    await run("models", "/finetune models")
    models = await w.store.list_models(who.team_id)
    model = next(m.name for m in models if m.job_id == first)
    await run("try", f"/finetune try {model} Question 1?")
    await run("compare", f"/finetune compare {model} n=11")
    await run("replay plan", f"/finetune start like={first}")
    await run("replay", f"/finetune start like={first} suffix=again")
    await run("replay refused", f"/finetune start like={LONG}")
    await run("budget", "/finetune budget")
    await run("access grant", "/finetune access grant <@UB> operator")
    await run("access list", "/finetune access list")
    await run("subscribe", "/finetune subscribe")
    await run("subscriptions", "/finetune subscriptions")
    await run("settings", "/finetune settings")
    await run("providers", "/finetune providers")
    await run("long model", f"/finetune start file=train model={LONG}")
    await run("long unknown", f"/finetune {LONG}")
    await run("long option", f"/finetune list status={LONG}")
    await run("long try", f"/finetune try {model} {LONG}")
    await run("empty lines", "/finetune try " + model + " " + "\n\n\n")
    await run("audit", "/finetune audit limit=200")
    # The 100-job list shared in the channel, and a job that fails before training (its
    # notice: what failed, nothing billed, the next step, Start again).
    share = next(b for b in out["list"].buttons if b.action == "share")
    out["shared list"] = await w.service.handle(button_request(share.action, share.value), who)
    bad = tmp_path / "bad-forced.jsonl"
    bad.write_text(
        "\n".join('{"messages": [{"role": "user", "content": "x"}]}' for _ in range(12))
    )
    await run("upload forced", f"/finetune upload {bad} alias=bad force=yes")
    await run("start failing", f"/finetune start file=bad model={MODEL} suffix={'s' * 40}")
    await run("budget set", "/finetune budget approve_over=0.000001")
    await run("approval wait", f"/finetune start file=train model={MODEL} epochs=2")
    out["long error"] = error_reply("Refused: " + LONG, usage=SPECS["start"].usage)


async def _confirmation(tmp_path: Path, out: dict[str, Reply]) -> None:
    """A costly typed start's private confirmation, with its Start button."""
    async with world(tmp_path, confirm_over=0.0) as w:
        who = _admin()
        train = write_dataset(tmp_path / "train.jsonl", n=12)
        await w.run(f"/finetune upload {train} alias=train", who)
        out["confirm start"] = await w.run(
            f"/finetune start file=train model={MODEL} suffix={'c' * 60}", who
        )


async def gather(tmp_path: Path) -> Gallery:
    """Every reply kind, named: command answers, then the posts the watcher made (job cards,
    thread updates, completion notices, approval cards, comparison progress); and what the
    forms are built from."""
    out: dict[str, Reply] = {}
    async with world(tmp_path) as w:
        await _commands(w, tmp_path, out)
        await w.settle(seconds=60)
        await _confirmation(tmp_path / "confirm", out)
        for i, post in enumerate(w.notifier.posts):
            out[f"notice {i} {post.dedupe_key}"] = post.reply
        who = _admin()
        return Gallery(
            replies=out,
            files=await w.store.list_files(who.team_id),
            fields=await w.service.start_fields(who),
            accounts=w.service.governance.accounts,
            providers=await w.service.team_providers(who.team_id),
        )
