"""Tests: canonical chat JSONL to Bedrock's training data, per model, line by line, and back."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.providers.bedrock.convert import (
    SCHEMA_VERSION,
    convert_file,
    convert_record,
    problems,
    to_canonical,
)
from bot.providers.bedrock.models import BASE_MODELS, DataFormat

NOVA = BASE_MODELS["amazon.nova-lite-v1:0:300k"]
HAIKU = BASE_MODELS["anthropic.claude-3-haiku-20240307-v1:0:200k"]
LLAMA = BASE_MODELS["meta.llama3-1-8b-instruct-v1:0:128k"]

# -- AWS's published examples -----------------------------------------------------------------


def test_a_single_turn_chat_is_aws_published_conversation_example() -> None:
    """The bedrock-conversation-2024 example of AWS's data-preparation page, from the
    canonical chat that means the same."""
    system = (
        "A chat between a curious User and an artificial intelligence Bot. The Bot gives "
        "helpful, detailed, and polite answers to the User's questions."
    )
    answer = (
        "The sky is blue because molecules in the air scatter blue light from the Sun more "
        "than other colors."
    )
    canonical = {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "why is the sky blue"},
            {"role": "assistant", "content": answer},
        ]
    }
    published = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": system}],
        "messages": [
            {"role": "user", "content": [{"text": "why is the sky blue"}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }

    assert convert_record(canonical, HAIKU) == published
    assert convert_record(canonical, NOVA) == published


def test_a_text_model_gets_aws_published_prompt_completion_example() -> None:
    canonical = {
        "messages": [
            {"role": "user", "content": "what is AWS"},
            {"role": "assistant", "content": "it's Amazon Web Services"},
        ]
    }

    assert convert_record(canonical, LLAMA) == {
        "prompt": "what is AWS",
        "completion": "it's Amazon Web Services",
    }
    assert convert_record({"prompt": "what is AWS", "completion": "x"}, LLAMA) == {
        "prompt": "what is AWS",
        "completion": "x",
    }


# -- what cannot be expressed, per model ------------------------------------------------------


def _chat(*turns: str, system: str | None = None) -> dict[str, object]:
    roles = ["user", "assistant"] * len(turns)
    messages: list[dict[str, object]] = (
        [] if system is None else [{"role": "system", "content": system}]
    )
    messages += [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]
    return {"messages": messages}


def test_several_turns_are_refused_for_a_single_turn_model_only() -> None:
    chat = _chat("q1", "a1", "q2", "a2")

    assert problems(chat, "chat", NOVA.id) == []
    assert problems(chat, "chat", "") == []  # no model named yet: Nova could take it
    (haiku,) = problems(chat, "chat", HAIKU.id)
    assert "one user message and one reply" in haiku
    assert problems(chat, "chat", LLAMA.id)


def test_an_image_a_tool_call_or_a_system_for_a_text_model_is_named() -> None:
    image = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                ],
            },
            {"role": "assistant", "content": "a cat"},
        ]
    }
    tool = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
        ]
    }

    (found,) = problems(image, "chat", LLAMA.id)
    assert "image" in found
    assert "remove the image" in found
    (found,) = problems(tool, "chat", "")
    assert "tool_calls" in found
    (found,) = problems(_chat("q", "a", system="be brief"), "chat", LLAMA.id)
    assert "system" in found
    assert "fold it into the user message" in found
    assert problems(_chat("q", "a", system="be brief"), "chat", HAIKU.id) == []
    (found,) = problems({"input": {}}, "preference", "")
    assert "no DPO" in found


def test_a_file_is_converted_line_by_line_with_every_problem_numbered(tmp_path: Path) -> None:
    lines = [
        _chat("q1", "a1"),
        _chat("q1", "a1", "q2", "a2"),
        _chat("q3", "a3"),
        _chat("q4", "a4", "q5", "a5"),
    ]
    source = tmp_path / "train.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines) + "\n")

    checked = convert_file(source, None, HAIKU)
    out = io.BytesIO()
    nova = convert_file(source, out, NOVA)

    assert [p.line for p in checked.problems] == [2, 4]
    assert "line 2:" in checked.summary(HAIKU)
    assert "nothing was staged" in checked.summary(HAIKU)
    assert nova.ok
    assert nova.lines == 4
    written = out.getvalue()
    assert nova.bytes == len(written)
    assert all(json.loads(x)["schemaVersion"] == SCHEMA_VERSION for x in written.splitlines())


def test_a_line_that_is_not_json_passes_for_bedrock_to_judge(tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(json.dumps(_chat("q", "a")).encode() + b"\n{not json\n")
    out = io.BytesIO()

    done = convert_file(source, out, NOVA)

    assert done.ok
    assert out.getvalue().splitlines()[1] == b"{not json"


# -- properties -------------------------------------------------------------------------------

_TEXT = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != "")
_CONTENT = st.one_of(
    _TEXT,
    st.lists(_TEXT, min_size=2, max_size=3).map(
        lambda ts: [{"type": "text", "text": t} for t in ts]
    ),
)


@st.composite
def _canonical(draw: st.DrawFn, *, max_turns: int) -> dict[str, object]:
    turns = draw(st.integers(min_value=1, max_value=max_turns))
    messages: list[dict[str, object]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(_TEXT)})
    for _ in range(turns):
        messages.append({"role": "user", "content": draw(_CONTENT)})
        messages.append({"role": "assistant", "content": draw(_CONTENT)})
    return {"messages": messages}


@given(example=_canonical(max_turns=4))
def test_every_valid_conversation_converts_for_nova_and_back(example: dict[str, object]) -> None:
    assert problems(example, "chat", NOVA.id) == []
    converted = convert_record(example, NOVA)
    line = json.loads(json.dumps(converted))

    assert line["schemaVersion"] == SCHEMA_VERSION
    assert to_canonical(line) == example


@given(example=_canonical(max_turns=1))
def test_every_single_turn_example_converts_for_every_model_that_takes_it(
    example: dict[str, object],
) -> None:
    for model in BASE_MODELS.values():
        messages = example["messages"]
        assert isinstance(messages, list)
        has_system = messages[0]["role"] == "system"
        several_parts = any(isinstance(m["content"], list) for m in messages)
        text_model = model.data is DataFormat.PROMPT_COMPLETION
        if text_model and (has_system or several_parts):
            assert problems(example, "chat", model.id), model.id
            continue
        assert problems(example, "chat", model.id) == [], model.id
        assert to_canonical(json.loads(json.dumps(convert_record(example, model)))) == example
