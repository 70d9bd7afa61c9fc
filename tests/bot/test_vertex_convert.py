"""Provider tests: canonical lines to Gemini's tuning form, property-tested and checked against
the published shape (google-genai's own models, which forbid unknown fields)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from bot.providers.vertex.convert import (
    NotConvertible,
    convert_file,
    from_gemini,
    problems,
    to_gemini,
)
from handlers.datasets import EstimateTokenizer, Format, Kind, validate_file
from handlers.datasets.formats import CHECKS

_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20).filter(
    lambda t: t.strip() != ""
)
_name = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)


@st.composite
def _tool_round(draw: st.DrawFn, counter: list[int]) -> list[dict[str, Any]]:
    """An assistant turn calling tools, then each call's result."""
    calls = []
    for _ in range(draw(st.integers(1, 2))):
        counter[0] += 1
        args = draw(st.dictionaries(_name, st.integers() | _text, max_size=2))
        calls.append(
            {
                "id": f"call_{counter[0]}",
                "type": "function",
                "function": {"name": draw(_name), "arguments": json.dumps(args)},
            }
        )
    said = draw(st.none() | _text)
    turn: dict[str, Any] = {"role": "assistant", "content": said, "tool_calls": calls}
    results = [{"role": "tool", "tool_call_id": c["id"], "content": draw(_text)} for c in calls]
    return [turn, *results]


@st.composite
def chat_examples(draw: st.DrawFn) -> dict[str, Any]:
    """Valid canonical chat examples Gemini's form can hold: an optional system message
    first, user and assistant turns (text, or text parts), tool calls and their results,
    ending with the assistant."""
    counter = [0]
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_text)}
        )
    for _ in range(draw(st.integers(1, 3))):
        user: Any = draw(_text)
        if draw(st.booleans()):
            user = [{"type": "text", "text": draw(_text)} for _ in range(draw(st.integers(1, 2)))]
        messages.append({"role": "user", "content": user})
        if draw(st.booleans()):
            messages.extend(draw(_tool_round(counter)))
        messages.append({"role": "assistant", "content": draw(_text)})
    record: dict[str, Any] = {"messages": messages}
    if counter[0] and draw(st.booleans()):
        record["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": draw(_name),
                    "description": draw(_text),
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ]
    return record


@st.composite
def preference_examples(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(_text)})
    for _ in range(draw(st.integers(0, 2))):
        messages += [
            {"role": "user", "content": draw(_text)},
            {"role": "assistant", "content": draw(_text)},
        ]
    messages.append({"role": "user", "content": draw(_text)})
    return {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": draw(_text)}],
        "non_preferred_output": [{"role": "assistant", "content": draw(_text)}],
    }


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    """The conversation as Gemini keeps it: text parts joined, absent content as None."""

    def message(m: dict[str, Any]) -> dict[str, Any]:
        out = dict(m)
        content = out.get("content")
        if isinstance(content, list):
            out["content"] = "".join(p["text"] for p in content)
        if "tool_calls" in out:
            out["tool_calls"] = [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "arguments": json.loads(c["function"]["arguments"]),
                    },
                }
                for c in out["tool_calls"]
            ]
        return out

    if "input" in record:
        return {
            "input": {"messages": [message(m) for m in record["input"]["messages"]]},
            "preferred_output": [message(m) for m in record["preferred_output"]],
            "non_preferred_output": [message(m) for m in record["non_preferred_output"]],
        }
    return {**record, "messages": [message(m) for m in record["messages"]]}


def _published(line: dict[str, Any]) -> None:
    """The line has the documented shape: google-genai's models (unknown fields forbidden)."""
    preference = "completions" in line
    instruction = "system_instruction" if preference else "systemInstruction"
    allowed = (
        {instruction, "contents", "completions"}
        if preference
        else {instruction, "contents", "tools"}
    )
    assert set(line) <= allowed
    if instruction in line:
        types.Content.model_validate(line[instruction])
    for turn in line["contents"]:
        assert turn["role"] in ("user", "model")
        assert turn["parts"]
        types.Content.model_validate(turn)
    for tool in line.get("tools", []):
        types.Tool.model_validate(tool)
    for completion in line.get("completions", []):
        assert set(completion) == {"score", "completion"}
        types.Content.model_validate(completion["completion"])


def _valid(record: dict[str, Any], fmt: Format) -> None:
    found = CHECKS[fmt](len, record)
    assert not isinstance(found, list), found


@given(chat_examples())
def test_every_valid_chat_example_converts_and_comes_back(record: dict[str, Any]) -> None:
    _valid(record, Format.CHAT)
    assert problems(record, "chat", "gemini-2.5-flash") == []
    line = to_gemini(record, "chat")
    _published(line)
    assert line["contents"][-1]["role"] == "model"
    assert _canonical(from_gemini(json.loads(json.dumps(line)), "chat")) == _canonical(record)


@given(preference_examples())
def test_every_valid_preference_example_converts_and_comes_back(record: dict[str, Any]) -> None:
    _valid(record, Format.PREFERENCE)
    assert problems(record, "preference", "") == []
    line = to_gemini(record, "preference")
    _published(line)
    assert line["contents"][-1]["role"] == "user"
    assert [c["score"] for c in line["completions"]] == [1, 0]
    assert from_gemini(line, "preference") == _canonical(record)


@st.composite
def any_chat_examples(draw: st.DrawFn) -> dict[str, Any]:
    """Valid canonical chat examples of every kind, Gemini's form able to hold them or not:
    image parts, weights, system messages anywhere, a last turn that is not the assistant's."""
    record = draw(chat_examples())
    messages = list(record["messages"])
    at = draw(st.integers(0, len(messages)))
    extra = draw(
        st.sampled_from(
            [
                None,
                {"role": "system", "content": "late"},
                {"role": "user", "content": "trailing"},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
                },
            ]
        )
    )
    if extra is not None:
        messages.insert(at, extra)
    if draw(st.booleans()):
        turn = next(m for m in messages if m["role"] == "assistant")
        turn["weight"] = draw(st.sampled_from([0, 1]))
    return {**record, "messages": messages}


