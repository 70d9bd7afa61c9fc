"""A start whose file the method cannot train on is answered before any provider call, with
what to do: the validator already knows each file's format (the profile says which formats
each method takes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.providers.sandbox.profile import PROFILE as SANDBOX
from handlers.errors import UsageError
from handlers.replies import Tone, plain
from handlers.requests import StartRequest, check_formats
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


def _preferences(path: Path) -> Path:
    lines = (
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": f"Q{i}"}]},
                "preferred_output": [{"role": "assistant", "content": "Good."}],
                "non_preferred_output": [{"role": "assistant", "content": "Bad."}],
            }
        )
        for i in range(10)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_file_the_method_cannot_train_on_is_refused_with_the_fix(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        chat = write_dataset(tmp_path / "train.jsonl")
        prefs = _preferences(tmp_path / "prefs.jsonl")
        assert (await w.run(f"upload {chat} alias=train", actor())).tone is Tone.SUCCESS
        assert (await w.run(f"upload {prefs} alias=prefs", actor())).tone is Tone.SUCCESS

        supervised = await w.run(f"start file=prefs model={MODEL}", actor())
        assert supervised.tone is Tone.ERROR
        assert plain(supervised.title) == (
            "'prefs' holds preference examples, which Sandbox (simulated training) does not "
            "train with method=supervised (it takes chat): add method=dpo."
        )
        dpo = await w.run(f"start file=train model={MODEL} method=dpo", actor())
        assert plain(dpo.title).endswith("(it takes preference): add method=supervised.")
        # A validation file of the wrong kind is named the same way.
        mixed = await w.run(f"start file=train validation=prefs model={MODEL}", actor())
        assert plain(mixed.title).startswith("'prefs' holds preference examples")
        assert w.provider.calls["create_job"] == 0
        started = await w.run(f"start file=prefs model={MODEL} method=dpo", actor())
        assert started.tone is Tone.SUCCESS, started


def test_a_format_no_method_takes_says_which_file_to_upload() -> None:
    request = StartRequest(model=MODEL, training_file="c")
    with pytest.raises(UsageError) as refused:
        check_formats(request, SANDBOX, {"c": "completion"})
    assert refused.value.message.endswith("upload a chat file for method=supervised.")
    wide = replace(SANDBOX, formats={"supervised": frozenset({"chat", "completion"})})
    check_formats(request, wide, {"c": "completion"})
