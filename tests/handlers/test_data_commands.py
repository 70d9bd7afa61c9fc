"""The data commands over real parts: validate, upload (force, reuse, progress), files, rm-file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.parse import parse
from handlers.replies import Tone, plain
from handlers.service import FORCE_RISK
from tests.world import World, actor, as_shared, chat_example, world, write_dataset


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


def broken_dataset(path: Path) -> Path:
    lines = [chat_example(i) for i in range(12)]
    lines[3] = '{"messages": [{"role": "robot", "content": "hi"}]}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_validate_reports_statistics_and_cost_and_uploads_nothing(
    w: World, tmp_path: Path
) -> None:
    path = write_dataset(tmp_path / "train.jsonl", n=20)
    reply = await w.run(f"/finetune validate {path} model=gpt-4o-mini", actor())
    assert reply.tone is Tone.SUCCESS, reply.lines
    assert reply.title == "train.jsonl is ready for fine-tuning"
    text = "\n".join(map(plain, reply.lines))
    assert "Format: chat · 20 valid examples" in text
    assert "Tokens per example (estimate)" in text  # no tokenizer given: labelled estimate
    assert "Billed tokens:" in text
    assert "5 epochs (the default)" in text  # 20 examples × 5 = 100
    assert "Estimated training cost on gpt-4o-mini: $" in text
    assert w.provider.calls["upload_file"] == 0
    assert await w.store.list_files(actor().team_id) == []


async def test_validate_names_errors_and_validation_overlap(w: World, tmp_path: Path) -> None:
    bad = broken_dataset(tmp_path / "bad.jsonl")
    reply = await w.run(f"/finetune validate {bad}", actor())
    assert reply.tone is Tone.ERROR
    assert "1 error to fix" in reply.title
    assert any(
        line.startswith("line 4: message 1 has the unknown role")
        for line in map(plain, reply.lines)
    )
    train = write_dataset(tmp_path / "train.jsonl", n=12)
    valid = tmp_path / "valid.jsonl"
    valid.write_text(chat_example(5) + "\n" + chat_example(99) + "\n", encoding="utf-8")
    reply = await w.run(f"/finetune validate {train} validation={valid}", actor())
    text = "\n".join(map(plain, reply.lines))
    assert "warning: line 1: this validation example also appears in the training file" in text
    assert "too few" not in text  # a validation file may be small


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("notes.txt", "Reset the router first.\nThen call support.\n", "text, not JSONL"),
        ("sheet.csv", "prompt,completion\nHow do I reset?,Open settings\n", "CSV, not JSONL"),
        ("empty.jsonl", "", "empty file"),
    ],
)
async def test_a_file_that_is_not_jsonl_is_refused_even_forced_with_what_to_do(
    w: World, tmp_path: Path, name: str, content: str, kind: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    for forced in ("", " force=yes"):
        refused = await w.run(f"/finetune upload {path} alias=notes{forced}", actor())
        assert refused.tone is Tone.ERROR
        assert plain(refused.title) == f"{name} is not a JSONL file."
        assert len(refused.lines) == 2, refused.lines  # one problem, not one per line
        problem, hint = (plain(line) for line in refused.lines)
        assert problem.endswith(f"[{kind}]")
        assert "save" in problem or "convert" in problem or kind == "empty file"
        assert "force=yes cannot send it" in hint
    assert w.provider.calls["upload_file"] == 0
    assert await w.store.list_files(actor().team_id) == []


async def test_upload_refuses_errors_and_says_what_forcing_risks(w: World, tmp_path: Path) -> None:
    bad = broken_dataset(tmp_path / "bad.jsonl")
    refused = await w.run(f"/finetune upload {bad} alias=bad", actor())
    assert refused.tone is Tone.ERROR
    assert FORCE_RISK in refused.lines
    assert w.provider.calls["upload_file"] == 0
    forced = await w.run(f"/finetune upload {bad} alias=bad force=yes", actor())
    assert forced.tone is Tone.SUCCESS
    assert any("because force=yes" in line for line in forced.lines)
    [record] = await w.store.list_files(actor().team_id)
    assert record.alias == "bad"
    assert record.examples == 11
    assert record.format == "chat"
    assert record.tokens is not None
    assert record.tokens > 0


async def test_upload_keeps_format_examples_tokens_and_reuses_by_sha256(
    w: World, tmp_path: Path
) -> None:
    prefs = tmp_path / "prefs.jsonl"
    example = {
        "input": {"messages": [{"role": "user", "content": "Hello?"}]},
        "preferred_output": [{"role": "assistant", "content": "Hi, how can I help?"}],
        "non_preferred_output": [{"role": "assistant", "content": "What."}],
    }
    prefs.write_text(
        "\n".join(
            json.dumps({**example, "input": {"messages": [{"role": "user", "content": f"Q{i}"}]}})
            for i in range(10)
        )
        + "\n",
        encoding="utf-8",
    )
    reply = await w.run(f"/finetune upload {prefs} alias=prefs", actor())
    assert reply.tone is Tone.SUCCESS, reply.lines
    [record] = await w.store.list_files(actor().team_id)
    assert (record.format, record.examples) == ("preference", 10)
    assert record.tokens is not None
    assert record.tokens > 0
    listed = await w.run("/finetune files", actor())
    assert listed.table is not None
    [row] = listed.table.rows
    assert row[:5] == ("prefs", record.provider_file_id, "preference", "10", f"{record.tokens:,}")
    again = await w.run(f"/finetune upload {prefs} alias=prefs2", actor())
    assert "already uploaded as 'prefs'" in again.title
    assert w.provider.calls["upload_file"] == 1


async def test_rm_file_deletes_at_provider_and_in_store(w: World, tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "t.jsonl")
    await w.run(f"/finetune upload {path} alias=t1", actor())
    [record] = await w.store.list_files(actor().team_id)
    other = await w.run("/finetune rm-file t1", actor(workspace="T2"))
    assert other.tone is Tone.ERROR
    assert "No file 't1'" in other.title
    reply = await w.run("/finetune rm-file t1", actor())
    assert reply.tone is Tone.SUCCESS
    assert record.provider_file_id in reply.title
    assert await w.store.list_files(actor().team_id) == []
    assert [f.id for f in await w.sandbox.list_files()] == []
    gone = await w.run("/finetune rm-file t1", actor())
    assert "No file 't1'" in gone.title


async def test_progress_hears_validation_and_chunked_upload(w: World, tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "t.jsonl", n=400)
    w.sandbox.chunked_threshold = 10_000
    w.sandbox.part_bytes = 8_000
    heard: list[tuple[str, int, int]] = []
    request = as_shared(parse(f"/finetune upload {path} alias=big"))
    reply = await w.service.handle(
        request, actor(), progress=lambda stage, done, total: heard.append((stage, done, total))
    )
    assert reply.tone is Tone.SUCCESS, reply.lines
    size = path.stat().st_size
    stages = [stage for stage, _, _ in heard]
    assert stages[0] == "validating"
    assert ("validating", size, size) in heard
    uploading = [(d, t) for s, d, t in heard if s == "uploading"]
    assert len(uploading) == -(-size // 8_000) > 1
    assert uploading[-1] == (size, size)
    [record] = await w.store.list_files(actor().team_id)
    assert w.sandbox.upload_parts[record.provider_file_id] == len(uploading)


async def test_help_lists_the_data_commands(w: World) -> None:
    reply = await w.run("/finetune help", actor())
    text = "\n".join(map(plain, reply.lines))
    for name in ("validate", "upload", "files", "rm-file"):
        assert f"/finetune {name} " in text
