"""Core layer: the four data formats: which one a record is, its schema rules, its token totals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Final

from handlers.datasets.problems import Kind
from handlers.text import clip
from handlers.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    chat_tokens,
    json_tokens,
    value_tokens,
)


class Format(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"
    PREFERENCE = "preference"
    REINFORCEMENT = "reinforcement"


Count = Callable[[str], int]
"""Tokens in one text, for the model being validated against."""

Checked = list[tuple[Kind, str]] | tuple[int, int, int]
"""A list of problems, or (tokens, messages, assistant tokens) of a valid example."""

Check = Callable[[Count, dict[str, object]], Checked]
"""One format's rules over one parsed line."""

SHOWN_CHARS: Final = 30
"""A key or value quoted in a problem is clipped to this: the line number finds the rest."""

_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_CHAT_KEYS: Final = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
_INPUT_KEYS: Final = frozenset({"messages", "tools", "parallel_tool_calls"})
_PREFERENCE_KEYS: Final = frozenset({"input", "preferred_output", "non_preferred_output"})
_MESSAGE_KEYS: Final = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
)
_PART_TYPES: Final = frozenset({"text", "image_url", "input_audio", "file"})
_HINT_CHAT: Final = "(a chat example has messages, tools, functions, parallel_tool_calls)"


def format_of(record: object) -> Format | None:
    """The format one example looks like."""
    if not isinstance(record, dict):
        return None
    if "input" in record or "preferred_output" in record or "non_preferred_output" in record:
        return Format.PREFERENCE
    if "messages" in record:
        extra = set(record) - _CHAT_KEYS
        return Format.REINFORCEMENT if extra else Format.CHAT
    if "prompt" in record or "completion" in record:
        return Format.COMPLETION
    return None


def check_chat(count: Count, record: dict[str, object]) -> Checked:
    problems: list[tuple[Kind, str]] = []
    for key in record:
        if key not in _CHAT_KEYS:
            problems.append(
                (Kind.UNKNOWN_KEY, f"unknown key {clip(key, SHOWN_CHARS)!r} {_HINT_CHAT}")
            )
    messages = _messages(record, "messages", problems)
    _tools(record, problems)
    if messages is None or problems:
        return problems
    assistant = _check_messages(messages, problems, need_assistant=True)
    if problems:
        return problems
    return _chat_totals(count, record, messages, assistant)


def check_reinforcement(count: Count, record: dict[str, object]) -> Checked:
    problems: list[tuple[Kind, str]] = []
    messages = _messages(record, "messages", problems)
    _tools(record, problems)
    if messages is None or problems:
        return problems
    assistant = _check_messages(messages, problems, need_assistant=False)
    if problems:
        return problems
    return _chat_totals(count, record, messages, assistant)


def check_preference(count: Count, record: dict[str, object]) -> Checked:
    problems: list[tuple[Kind, str]] = []
    for key in record:
        if key not in _PREFERENCE_KEYS:
            problems.append(
                (
                    Kind.UNKNOWN_KEY,
                    f"unknown key {clip(key, SHOWN_CHARS)!r} (a preference example has input, "
                    "preferred_output and non_preferred_output)",
                )
            )
    given = record.get("input")
    messages: list[object] | None = None
    if given is None:
        problems.append((Kind.MISSING_KEY, "no 'input' (an object with 'messages')"))
    elif not isinstance(given, dict):
        problems.append((Kind.WRONG_TYPE, f"'input' must be an object, not {json_kind(given)}"))
    else:
        for key in given:
            if key not in _INPUT_KEYS:
                problems.append(
                    (Kind.UNKNOWN_KEY, f"unknown key {clip(key, SHOWN_CHARS)!r} in 'input'")
                )
        messages = _messages(given, "messages", problems, where="input.")
        _tools(given, problems)
        if messages is not None:
            _check_messages(messages, problems, need_assistant=False)
    outputs: list[list[object]] = []
    for key in ("preferred_output", "non_preferred_output"):
        output = _messages(record, key, problems)
        if output is None:
            continue
        assistant = _check_messages(output, problems, need_assistant=True, where=f"{key} ")
        if len(output) != 1 or len(assistant) != 1:
            problems.append((Kind.WRONG_TYPE, f"'{key}' must hold exactly one assistant message"))
        outputs.append(output)
    if problems or messages is None:
        return problems
    tokens = chat_tokens(count, messages)
    assistant_tokens = 0
    for output in outputs:
        tokens += chat_tokens(count, output) - REPLY_PRIMING_TOKENS
        for message in output:
            assert isinstance(message, dict)
            assistant_tokens += value_tokens(count, message.get("content"))
    return tokens, len(messages) + 2, assistant_tokens


