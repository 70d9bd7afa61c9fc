"""`finetune-bot run` SIGKILLed between the provider's create and the store insert, restarted:
one job at the provider, listed for its team, billed once, its requester told; the user's
identical retry answers with that job. For a team on its own key and for an approved start."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handlers.model import (
    Budget,
    Platform,
    Role,
    RoleGrant,
    Team,
    TeamCredentials,
    TeamFile,
)
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import open_store
from tests.e2e.test_run_slack import _free_port, _tail, _wait_healthy
from tests.fakes.openai_server import FakeOpenAI, Fault, Route
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET, action_body, command_body, signed_headers
from tests.world import chat_example

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"
TEAM = "slack:T1"
START = f"start file=train model={MODEL} epochs=1"
ENCRYPTION_KEY = crypto.generate_key()
DEPLOYMENT_KEY = "sk-proj-" + "D" * 40
TEAM_KEY = "sk-proj-" + "T" * 40
DATA = ("\n".join(chat_example(i) for i in range(12)) + "\n").encode()


async def _seed(
    db_url: str, account: FakeOpenAI, *, own_key: bool, approve_over: float | None
) -> None:
    """The team, its training file on `account`, its key (own_key) and its budget."""
    now = datetime.now(UTC)
    crypto.use_keys(crypto.parse_keys(ENCRYPTION_KEY))
    try:
        async with open_store(db_url) as store:
            await store.ensure_team(Team(id=TEAM, platform=Platform.SLACK, workspace_id="T1"))
            if own_key:
                await store.set_credentials(
                    TeamCredentials(
                        team_id=TEAM,
                        family="openai",
                        provider="compatible",
                        api_key=Secret(TEAM_KEY),
                        endpoint=account.base_url,
                        set_by="U1",
                        updated_at=now,
                    )
                )
            uploaded = account.add_file("train.jsonl", DATA)
            await store.add_file(
                TeamFile(
                    team_id=TEAM,
                    alias="train",
                    provider_file_id=uploaded["id"],
                    filename="train.jsonl",
                    sha256=hashlib.sha256(DATA).hexdigest(),
                    format="chat",
                    examples=12,
                    bytes=len(DATA),
                    tokens=12 * 40,
                    created_at=now,
                    uploaded_by="U1",
                )
            )
            await store.set_budget(Budget(team_id=TEAM, approve_over=approve_over))
            await store.set_role(
                RoleGrant(team_id=TEAM, user_id="U2", role=Role.ADMIN, granted_by="U1", at=now)
            )
    finally:
        crypto.use_keys(None)


@dataclass
class Bot:
    env: dict[str, str]
    log: Path
    base: str
    http: aiohttp.ClientSession
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, stdout=out, stderr=out
            )
        await _wait_healthy(self.http, self.base, self.proc, self.log)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def post(self, body: str) -> None:
        async with self.http.post(
            f"{self.base}/slack/events", data=body.encode(), headers=signed_headers(body)
        ) as response:
            assert response.status == 200


@asynccontextmanager
async def running(tmp_path: Path, slack: FakeSlack, shared: FakeOpenAI) -> AsyncIterator[Bot]:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FINETUNE_BOT_", "SLACK_", "DISCORD_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        FINETUNE_BOT_PROVIDER="openai",
        OPENAI_API_KEY=DEPLOYMENT_KEY,
        OPENAI_BASE_URL=shared.base_url,
        FINETUNE_BOT_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        # The team's own account is the fake server on loopback: the operator allows it.
        FINETUNE_BOT_ENDPOINT_ALLOWLIST="127.0.0.1",
        FINETUNE_BOT_HTTP_HOST="127.0.0.1",
        FINETUNE_BOT_HTTP_PORT=str(port),
        FINETUNE_BOT_SWEEP_SECONDS="0.3",
        FINETUNE_BOT_DISPATCH_SECONDS="0.2",
        SLACK_MODE="http",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.base_url,
    )
    async with aiohttp.ClientSession() as http:
        bot = Bot(env=env, log=tmp_path / "bot.log", base=f"http://127.0.0.1:{port}", http=http)
        try:
            yield bot
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                bot.proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(bot.proc.wait(), timeout=20)


async def _crash_during_create(bot: Bot, account: FakeOpenAI, body: str) -> str:
    """Post `body`; when the create has reached the provider (and made the job), SIGKILL the
    bot before it hears the answer, so nothing after the create ran. Returns the job id."""
    account.inject(Route.CREATE_JOB, Fault.delay(3600, commit=True))
    await bot.post(body)
    await account.wait_for(lambda: len(account.jobs) == 1, within=30)
    await bot.kill()
    account.clear_faults()
    (job_id,) = account.jobs
    return job_id


def _texts(slack: FakeSlack, method: str) -> list[str]:
    return [str(c.args.get("text")) for c in slack.of(method)]


async def _answer(slack: FakeSlack, needle: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((r for r in slack.responses if needle in str(r.get("text"))), None)

    await slack.wait_for(lambda: found() is not None, what=needle)
    answer = found()
    assert answer is not None
    return answer


async def _spend_rows(tmp_path: Path, job_id: str) -> tuple[int, float]:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as store:
        entry = await store.get_spend(TEAM, job_id)
        assert entry is not None
        month = entry.month
        return len(await store.list_jobs(TEAM)), await store.month_spend(TEAM, month)


async def test_a_crash_mid_start_on_a_teams_own_key_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    async with (
        FakeSlack() as slack,
        FakeOpenAI(api_key=DEPLOYMENT_KEY) as shared,
        FakeOpenAI(api_key=TEAM_KEY) as own,
    ):
        await _seed(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", own, own_key=True, approve_over=None
        )
        async with running(tmp_path, slack, shared) as bot:
            await bot.start()
            job_id = await _crash_during_create(
                bot, own, command_body(START, response_url=slack.response_url())
            )
            await bot.start()
            await slack.wait_for(
                lambda: any(f"Started {job_id}" in t for t in _texts(slack, "chat.postMessage")),
                what="the requester told after the restart",
            )
            told = next(
                c for c in slack.of("chat.postMessage") if f"Started {job_id}" in str(c.args)
            )
            assert "<@U1>" in str(told.args), "the requester is mentioned"

            await bot.post(command_body("list", response_url=slack.response_url()))
            listed = await _answer(slack, "newest first")
            assert job_id in str(listed["blocks"])
            await bot.post(command_body(START, response_url=slack.response_url()))
            await _answer(slack, f"Already started {job_id}")
        assert list(own.jobs) == [job_id]
        assert shared.jobs == {}, "the team's job never went to the deployment's account"
        jobs, spent = await _spend_rows(tmp_path, job_id)
        assert jobs == 1
        assert spent > 0
        assert "Traceback" not in _tail(bot.log)


async def test_a_crash_mid_approved_start_makes_one_job_billed_once(tmp_path: Path) -> None:
    async with FakeSlack() as slack, FakeOpenAI(api_key=DEPLOYMENT_KEY) as shared:
        slack.admins = {"U1"}
        await _seed(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", shared, own_key=False, approve_over=1e-9
        )
        async with running(tmp_path, slack, shared) as bot:
            await bot.start()
            await bot.post(command_body(START, response_url=slack.response_url()))
            waiting = await _answer(slack, "Waiting for an admin")
            approval_id = next(
                word.rstrip(":")
                for word in str(waiting["blocks"]).split()
                if word.startswith("apr-")
            )
            press = action_body(
                "ftbot_approve", approval_id, user="U2", response_url=slack.response_url()
            )
            job_id = await _crash_during_create(bot, shared, press)
            await bot.start()
            await slack.wait_for(
                lambda: any(f"Started {job_id}" in t for t in _texts(slack, "chat.postMessage")),
                what="the requester told after the restart",
            )
            # The admin presses again after the restart: nothing more is started.
            await bot.post(
                action_body(
                    "ftbot_approve", approval_id, user="U2", response_url=slack.response_url()
                )
            )
            await _answer(slack, "already approved")
        assert list(shared.jobs) == [job_id]
        jobs, spent = await _spend_rows(tmp_path, job_id)
        assert jobs == 1
        assert spent > 0
        async with open_store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as store:
            approval = await store.get_approval(TEAM, approval_id)
        assert approval is not None
        assert approval.job_id == job_id
