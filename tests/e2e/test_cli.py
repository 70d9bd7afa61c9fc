"""The installed `finetune-bot` command as a real process: demo, console, config errors."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("FINETUNE_BOT_", "OPENAI_", "SLACK_", "DISCORD_", "AZURE_", "DATABASE_URL")
        )
    }
    env.update(extra)
    return env


def _cli(
    *args: str, cwd: Path, timeout: float = 90, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_runs_a_whole_job_life(tmp_path: Path) -> None:
    result = _cli("demo", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "SIMULATION" in out
    assert "Uploaded support_train.jsonl as 'support-train'" in out
    assert "· running" in out, "the card shows the running job"
    assert "thread of" in out, "updates in the card's thread"
    assert "train loss" in out
    assert "succeeded: ft:gpt-4.1-mini-2025-04-14:sandbox:acme-support:" in out
    assert "@demo-user " in out, "the completion names the requester, as a terminal does"
    assert "<@" not in out, "no platform markup in a terminal"
    charts = list((tmp_path / "out").glob("ftjob-*-loss.png"))  # the first job's
    assert charts
    assert charts[0].read_bytes().startswith(PNG_SIGNATURE)
    assert f"Loss chart: {charts[0]}" in out
    assert "1 fine-tuned model" in out
    # Each button says the command that presses it here.
    for button in ("[Chart: /finetune chart ftjob-", "[Try: /finetune try ftjob-"):
        assert button in out, "the completion offers its chart and try"
    assert "[Compare with base: /finetune compare ftjob-" in out
    assert "answered" in out
    assert "training examples from the logs of gpt-4.1-mini-2025-04-14" in out
    # The progress is one card per comparison, edited in place, then one result.
    assert "… comparing" not in out
    # At most one card each (a run may end before the outbox posts it: then only its end).
    assert out.count("• Comparing cmp-") <= 2
    assert "done: 12/12 examples of 'support-valid'" in out
    assert "A scores higher on normalized match: " in out
    assert "Scores: exact match: the answer is the reference" in out
    # The logs drafted from are everyday prompts, never the test set's: the comparison's
    # base model is not taught the held-out answers by the demo itself.
    draft = out.split("$ /finetune dataset from-logs", 1)[1].split("$ /finetune compare", 1)[0]
    held_out = (tmp_path / "out" / "data" / "support_valid.jsonl").read_text(encoding="utf-8")
    for line in held_out.splitlines():
        question = json.loads(line)["messages"][-2]["content"]
        assert question[:40] not in draft, question
    tables = {}
    for table in (tmp_path / "out").glob("cmp-*.csv"):
        assert table.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for spreadsheets"
        with table.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        tables[frozenset(r["model"] for r in rows)] = rows
    tuned = next(m for models in tables for m in models if m.startswith("ft:"))
    replay = next(m for models in tables for m in models if m.startswith("sandbox/"))
    # Base against fine-tuned, then the replay at the second family against the original.
    assert set(tables) == {
        frozenset({"gpt-4.1-mini-2025-04-14", tuned}),
        frozenset({replay, tuned}),
    }
    assert all(len(rows) == 24 for rows in tables.values()), "every example, both models"

    # The recipe moved to the Together-shaped simulation in one command, and compared.
    assert "both are simulations" in out
    assert "Together-shaped sandbox (simulated):" in out, "the plan names the second family"
    assert "Carried: epochs=3, suffix=acme-support." in out
    assert "Sent 'support-train' to sandbox-together as 'support-train-sandbox-together'" in out
    assert "Status          : queued (pending)" in out, "Together's own words, simulated"
    assert f"[Compare with {tuned}: /finetune compare ft-" in out, "it offers the original"
    assert f"B = {tuned} (Sandbox (simulated training))" in out
    assert (
        "(Together-shaped sandbox\n  (simulated))" in out
        or "(Together-shaped sandbox (simulated))" in out
    )
    assert "done: 12/12 examples of 'support-valid-sandbox-together'" in out
    assert "Traceback" not in result.stderr


def test_console_answers_lines_and_shows_notices(tmp_path: Path) -> None:
    lines = "\n".join(
        [
            "/finetune help",
            "/finetune start file=nope model=gpt-4.1-mini-2025-04-14",
            "/finetune list",
            "/finetune start epochs=abc",
            "quit",
        ]
    )
    result = _cli(
        "console",
        cwd=tmp_path,
        stdin=lines + "\n",
        FINETUNE_BOT_PROVIDER="sandbox",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        FINETUNE_BOT_HTTP_PORT="0",
    )
    assert result.returncode == 0, result.stderr
    assert "finetune-bot commands" in result.stdout
    assert "No file 'nope' in this team" in result.stdout
    assert "No jobs." in result.stdout
    assert "epochs=abc is not a whole number" in result.stdout
    assert "Usage: /finetune start" in result.stdout


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "OPENAI_API_KEY is not set"),
        ({"FINETUNE_BOT_PROVIDER": "azure"}, "AZURE_OPENAI_ENDPOINT is not set"),
        ({"FINETUNE_BOT_PROVIDER": "bogus"}, "FINETUNE_BOT_PROVIDER is invalid"),
        ({"FINETUNE_BOT_HTTP_PORT": "http"}, "FINETUNE_BOT_HTTP_PORT is invalid"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
        ({"SLACK_MODE": "bogus"}, "SLACK_MODE is invalid"),
        ({"DISCORD_SHARD_COUNT": "0"}, "DISCORD_SHARD_COUNT is invalid"),
        ({"FINETUNE_BOT_PROVIDER": "sandbox"}, "Neither Slack nor Discord is configured"),
    ],
)
def test_run_with_bad_settings_says_one_line(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = _cli("run", cwd=tmp_path, timeout=30, **env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # The real variable opens the message: `DATABASE_URL`, never `FINETUNE_BOT_DATABASE_URL`.
    assert lines[0].startswith(f"finetune-bot: {needle}"), lines[0]
    assert "Traceback" not in result.stderr


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    result = _cli(
        "run",
        cwd=tmp_path,
        timeout=30,
        OPENAI_API_KEY="sk-secret-value-123",
        FINETUNE_BOT_HTTP_PORT="not-a-port",
    )
    assert result.returncode != 0
    assert "sk-secret-value-123" not in result.stderr + result.stdout


def test_migrate(tmp_path: Path) -> None:
    result = _cli(
        "migrate",
        cwd=tmp_path,
        timeout=60,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the probe is


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_an_unreachable_postgresql_is_one_line_naming_database_url(
    tmp_path: Path, command: str
) -> None:
    port = _closed_port()
    result = _cli(
        command,
        cwd=tmp_path,
        timeout=60,
        DATABASE_URL=f"postgresql+asyncpg://bot:s3cret-pw@127.0.0.1:{port}/bot",
        FINETUNE_BOT_PROVIDER="sandbox",
        DISCORD_TOKEN="unused",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"finetune-bot: DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port} "
        "(connection refused; check the server is running and the host and port)"
    ], result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_a_port_in_use_is_one_line_naming_the_port_setting(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        result = _cli(
            "run",
            cwd=tmp_path,
            timeout=60,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
            FINETUNE_BOT_PROVIDER="sandbox",
            FINETUNE_BOT_HTTP_HOST="127.0.0.1",
            FINETUNE_BOT_HTTP_PORT=str(port),
            FINETUNE_BOT_LOG_LEVEL="WARNING",
            DISCORD_TOKEN="unused",
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"finetune-bot: FINETUNE_BOT_HTTP_PORT: port {port} on 127.0.0.1 is in use"
    ), lines[0]
