"""Provider layer: canonical training lines (OpenAI chat, OpenAI's DPO shape) to Gemini's form.

Pure and streaming: `problems` is the profile's per-line check the validator runs before any
upload (what Gemini's form cannot hold, one sentence each with the fix), `to_gemini` writes one
line, `from_gemini` reads one back (the property tests' round trip), and `convert_file` writes a
whole file line by line in bounded memory.

Gemini's tuning lines: `{"systemInstruction": {"parts": [{"text"}]}, "contents": [{"role":
"user" | "model", "parts": [...]}], "tools": [{"functionDeclarations": [...]}]}`; a tool call is
a `functionCall` part of a model turn, its result a `functionResponse` part of a user turn.
Preference lines (the published example spells the instruction in snake case):
`{"system_instruction", "contents": [... ending with a user turn],
"completions": [{"score": 1, "completion": {"role": "model", "parts": [...]}}, {"score": 0,
...}]}`, text only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from handlers.datasets.formats import CHECKS, Format, format_of

CHAT: Final = "chat"
PREFERENCE: Final = "preference"
_ROLE_TO_GEMINI: Final = {"user": "user", "assistant": "model", "tool": "user"}
_SYSTEM_ROLES: Final = frozenset({"system", "developer"})


class NotConvertible(ValueError):
    """A line Gemini's form cannot hold (the validator reports these before any upload)."""


def problems(record: Mapping[str, object], data_format: str, model: str) -> list[str]:
    """Why this valid canonical example cannot be written as a Gemini tuning line ([] if it
    can): the profile's `converts`."""
    what = model or "Gemini tuning"
    if data_format == PREFERENCE:
        return _preference_problems(record, what)
    if data_format != CHAT:
        return [f"{data_format} examples; {what} trains on chat or preference files only"]
    messages = record.get("messages")
    assert isinstance(messages, list)
    found = _message_problems(messages, what)
    if "functions" in record:
        found.append("legacy 'functions'; declare them under 'tools' for Gemini")
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") != "assistant":
        found.append("the last message is not the assistant's; Gemini learns the final model turn")
    return found


def _message_problems(messages: Sequence[object], what: str) -> list[str]:
    found: list[str] = []
    seen_turn = False
    for message in messages:
        assert isinstance(message, dict)
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            if seen_turn:
                found.append(
                    "a system message after the conversation began; Gemini takes one system "
                    "instruction, first"
                )
        elif role == "function":
            found.append("a legacy 'function' message; use tool_calls and a 'tool' message")
        else:
            seen_turn = True
        if message.get("function_call") is not None:
            found.append("a legacy function_call; use tool_calls")
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text":
                    found.append(f"an {kind or 'unknown'} part; {what} takes text only here")
                    break
        if role in ("user", "assistant") and not content and not message.get("tool_calls"):
            found.append("an empty message; Gemini needs text or a tool call in every turn")
        weight = message.get("weight")
        if weight is not None and weight != 1:
            found.append(
                "weight 0 on an assistant message; Gemini trains on every model turn: drop the "
                "turn or the weight"
            )
    system = [m for m in messages if isinstance(m, dict) and m.get("role") in _SYSTEM_ROLES]
    if len(system) > 1:
        found.append("several system messages; Gemini takes one system instruction: join them")
    return list(dict.fromkeys(found))


def _preference_problems(record: Mapping[str, object], what: str) -> list[str]:
    given = record.get("input")
    assert isinstance(given, dict)
    messages = given.get("messages")
    assert isinstance(messages, list)
    found = _message_problems(messages, what)
    turns = [m for m in messages if isinstance(m, dict) and m.get("role") not in _SYSTEM_ROLES]
    if not turns or turns[-1].get("role") != "user":
        found.append("the input does not end with a user message; Gemini scores replies to one")
    if given.get("tools"):
        found.append("tools in a preference example; Gemini's preference tuning is text only")
    for key in ("preferred_output", "non_preferred_output"):
        output = record.get(key)
        assert isinstance(output, list)
        for message in output:
            assert isinstance(message, dict)
            if message.get("tool_calls"):
                found.append(f"a tool call in {key}; Gemini's preference tuning is text only")
            content = message.get("content")
            if not isinstance(content, str) and not _texts_only(content):
                found.append(f"a non-text part in {key}; {what} takes text only here")
    return list(dict.fromkeys(found))


def _texts_only(content: object) -> bool:
    return isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    )


# ---------------------------------------------------------------------------- canonical -> Gemini


def to_gemini(record: Mapping[str, Any], data_format: str) -> dict[str, Any]:
    """One canonical example as a Gemini tuning line; NotConvertible if `problems` has any."""
    found = problems(record, data_format, "")
    if found:
        raise NotConvertible(found[0])
    if data_format == PREFERENCE:
        given = record["input"]
        line = _conversation(given["messages"], instruction_key="system_instruction")
        line["completions"] = [
            {"score": score, "completion": _turn(record[key][0], {})}
            for key, score in (("preferred_output", 1), ("non_preferred_output", 0))
        ]
        return line
    line = _conversation(record["messages"])
    tools = record.get("tools")
    if tools:
        line["tools"] = [{"functionDeclarations": [_declaration(t) for t in tools]}]
    return line


