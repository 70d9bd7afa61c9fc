"""Core tests: a family's data limits and its converter check drive the validator and upload."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from handlers.datasets import EstimateTokenizer, Kind, validate_file
from handlers.profile import DataLimits


def _image_free(record: Mapping[str, object], data_format: str, model: str) -> Sequence[str]:
    """A converter check that cannot write image parts (as a text-only model's form)."""
    messages = record.get("messages")
    assert isinstance(messages, list)
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(p.get("type") == "image_url" for p in content):
            return [f"an image part; {model or 'this family'} takes text only"]
    return []


def _chat(i: int, *, image: bool = False) -> dict[str, object]:
    user: object = f"question {i}"
    if image:
        user = [
            {"type": "text", "text": f"what is in {i}?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ]
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    }


def _write(path: Path, records: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_lines_the_family_cannot_express_are_errors_with_their_line(tmp_path: Path) -> None:
    records = [_chat(i, image=i in (3, 7)) for i in range(12)]
    path = _write(tmp_path / "t.jsonl", records)
    plain = validate_file(path, EstimateTokenizer(), model="", token_limit=1000)
    assert plain.ok
    report = validate_file(
        path, EstimateTokenizer(), model="m-1", token_limit=1000, convert=_image_free
    )
    assert not report.ok
    assert report.counts == {Kind.NOT_CONVERTIBLE.value: 2}
    assert [p.line for p in report.shown] == [4, 8]
    assert "line 4: an image part; m-1 takes text only" in report.problems[0]


def test_the_family_limits_set_counts_and_size(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [_chat(i) for i in range(12)])
    size = path.stat().st_size
    few = validate_file(
        path,
        EstimateTokenizer(),
        model="",
        token_limit=1000,
        limits=DataLimits(min_examples=20),
    )
    assert few.counts == {Kind.TOO_FEW.value: 1}
    assert "at least 20" in few.problems[0]
    many = validate_file(
        path,
        EstimateTokenizer(),
        model="",
        token_limit=1000,
        limits=DataLimits(max_examples=11, file_bytes=size - 1),
    )
    assert many.counts == {Kind.TOO_MANY.value: 1, Kind.TOO_LARGE.value: 1}
    assert "at most 11" in " ".join(many.problems)
    validation = validate_file(
        path,
        EstimateTokenizer(),
        model="",
        token_limit=1000,
        training_hashes=set(),
        limits=DataLimits(max_examples=11, max_validation_examples=12),
    )
    assert validation.ok
    roomy = validate_file(
        path,
        EstimateTokenizer(),
        model="",
        token_limit=1000,
        limits=DataLimits(max_examples=12, file_bytes=size),
    )
    assert roomy.ok
