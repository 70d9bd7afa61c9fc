"""Console adapter: `finetune-bot demo`, a whole job life on SQLite and the sandbox, unattended."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path

from bot.app.config import load_settings
from bot.app.runtime import build_runtime, schedule_ticks
from bot.chat.console.app import console_actor
from bot.chat.console.notifier import ConsoleNotifier
from bot.chat.console.render import progress_printer, render_with_attachments
from bot.infra.clock import SystemClock
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import FAST_TIMING
from bot.providers.sandbox_together.profile import PROFILE as SANDBOX_TOGETHER
from handlers.chat import ChatMessage
from handlers.model import Job, Platform
from handlers.parse import parse
from handlers.ports import Store
from handlers.profile import JobStatus
from handlers.replies import plain
from handlers.scope import TEAM_KEY
from handlers.watch import WatchSettings

BASE_MODEL = "gpt-4.1-mini-2025-04-14"
SECOND_FAMILY = SANDBOX_TOGETHER.name
SECOND_MODEL = SANDBOX_TOGETHER.default_model
DATASETS = ("support_train.jsonl", "support_valid.jsonl")
LOGGED_PROMPTS = 12
"""Prompts the demo's app logs (store=true) for `dataset from-logs` to draft from."""


def _copy_datasets(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in DATASETS:
        source = resources.files("bot.chat.console").joinpath("data", name)
        destination = target / name
        with resources.as_file(source) as path:
            shutil.copyfile(path, destination)
        copied.append(destination)
    return copied


async def _evaluate(
    command: Callable[[str], Awaitable[str]],
    provider: SandboxProvider,
    model: str,
    logged: Path,
    write: Callable[[str], None],
) -> None:
    """Try the new model, build a draft training file from logged traffic, then compare."""
    write("\n-- evaluate and try --\n")
    await command(f"/finetune try {model} How do I reset my password?")
    # What an app that logs with store=true leaves behind: everyday prompts (the training
    # file's, never the test set's: logs of the held-out prompts, drafted into training data,
    # would teach the answers the comparison then checks), answered, tagged with the team,
    # the only logs a team on the shared account may draft from.
    tag = {"app": "support", TEAM_KEY: console_actor().team_id}
    text = await asyncio.to_thread(logged.read_text, encoding="utf-8")
    for line in text.splitlines()[:LOGGED_PROMPTS]:
        messages = tuple(
            ChatMessage(role=m["role"], content=m["content"])
            for m in json.loads(line)["messages"]
            if m["role"] != "assistant"
        )
        await provider.chat(BASE_MODEL, messages, store=True, metadata=tag)
    await command(f"/finetune dataset from-logs model={BASE_MODEL} meta=app=support since=1d")
    write("\n-- base versus fine-tuned on the bundled validation file --\n")
    await command(f"/finetune compare {model} {BASE_MODEL} file=support-valid")


def _fresh_dir(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob("demo.db*"):
        leftover.unlink()
    return out_dir.resolve()


async def run_demo(
    *, out_dir: Path, write: Callable[[str], None], budget_seconds: float = 55.0
) -> int:
    """Upload, start, watch to the end, chart, list, try, draft from logs, compare with base;
    exit status 0 when the job succeeded."""
    started = time.monotonic()
    out = await asyncio.to_thread(_fresh_dir, out_dir)
    train, valid = await asyncio.to_thread(_copy_datasets, out / "data")
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{out / 'demo.db'}",
        provider="sandbox",
        sweep_seconds=0.5,
        dispatch_seconds=0.25,
    )
    clock = SystemClock()
    provider = SandboxProvider(clock, timing=FAST_TIMING)
    actor = console_actor("demo-user")
    write(
        "finetune-bot demo · provider: " + provider.label + "\n"
        "This is a SIMULATION: the sandbox provider plays the fine-tuning API on this machine.\n"
        "No model is trained, no key is used and nothing leaves this machine.\n"
    )
    async with AsyncExitStack() as stack:
        notifier = ConsoleNotifier(write, attachments_dir=out)
        runtime = await build_runtime(
            settings,
            stack,
            notifiers={Platform.CONSOLE: notifier},
            clock=clock,
            provider=provider,
            watch_settings=WatchSettings(
                running_poll_seconds=0.5,
                slow_poll_seconds=0.5,
                slow_poll_max_seconds=1.0,
                running_poll_max_seconds=1.0,
                paused_poll_seconds=1.0,
                jitter=0.1,
            ),
        )

        async def command(line: str) -> str:
            write(f"\n$ {line}\n")
            reply = await runtime.service.handle(
                parse(line), actor, progress=progress_printer(write)
            )
            write(render_with_attachments(reply, out) + "\n")
            return plain(reply.title)

        await command(f"/finetune upload {train} alias=support-train")
        await command(f"/finetune upload {valid} alias=support-valid")
        await runtime.store.set_metric_interval(actor.team_id, 2)
        await command(
            "/finetune start file=support-train validation=support-valid "
            f"model={BASE_MODEL} epochs=3 suffix=acme-support"
        )
        jobs = await runtime.store.list_jobs(actor.team_id, limit=1)
        if not jobs:
            write("The job did not start; see the reply above.\n")
            return 1
        job_id = jobs[0].id
        write("\n-- what the channel sees, posted by the watcher as the job moves --\n")
        schedule_ticks(runtime)

        async def finished(job: str) -> Job | None:
            """The job once it ended and its notices were posted; None past the budget."""
            deadline = time.monotonic() + budget_seconds
            last = None
            while time.monotonic() < deadline:
                last = await runtime.store.get_job(actor.team_id, job)
                depth, _ = await runtime.store.outbox_stats(now=clock.now())
                if last is not None and last.state.terminal and depth == 0:
                    return last
                await asyncio.sleep(0.2)
            shown = last.state.status if last is not None else "unknown"
            write(f"\n{job} did not finish within {budget_seconds:.0f} s (status {shown}).\n")
            return None

        ended = await finished(job_id)
        if ended is None:
            return 1
        final = ended
        write("\n-- after the job --\n")
        await command("/finetune list")
        await command("/finetune models")
        await command(f"/finetune chart {job_id}")
        chart = out / f"{job_id}-loss.png"
        model = final.state.fine_tuned_model
        if model:
            await _evaluate(command, provider, model, train, write)
        replayed = await _replay(command, runtime.store, actor.team_id, job_id, finished, write)
        await runtime.stop_ticks()
        elapsed = time.monotonic() - started
        write(
            f"\nJob {job_id} ended {final.state.status}"
            f"{' as ' + final.state.fine_tuned_model if final.state.fine_tuned_model else ''}.\n"
            f"Loss chart: {chart}\n"
            f"Demo finished in {elapsed:.1f} s (simulated training on the sandbox provider).\n"
        )
        ok = final.state.status == JobStatus.SUCCEEDED and replayed
        return 0 if ok else 1


async def _replay(
    command: Callable[[str], Awaitable[str]],
    store: Store,
    team: str,
    job_id: str,
    finished: Callable[[str], Awaitable[Job | None]],
    write: Callable[[str], None],
) -> bool:
    """The recipe moved to the second family in one command, then the two models compared
    across the two families; True when the replay succeeded."""
    write(
        "\n-- moving the recipe to another provider --\n"
        f"The sandbox also simulates a Together-shaped family ({SECOND_FAMILY}), as a team\n"
        "leaving OpenAI would set up Together: both are simulations, nothing is trained.\n"
    )
    await command(f"/finetune start like={job_id}")
    await command(f"/finetune start like={job_id} provider={SECOND_FAMILY} model={SECOND_MODEL}")
    replay = next((j for j in await store.list_jobs(team, limit=5) if j.origin == job_id), None)
    if replay is None:
        write("The replay did not start; see the reply above.\n")
        return False
    ended = await finished(replay.id)
    if ended is None or ended.state.status != JobStatus.SUCCEEDED:
        return False
    write("\n-- the replay against the original, each at its own provider --\n")
    await command(f"/finetune compare {replay.id}")
    return True
