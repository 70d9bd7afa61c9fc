"""Tests for the bundled demo datasets in bot/console/data: valid chat-format JSONL."""

from __future__ import annotations

import json
from importlib import resources

import pytest

DATASETS = ("support_train.jsonl", "support_valid.jsonl")
ROLES = {"system", "user", "assistant"}


def load(name: str) -> list[dict[str, object]]:
    text = resources.files("bot.console").joinpath("data", name).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(line.strip() for line in lines), "no blank lines"
    examples = [json.loads(line) for line in lines]
    assert all(isinstance(example, dict) for example in examples)
    return examples


def messages_of(example: dict[str, object]) -> list[dict[str, object]]:
    """An example's messages, checked to be a list of objects (json.loads is untyped)."""
    messages = example["messages"]
    assert isinstance(messages, list)
    assert all(isinstance(message, dict) for message in messages)
    return messages


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_is_valid_chat_jsonl(name: str) -> None:
    examples = load(name)
    assert len(examples) >= 10
    for example in examples:
        messages = example["messages"]
        assert isinstance(messages, list)
        assert messages
        for message in messages:
            assert isinstance(message, dict)
            assert message["role"] in ROLES
            assert isinstance(message["content"], str)
            assert message["content"].strip()
        roles = [message["role"] for message in messages]
        assert "assistant" in roles
        assert roles[-1] == "assistant"


def test_no_duplicates_within_or_across_files() -> None:
    lines = [json.dumps(example, sort_keys=True) for name in DATASETS for example in load(name)]
    assert len(lines) == len(set(lines))
    questions = [
        str(message["content"])
        for name in DATASETS
        for example in load(name)
        for message in messages_of(example)
        if message["role"] == "user"
    ]
    assert len(questions) == len(set(questions))


def test_training_set_is_the_bigger_one() -> None:
    assert len(load("support_train.jsonl")) >= 40
    assert len(load("support_valid.jsonl")) >= 10