def check_completion(count: Count, record: dict[str, object]) -> Checked:
    problems: list[tuple[Kind, str]] = []
    for key in record:
        if key not in ("prompt", "completion"):
            problems.append(
                (
                    Kind.UNKNOWN_KEY,
                    f"unknown key {clip(key, SHOWN_CHARS)!r} (a completion example has prompt and "
                    "completion)",
                )
            )
    texts: list[str] = []
    for key in ("prompt", "completion"):
        value = record.get(key)
        if value is None:
            problems.append((Kind.MISSING_KEY, f"no '{key}'"))
        elif not isinstance(value, str):
            problems.append((Kind.WRONG_TYPE, f"'{key}' must be a string, not {json_kind(value)}"))
        else:
            texts.append(value)
    if not problems and not texts[1].strip():
        problems.append((Kind.EMPTY_CONTENT, "'completion' is empty"))
    if problems:
        return problems
    prompt, completion = (count(t) if t else 0 for t in texts)
    return prompt + completion, 1, completion


CHECKS: Final[Mapping[Format, Check]] = {
    Format.CHAT: check_chat,
    Format.REINFORCEMENT: check_reinforcement,
    Format.PREFERENCE: check_preference,
    Format.COMPLETION: check_completion,
}


def _chat_totals(
    count: Count, record: Mapping[str, object], messages: list[object], assistant: list[object]
) -> tuple[int, int, int]:
    """chat_tokens' arithmetic, with the common {"role", "content": text} shape inlined."""
    tokens = REPLY_PRIMING_TOKENS
    assistant_tokens = 0
    for message in messages:
        assert isinstance(message, dict)
        content = message.get("content")
        role = message.get("role")
        if len(message) == 2 and type(content) is str and type(role) is str:
            n = count(content)
            tokens += TOKENS_PER_MESSAGE + count(role) + n
            if role == "assistant":
                assistant_tokens += n
            continue
        tokens += chat_tokens(count, [message]) - REPLY_PRIMING_TOKENS
        if role == "assistant":
            if content:
                assistant_tokens += value_tokens(count, content)
            calls = message.get("tool_calls")
            if calls:
                assistant_tokens += json_tokens(count, calls)
    for key in ("tools", "functions"):
        value = record.get(key)
        if value:
            tokens += json_tokens(count, value)
    return tokens, len(messages), assistant_tokens


def _messages(
    record: Mapping[str, object],
    key: str,
    problems: list[tuple[Kind, str]],
    *,
    where: str = "",
) -> list[object] | None:
    value = record.get(key)
    if value is None:
        problems.append((Kind.MISSING_KEY, f"no '{where}{key}' list"))
        return None
    if not isinstance(value, list):
        problems.append(
            (Kind.WRONG_TYPE, f"'{where}{key}' must be a list, not {json_kind(value)}")
        )
        return None
    if not value:
        problems.append((Kind.MISSING_KEY, f"'{where}{key}' is empty"))
        return None
    return value


def _tools(record: Mapping[str, object], problems: list[tuple[Kind, str]]) -> None:
    for key in ("tools", "functions"):
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            problems.append((Kind.WRONG_TYPE, f"'{key}' must be a list, not {json_kind(value)}"))
            continue
        for index, tool in enumerate(value, start=1):
            if not isinstance(tool, dict):
                problems.append(
                    (Kind.WRONG_TYPE, f"{key}[{index}] must be an object, not {json_kind(tool)}")
                )
    parallel = record.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        problems.append(
            (
                Kind.WRONG_TYPE,
                f"'parallel_tool_calls' must be true or false, not {json_kind(parallel)}",
            )
        )


