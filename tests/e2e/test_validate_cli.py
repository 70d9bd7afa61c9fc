"""`finetune-bot validate` as a real process: report, progress bar, exit status, prices file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FINETUNE_BOT_", "OPENAI_", "SLACK_", "DISCORD_", "AZURE_"))
    }
    env.update(extra)
    return env


def _validate(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "validate", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _chat(i: int) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"Question number {i}?"},
                {"role": "assistant", "content": f"Answer number {i}, with some words."},
            ]
        }
    )


def _dataset(path: Path, n: int, *, bad_at: int | None = None) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(("{oops" if i == bad_at else _chat(i)) + "\n")
    return path


def test_a_clean_file_exits_0_with_report_and_cost(tmp_path: Path) -> None:
    path = _dataset(tmp_path / "train.jsonl", 30)
    result = _validate(str(path), "--model", "gpt-4o-mini", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "training: " in out
    assert "ready, 0 warnings" in out
    assert "Format: chat · 30 valid examples" in out
    assert "Tokens per example (exact)" in out
    assert "Estimated training cost on gpt-4o-mini: $" in out
    assert result.stderr == ""  # stderr is a pipe here: no progress bar in it


def test_the_progress_bar_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    path = _dataset(tmp_path / "train.jsonl", 30)
    leader, follower = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "validate", str(path)],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
            check=False,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all of it was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert b"100.0%" in drawn  # the bar, on the terminal
    assert b"100.0%" not in result.stdout


def test_errors_come_first_and_a_file_without_valid_examples_has_no_cost(
    tmp_path: Path,
) -> None:
    path = _dataset(tmp_path / "train.jsonl", 12, bad_at=3)
    out = _validate(str(path), "--quiet", cwd=tmp_path).stdout.splitlines()
    assert out[1].startswith("  - line 4: ")  # what to fix, by line, before the statistics
    assert out[2].startswith("  Format: chat · 11 valid examples")
    broken = tmp_path / "all-bad.jsonl"
    broken.write_text("{oops\n" * 12, encoding="utf-8")
    nothing = _validate(str(broken), "--quiet", cwd=tmp_path)
    assert nothing.returncode == 1
    assert "Billed tokens" not in nothing.stdout
    assert "Estimated training cost" not in nothing.stdout
    assert "Prices:" not in nothing.stdout
    assert "(s)" not in nothing.stdout
    csv = tmp_path / "train.csv.jsonl"
    csv.write_text("prompt,completion\nHow do I reset?,Open settings\n", encoding="utf-8")
    assert "this looks like CSV" in _validate(str(csv), "--quiet", cwd=tmp_path).stdout
    wrong = _validate(str(path), "--quiet", "--format", "preference", cwd=tmp_path)
    assert "this is a chat file; drop format=preference" in wrong.stdout


def test_errors_exit_1_and_name_the_line(tmp_path: Path) -> None:
    path = _dataset(tmp_path / "train.jsonl", 30, bad_at=6)
    result = _validate(str(path), "--quiet", cwd=tmp_path)
    assert result.returncode == 1
    assert "1 error to fix" in result.stdout
    assert "line 7: not valid JSON" in result.stdout
    assert result.stderr == ""


def test_usage_problems_exit_2(tmp_path: Path) -> None:
    missing = _validate(str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "no readable file" in missing.stderr.lower()
    bad_format = _validate(str(tmp_path / "x"), "--format", "csv", cwd=tmp_path)
    assert bad_format.returncode == 2


def test_a_large_file_takes_the_parallel_path_with_the_same_report(tmp_path: Path) -> None:
    path = _dataset(tmp_path / "big.jsonl", 120_000, bad_at=100_000)  # ~12 MB, over the 8 MB
    parallel = _validate(str(path), "--json", "--quiet", cwd=tmp_path)
    single = _validate(str(path), "--json", "--quiet", "--workers", "1", cwd=tmp_path)
    assert parallel.returncode == single.returncode == 1
    one, many = json.loads(single.stdout), json.loads(parallel.stdout)
    for key in ("examples", "lines", "problems", "total_tokens", "tokens", "counts"):
        assert many["training"][key] == one["training"][key], key
    assert many["training"]["problems"][0].startswith("line 100001: not valid JSON")
    assert many["training"]["examples"] == 119_999


def test_validation_file_and_prices_file(tmp_path: Path) -> None:
    train = _dataset(tmp_path / "train.jsonl", 30)
    valid = tmp_path / "valid.jsonl"
    valid.write_text(_chat(3) + "\n" + _chat(1000) + "\n", encoding="utf-8")
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "as_of": "2030-01-01",
                "source": "operator",
                "models": {"my-model": {"training_per_million": 1000.0, "token_limit": 20}},
            }
        ),
        encoding="utf-8",
    )
    result = _validate(
        str(train),
        "--validation",
        str(valid),
        "--model",
        "my-model",
        "--quiet",
        cwd=tmp_path,
        FINETUNE_BOT_PRICES_FILE=str(prices),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "validation: " in out
    assert "line 1: this validation example also appears in the training file" in out
    assert "over the 20 limit of my-model" in out
    assert "prices as of 2030-01-01" in out
    broken = _validate(str(train), cwd=tmp_path, FINETUNE_BOT_PRICES_FILE=str(tmp_path / "no"))
    assert broken.returncode == 2
    assert "FINETUNE_BOT_PRICES_FILE" in broken.stderr


def test_special_files_get_one_line_not_a_traceback(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    good = _dataset(tmp_path / "train.jsonl", 12)
    for args, expected in (
        (["/proc/self/status"], "special file"),
        ([str(tmp_path)], "is a directory"),
        ([str(fifo)], "not a regular file"),
        ([str(good), "--validation", "/proc/self/status"], "special file"),
    ):
        result = _validate(*args, "--quiet", cwd=tmp_path)
        assert result.returncode == 2, result
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
