"""`finetune-bot run` as a real process on Discord: the real discord.py client against the fake
REST API and gateway (through DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL), a command answered,
then SIGTERM stops the bot cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakes.discord_api import FakeDiscord

pytestmark = pytest.mark.e2e


async def test_run_connects_answers_and_stops(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    async with FakeDiscord() as fake:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FINETUNE_BOT_", "SLACK_", "DISCORD_", "OPENAI_"))
        }
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            FINETUNE_BOT_PROVIDER="sandbox",
            FINETUNE_BOT_HTTP_HOST="127.0.0.1",
            FINETUNE_BOT_HTTP_PORT="0",
            DISCORD_TOKEN="fake-token",
            DISCORD_API_BASE_URL=fake.api_base,
            DISCORD_GATEWAY_URL=fake.gateway_url,
            DISCORD_COMMANDS_HASH_FILE=str(tmp_path / "commands.sha256"),
        )
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                stdout=out,
                stderr=out,
                cwd=tmp_path,
            )
        try:
            await asyncio.wait_for(fake.identified.wait(), timeout=60)
            iid = await fake.command("list")
            message = await fake.wait_followup(iid)
            assert message["embeds"][0]["title"] == "No jobs."
            assert (tmp_path / "commands.sha256").exists(), "the command payload was synced"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        text = log.read_text(errors="replace")
        assert code == 0, text[-2000:]
        assert "Traceback" not in text


def _bot_env(fake: FakeDiscord, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FINETUNE_BOT_", "SLACK_", "DISCORD_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        FINETUNE_BOT_PROVIDER="sandbox",
        FINETUNE_BOT_HTTP_HOST="127.0.0.1",
        FINETUNE_BOT_HTTP_PORT="0",
        DISCORD_TOKEN="fake-token",
        DISCORD_API_BASE_URL=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DISCORD_COMMANDS_HASH_FILE=str(tmp_path / "commands.sha256"),
    )
    env.update(extra)
    return env


@pytest.mark.parametrize("silent", [False, True], ids=["refused", "black-holed"])
async def test_sigterm_stops_the_bot_while_the_gateway_is_gone(
    tmp_path: Path, silent: bool
) -> None:
    log = tmp_path / "bot.log"
    async with FakeDiscord() as fake:
        # discord.py retries its first gateway connection forever: the case that hung.
        await fake.gateway_away(silent=silent)
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=_bot_env(fake, tmp_path),
                stdout=out,
                stderr=out,
                cwd=tmp_path,
            )
        try:
            # The bot is up and discord.py is trying the gateway (after GET /gateway/bot).
            await fake.wait_request("GET", "/gateway/bot", within=60)
            proc.send_signal(signal.SIGTERM)
            # The functional deadline: the rule says 10 s, whatever the gateway does.
            code = await asyncio.wait_for(proc.wait(), timeout=10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        text = log.read_text(errors="replace")
        assert code == 0, text[-2000:]
        assert "Traceback" not in text, text[-3000:]