def _check_messages(
    messages: list[object],
    problems: list[tuple[Kind, str]],
    *,
    need_assistant: bool,
    where: str = "",
) -> list[object]:
    """Check each message; returns the assistant messages."""
    assistant: list[object] = []
    for index, message in enumerate(messages, start=1):
        # The common shape, {"role": ..., "content": "text"}, is settled in a few lookups.
        if type(message) is dict and len(message) == 2:
            role = message.get("role")
            content = message.get("content")
            if type(content) is str and content and not content.isspace() and role in _ROLES:
                if role == "assistant":
                    assistant.append(message)
                continue
        at = f"{where}message {index}"
        if not isinstance(message, dict):
            problems.append((Kind.WRONG_TYPE, f"{at} must be an object, not {json_kind(message)}"))
            continue
        for key in message:
            if key not in _MESSAGE_KEYS:
                problems.append(
                    (Kind.UNKNOWN_KEY, f"{at} has an unknown key {clip(key, SHOWN_CHARS)!r}")
                )
        role = message.get("role")
        if role is None:
            problems.append((Kind.MISSING_KEY, f"{at} has no 'role'"))
            continue
        if not isinstance(role, str):
            problems.append(
                (Kind.WRONG_TYPE, f"{at}: 'role' must be a string, not {json_kind(role)}")
            )
            continue
        if role not in _ROLES:
            problems.append(
                (
                    Kind.UNKNOWN_ROLE,
                    f"{at} has the unknown role {clip(role, SHOWN_CHARS)!r} (system, developer, "
                    "user, assistant, tool)",
                )
            )
            continue
        if role == "assistant":
            assistant.append(message)
        calls = message.get("tool_calls") or message.get("function_call")
        _content(message.get("content"), at, role, calls is not None, problems)
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            problems.append(
                (Kind.WRONG_TYPE, f"{at}: 'name' must be a string, not {json_kind(name)}")
            )
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                problems.append((Kind.UNKNOWN_KEY, f"{at}: 'weight' only applies to assistant"))
            elif type(weight) is not int or weight not in (0, 1):
                problems.append(
                    (
                        Kind.WRONG_TYPE,
                        f"{at}: 'weight' must be 0 or 1, not {clip(str(weight), SHOWN_CHARS)}",
                    )
                )
        if "tool_calls" in message:
            _tool_calls(message["tool_calls"], at, role, problems)
        call_id = message.get("tool_call_id")
        if call_id is not None and not isinstance(call_id, str):
            problems.append(
                (
                    Kind.WRONG_TYPE,
                    f"{at}: 'tool_call_id' must be a string, not {json_kind(call_id)}",
                )
            )
    if need_assistant and not assistant and not problems:
        problems.append(
            (Kind.MISSING_ASSISTANT, f"no assistant message in {where or ''}messages".strip())
        )
    return assistant


def _content(
    content: object, at: str, role: str, has_calls: bool, problems: list[tuple[Kind, str]]
) -> None:
    if content is None:
        if not (role == "assistant" and has_calls):
            problems.append((Kind.MISSING_KEY, f"{at} ({role}) has no 'content'"))
        return
    if isinstance(content, str):
        if (not content or content.isspace()) and not has_calls:
            problems.append((Kind.EMPTY_CONTENT, f"{at} ({role}) has empty content"))
        return
    if not isinstance(content, list):
        problems.append(
            (
                Kind.WRONG_TYPE,
                f"{at}: 'content' must be a string or a list of parts, not {json_kind(content)}",
            )
        )
        return
    if not content:
        problems.append((Kind.EMPTY_CONTENT, f"{at} ({role}) has an empty list of parts"))
        return
    for number, part in enumerate(content, start=1):
        if not isinstance(part, dict):
            problems.append(
                (Kind.WRONG_TYPE, f"{at} part {number} must be an object, not {json_kind(part)}")
            )
            continue
        kind = part.get("type")
        if kind not in _PART_TYPES:
            problems.append(
                (
                    Kind.WRONG_TYPE,
                    f"{at} part {number} has an unknown type {clip(str(kind), SHOWN_CHARS)!r}",
                )
            )
        elif kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                problems.append((Kind.WRONG_TYPE, f"{at} part {number}: 'text' must be a string"))
            elif not text or text.isspace():
                problems.append((Kind.EMPTY_CONTENT, f"{at} part {number} has empty text"))


def _tool_calls(calls: object, at: str, role: str, problems: list[tuple[Kind, str]]) -> None:
    if role != "assistant":
        problems.append((Kind.UNKNOWN_KEY, f"{at}: only assistant messages have 'tool_calls'"))
        return
    if not isinstance(calls, list):
        problems.append(
            (Kind.WRONG_TYPE, f"{at}: 'tool_calls' must be a list, not {json_kind(calls)}")
        )
        return
    for number, call in enumerate(calls, start=1):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            problems.append(
                (Kind.WRONG_TYPE, f"{at} tool call {number} needs a 'function' object")
            )
            continue
        if not isinstance(function.get("name"), str) or not isinstance(
            function.get("arguments"), str
        ):
            problems.append(
                (
                    Kind.WRONG_TYPE,
                    f"{at} tool call {number}: function 'name' and 'arguments' must be strings",
                )
            )


def json_kind(value: object) -> str:
    """What a parsed JSON value is, as a problem names it: "a list", "null", "true/false"."""
    match value:
        case bool():
            return "true/false"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
        case None:
            return "null"
    return type(value).__name__  # pragma: no cover - json yields only the kinds above