def _conversation(
    messages: Sequence[Mapping[str, Any]], *, instruction_key: str = "systemInstruction"
) -> dict[str, Any]:
    line: dict[str, Any] = {}
    names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role in _SYSTEM_ROLES:
            instruction: dict[str, Any] = {"parts": _text_parts(message.get("content"))}
            if role == "developer":
                instruction["role"] = "developer"
            line[instruction_key] = instruction
            continue
        turn = _turn(message, names)
        if role == "tool" and contents and _results_only(contents[-1]):
            contents[-1]["parts"].extend(turn["parts"])  # parallel results: one user turn
        else:
            contents.append(turn)
    line["contents"] = contents
    return line


def _results_only(turn: Mapping[str, Any]) -> bool:
    parts = turn["parts"]
    return bool(parts) and all("functionResponse" in p for p in parts)


def _turn(message: Mapping[str, Any], names: dict[str, str]) -> dict[str, Any]:
    role = message["role"]
    if role == "tool":
        call_id = message.get("tool_call_id") or ""
        response: dict[str, Any] = {"name": names.get(call_id, "tool"), "id": call_id}
        response["response"] = {"content": message.get("content") or ""}
        return {"role": "user", "parts": [{"functionResponse": response}]}
    parts = _text_parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call["function"]
        names[call["id"]] = function["name"]
        parts.append(
            {
                "functionCall": {
                    "id": call["id"],
                    "name": function["name"],
                    "args": _arguments(function.get("arguments")),
                }
            }
        )
    turn: dict[str, Any] = {"role": _ROLE_TO_GEMINI[role], "parts": parts}
    return turn


def _text_parts(content: object) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    assert isinstance(content, list)
    return [{"text": part["text"]} for part in content]


def _arguments(raw: object) -> dict[str, Any]:
    """A call's arguments as Gemini's object: OpenAI sends them as a JSON string."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"_raw": raw}
        return parsed if isinstance(parsed, dict) else {"_value": parsed}
    return raw if isinstance(raw, dict) else {}


def _declaration(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    declared: dict[str, Any] = {"name": function.get("name", "")}
    if "description" in function:
        declared["description"] = function["description"]
    if "parameters" in function:
        declared["parameters"] = function["parameters"]
    return declared


# ---------------------------------------------------------------------------- Gemini -> canonical


def from_gemini(line: Mapping[str, Any], data_format: str) -> dict[str, Any]:
    """A Gemini tuning line back in the canonical form (the round trip of `to_gemini`)."""
    messages: list[dict[str, Any]] = []
    instruction = line.get("systemInstruction") or line.get("system_instruction")
    if instruction is not None:
        messages.append(
            {
                "role": instruction.get("role", "system"),
                "content": _joined(instruction.get("parts", [])),
            }
        )
    for turn in line.get("contents", []):
        messages.extend(_messages_of(turn))
    if data_format == PREFERENCE:
        outputs = {c["score"]: c["completion"] for c in line.get("completions", [])}
        return {
            "input": {"messages": messages},
            "preferred_output": _messages_of(outputs[1]),
            "non_preferred_output": _messages_of(outputs[0]),
        }
    record: dict[str, Any] = {"messages": messages}
    for group in line.get("tools", []):
        record.setdefault("tools", []).extend(
            {"type": "function", "function": d} for d in group.get("functionDeclarations", [])
        )
    return record


def _messages_of(turn: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts = turn.get("parts", [])
    responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
    if responses:
        return [
            {
                "role": "tool",
                "tool_call_id": r.get("id", ""),
                "content": r.get("response", {}).get("content", ""),
            }
            for r in responses
        ]
    texts = [p["text"] for p in parts if "text" in p]
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    role = "assistant" if turn.get("role") == "model" else "user"
    message: dict[str, Any] = {"role": role, "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = [
            {
                "id": c.get("id", ""),
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("args", {}))},
            }
            for c in calls
        ]
    return [message]


def _joined(parts: Sequence[Mapping[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts)


# ---------------------------------------------------------------------------- files


def convert_lines(lines: Iterator[bytes], *, strict: bool = True) -> Iterator[bytes]:
    """Each canonical JSONL line as a Gemini line (blank lines dropped), its format found per
    line. A valid example Gemini's form cannot hold raises NotConvertible naming the line; a
    line that is no valid example at all raises too when `strict`, else goes as it is (an
    upload forced past the validator: Vertex refuses it while processing the dataset)."""
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            continue
        record = _example(text)
        if record is None:
            if strict:
                raise NotConvertible(f"line {number}: not a valid chat or preference example")
            yield text + b"\n"
            continue
        found, data_format = record
        try:
            converted = to_gemini(found, data_format)
        except NotConvertible as error:
            raise NotConvertible(f"line {number}: {error}") from None
        yield json.dumps(converted, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _example(text: bytes) -> tuple[dict[str, Any], str] | None:
    """The line's example and its format, if the validator would take it as one."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    data_format = format_of(record)
    if data_format not in (Format.CHAT, Format.PREFERENCE) or not isinstance(record, dict):
        return None
    if isinstance(CHECKS[data_format](len, record), list):
        return None
    return record, data_format.value


def convert_file(
    source: Path,
    target: Path,
    *,
    strict: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Write `source` (canonical JSONL) as Gemini JSONL to `target`, one line at a time;
    the sha256 of what was written."""
    digest = hashlib.sha256()
    total = source.stat().st_size
    done = 0
    with source.open("rb") as reading, target.open("wb") as writing:

        def counted() -> Iterator[bytes]:
            nonlocal done
            for raw in reading:
                done += len(raw)
                yield raw

        for line in convert_lines(counted(), strict=strict):
            digest.update(line)
            writing.write(line)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()
