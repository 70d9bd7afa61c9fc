"""The core's commands over real parts: SQLite store, sandbox provider, manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.replies import Tone, Visibility, plain
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def _upload_and_start(w: World, tmp_path: Path, who=None) -> str:  # type: ignore[no-untyped-def]
    who = who or actor()
    path = write_dataset(tmp_path / "train.jsonl")
    reply = await w.run(f"/finetune upload {path} alias=train", who)
    assert reply.tone is Tone.SUCCESS, reply
    reply = await w.run(f"/finetune start file=train model={MODEL} epochs=2 suffix=s1", who)
    assert reply.tone is Tone.SUCCESS, reply
    jobs = await w.store.list_jobs(who.team_id)
    return jobs[0].id


async def test_help_lists_every_command_and_explains_one(w: World) -> None:
    reply = await w.run("/finetune help", actor())
    text = "\n".join(map(plain, reply.lines))
    for name in (
        "upload",
        "files",
        "start",
        "list",
        "inspect",
        "events",
        "checkpoints",
        "cancel",
        "pause",
        "resume",
        "models",
        "chart",
        "subscribe",
    ):
        assert f"/finetune {name} " in text
    detail = await w.run("/finetune help start", actor())
    assert any("epochs" in line for line in detail.lines)
    assert detail.visibility is Visibility.EPHEMERAL


async def test_upload_records_alias_and_reuses_same_content(w: World, tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "train.jsonl")
    first = await w.run(f"/finetune upload {path} alias=v1", actor())
    assert first.tone is Tone.SUCCESS
    again = await w.run(f"/finetune upload {path} alias=v2", actor())
    assert "already uploaded as 'v1'" in again.title
    files = await w.store.list_files(actor().team_id)
    assert [f.alias for f in files] == ["v1"]
    assert files[0].examples == 12
    assert w.provider.calls["upload_file"] == 1


async def test_upload_rejects_bad_files_with_line_numbers(w: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\nnot json\n', encoding="utf-8")
    reply = await w.run(f"/finetune upload {bad}", actor())
    assert reply.tone is Tone.ERROR
    assert reply.visibility is Visibility.EPHEMERAL
    assert any(line.startswith("line 1:") for line in map(plain, reply.lines))
    assert any(line.startswith("line 2: not valid JSON") for line in map(plain, reply.lines))
    few = write_dataset(tmp_path / "few.jsonl", n=3)
    reply = await w.run(f"/finetune upload {few}", actor())
    assert "at least 10" in "\n".join(map(plain, reply.lines))
    missing = await w.run(f"/finetune upload {tmp_path / 'nope.jsonl'}", actor())
    assert "No readable file" in missing.title
    assert await w.store.list_files(actor().team_id) == []
    assert w.provider.calls["upload_file"] == 0


async def test_alias_taken_is_refused_before_upload(w: World, tmp_path: Path) -> None:
    await w.run(f"/finetune upload {write_dataset(tmp_path / 'a.jsonl')} alias=x", actor())
    other = tmp_path / "b.jsonl"
    other.write_text(
        "\n".join(
            f'{{"messages": [{{"role": "user", "content": "q{i}"}}, '
            '{"role": "assistant", "content": "a"}]}'
            for i in range(10)
        ),
        encoding="utf-8",
    )
    reply = await w.run(f"/finetune upload {other} alias=x", actor())
    assert "alias 'x' is taken" in reply.title
    assert w.provider.calls["upload_file"] == 1


async def test_start_list_inspect_and_scoping(w: World, tmp_path: Path) -> None:
    job_id = await _upload_and_start(w, tmp_path)
    listed = await w.run("/finetune list", actor())
    assert listed.table is not None
    assert listed.table.rows[0][0] == job_id
    calls_before = sum(w.provider.calls.values())
    await w.run("/finetune list running", actor())
    assert sum(w.provider.calls.values()) == calls_before  # list is answered from the store
    inspected = await w.run(f"/finetune inspect {job_id}", actor())
    assert inspected.title == f"Job {job_id}"
    assert {f.name for f in inspected.fields} >= {"Status", "Base model", "Epochs"}
    stranger = actor(workspace="T2")
    for line in (
        f"inspect {job_id}",
        f"cancel {job_id}",
        f"events {job_id}",
        f"chart {job_id}",
        f"checkpoints {job_id}",
        f"pause {job_id}",
    ):
        theirs = await w.run(line, stranger)
        nothing = await w.run(line.replace(job_id, "ftjob-doesnotexist"), stranger)
        assert theirs.title == plain(nothing.title).replace("ftjob-doesnotexist", job_id)
        assert theirs.tone is Tone.ERROR
    assert (await w.store.get_job(actor().team_id, job_id)).state.status != "cancelled"  # type: ignore[union-attr]
    other_files = await w.run(f"/finetune start file=train model={MODEL}", stranger)
    assert "No file 'train'" in other_files.title


async def test_bad_values_store_and_send_nothing(w: World, tmp_path: Path) -> None:
    await _upload_and_start(w, tmp_path)
    created = w.provider.calls["create_job"]
    for line in (
        f"start file=train model={MODEL} epochs=abc",
        f"start file=train model={MODEL} epochs=0",
        f"start file=train model={MODEL} batch_size=-1",
        f"start file=train model={MODEL} suffix={'x' * 65}",
        f"start file=unknown model={MODEL}",
        "start file=train model=not-a-finetunable-model",
    ):
        reply = await w.run(line, actor())
        assert reply.tone is Tone.ERROR, line
        assert reply.visibility is Visibility.EPHEMERAL
    assert w.provider.calls["create_job"] == created + 1  # only the unknown model reached it
    assert len(await w.store.list_jobs(actor().team_id)) == 1


async def test_cancel_pause_resume(w: World, tmp_path: Path) -> None:
    job_id = await _upload_and_start(w, tmp_path)
    w.clock.advance(25)  # running by now
    paused = await w.run(f"/finetune pause {job_id}", actor())
    assert "paused" in paused.title
    resumed = await w.run(f"/finetune resume {job_id}", actor())
    assert "running" in resumed.title
    cancelled = await w.run(f"/finetune cancel {job_id}", actor())
    assert cancelled.tone is Tone.WARNING
    again = await w.run(f"/finetune cancel {job_id}", actor())
    assert "already cancelled" in again.title


async def test_events_checkpoints_chart_models_after_success(w: World, tmp_path: Path) -> None:
    job_id = await _upload_and_start(w, tmp_path)
    await w.settle(seconds=200)
    job = await w.store.get_job(actor().team_id, job_id)
    assert job is not None
    assert job.state.status == "succeeded"
    events = await w.run(f"/finetune events {job_id} limit=3", actor())
    assert len(events.lines) == 3
    checkpoints = await w.run(f"/finetune checkpoints {job_id}", actor())
    assert checkpoints.table is not None
    assert checkpoints.table.rows
    chart = await w.run(f"/finetune chart {job_id}", actor())
    assert chart.attachments[0].mime_type == "image/png"
    models = await w.run("/finetune models", actor())
    assert models.table is not None
    assert plain(models.table.rows[0][0]).startswith("ft:")
    assert (await w.run("/finetune models", actor(workspace="T2"))).table is None


async def test_provider_errors_become_one_plain_reply(w: World, tmp_path: Path) -> None:
    from handlers.errors import ProviderError, ProviderErrorKind

    job_id = await _upload_and_start(w, tmp_path)
    for kind in (
        ProviderErrorKind.AUTH,
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.SERVER,
        ProviderErrorKind.TIMEOUT,
    ):
        w.provider.inject_fault(ProviderError(kind), times=1, operation="cancel_job")
        reply = await w.run(f"/finetune cancel {job_id}", actor())
        assert reply.tone is Tone.ERROR
        assert "Traceback" not in reply.title
        assert reply.title == ProviderError(kind).message


async def test_subscriptions(w: World) -> None:
    here = actor(channel="C9")
    assert "now receives failures" in (await w.run("subscribe failures", here)).title
    listed = await w.run("subscriptions", actor())
    assert listed.table is not None
    assert listed.table.rows[0][1] == "failures"
    assert (await w.run("unsubscribe", here)).tone is not Tone.ERROR
    assert (await w.run("unsubscribe", here)).tone is Tone.ERROR


async def test_mutations_are_audited(w: World, tmp_path: Path) -> None:
    await _upload_and_start(w, tmp_path)
    await w.run("cancel ftjob-nope", actor())
    entries = await w.store.list_audit(actor().team_id)
    commands = [e.command for e in entries]
    assert {"upload", "start", "cancel"} <= set(commands)
    assert any(e.result.startswith("error") for e in entries if e.command == "cancel")