@given(any_chat_examples())
def test_a_valid_example_converts_exactly_when_no_problem_is_named(
    record: dict[str, Any],
) -> None:
    if isinstance(CHECKS[Format.CHAT](len, record), list):
        return  # not a valid canonical example: the validator reports it, not the converter
    found = problems(record, "chat", "gemini-2.5-flash")
    if found:
        with pytest.raises(NotConvertible):
            to_gemini(record, "chat")
    else:
        _published(to_gemini(record, "chat"))


def test_the_published_supervised_example() -> None:
    """The documented example's shape (systemInstruction, user/model contents), from the
    canonical conversation that says the same."""
    record = {
        "messages": [
            {"role": "system", "content": "You are a pirate dog named Captain Barktholomew."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Argh! What brings ye to my ship?"},
            {"role": "user", "content": "What's your name?"},
            {"role": "assistant", "content": "I be Captain Barktholomew!"},
        ]
    }
    assert to_gemini(record, "chat") == {
        "systemInstruction": {
            "parts": [{"text": "You are a pirate dog named Captain Barktholomew."}]
        },
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Argh! What brings ye to my ship?"}]},
            {"role": "user", "parts": [{"text": "What's your name?"}]},
            {"role": "model", "parts": [{"text": "I be Captain Barktholomew!"}]},
        ],
    }


def test_the_published_preference_example() -> None:
    """The documented preference example's shape: `system_instruction` (snake case there),
    contents ending with the user's turn, the preferred completion scored 1, the other 0."""
    record = {
        "input": {
            "messages": [
                {"role": "system", "content": "You are a chat bot."},
                {"role": "user", "content": "What is my favorite fruit?"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "Apple! Apple! Apple!"}],
        "non_preferred_output": [
            {"role": "assistant", "content": "Your favorite fruit is apple."}
        ],
    }
    assert to_gemini(record, "preference") == {
        "system_instruction": {"parts": [{"text": "You are a chat bot."}]},
        "contents": [{"role": "user", "parts": [{"text": "What is my favorite fruit?"}]}],
        "completions": [
            {
                "score": 1,
                "completion": {"role": "model", "parts": [{"text": "Apple! Apple! Apple!"}]},
            },
            {
                "score": 0,
                "completion": {
                    "role": "model",
                    "parts": [{"text": "Your favorite fruit is apple."}],
                },
            },
        ],
    }


def test_a_tool_call_is_a_function_call_part_and_its_result_a_function_response() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "assistant", "content": "18C and sunny."},
        ]
    }
    line = to_gemini(record, "chat")
    assert line["contents"][1] == {
        "role": "model",
        "parts": [{"functionCall": {"id": "c1", "name": "weather", "args": {"city": "Paris"}}}],
    }
    assert line["contents"][2]["parts"][0]["functionResponse"]["name"] == "weather"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "https://x/a.png"}}
                        ],
                    },
                    {"role": "assistant", "content": "a cat"},
                ]
            },
            "an image_url part; gemini-2.5-flash takes text only here",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "system", "content": "late"},
                    {"role": "assistant", "content": "b"},
                ]
            },
            "a system message after the conversation began",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b", "weight": 0},
                    {"role": "user", "content": "c"},
                    {"role": "assistant", "content": "d"},
                ]
            },
            "weight 0 on an assistant message",
        ),
    ],
)
def test_what_gemini_cannot_hold_is_named(record: dict[str, Any], expected: str) -> None:
    found = problems(record, "chat", "gemini-2.5-flash")
    assert any(expected in p for p in found), found
    with pytest.raises(NotConvertible):
        to_gemini(record, "chat")


def test_the_validator_reports_them_per_line_and_files_convert_streaming(
    tmp_path: Path,
) -> None:
    def good(i: int) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": "a"},
            ]
        }

    bad = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
            {"role": "assistant", "content": "a"},
        ]
    }
    source = tmp_path / "train.jsonl"
    source.write_text(
        "".join(json.dumps(r) + "\n" for r in [*map(good, range(11)), bad, good(11)])
    )
    report = validate_file(
        source, EstimateTokenizer(), model="gemini-2.5-flash", token_limit=1000, convert=problems
    )
    assert report.counts == {Kind.NOT_CONVERTIBLE.value: 1}
    assert report.shown[0].line == 12
    with pytest.raises(NotConvertible, match="line 12"):
        convert_file(source, tmp_path / "out.jsonl")
    source.write_text("".join(json.dumps(good(i)) + "\n" for i in range(3)))
    seen: list[tuple[int, int]] = []
    digest = convert_file(
        source, tmp_path / "out.jsonl", progress=lambda d, t: seen.append((d, t))
    )
    written = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(written) == 3
    assert json.loads(written[0])["contents"][1]["role"] == "model"
    assert len(digest) == 64
    assert seen[-1][0] == seen[-1][1] == source.stat().st_size
    # Forced past the validator: a broken line goes as it is, for Vertex to refuse.
    source.write_bytes(b'{"messages": [}\n' + json.dumps(good(0)).encode() + b"\n")
    with pytest.raises(NotConvertible, match="line 1"):
        convert_file(source, tmp_path / "out.jsonl")
    convert_file(source, tmp_path / "out.jsonl", strict=False)
    assert (tmp_path / "out.jsonl").read_bytes().startswith(b'{"messages": [}\n')
