"""Providers: canonical (OpenAI chat) JSONL to Bedrock's training data, line by line, and back.

A line the converter cannot read as JSON is not its to judge (the validator names it at
upload) and passes as it came, so Bedrock's own data check fails the job on it with its
message. A valid example Bedrock cannot take (an image for a text-only model, several turns
for a single-turn one, a tool call) is a ConversionProblem with its line number; nothing is
written for it, and the caller stages nothing while there is one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from bot.providers.bedrock.models import BASE_MODELS, BaseModel, DataFormat
from handlers.datasets.reader import read_lines
from handlers.text import count

SCHEMA_VERSION: Final = "bedrock-conversation-2024"
MAX_PROBLEMS_SHOWN: Final = 5
_MESSAGE_KEYS: Final = frozenset({"role", "content"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversionProblem:
    """One example Bedrock cannot take for the model, with what to do about it."""

    line: int
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    """What converting one file gave: its lines written, their bytes and sha256, problems."""

    lines: int = 0
    bytes: int = 0
    sha256: str = ""
    problems: tuple[ConversionProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, model: BaseModel) -> str:
        """One message naming the first few problems and the fix (a reply's text)."""
        shown = "; ".join(str(p) for p in self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        tail = f" (and {more} more)" if more > 0 else ""
        return (
            f"{count(len(self.problems), 'example')} cannot be expressed for {model.label} on "
            f"Bedrock: {shown}{tail}. Fix those lines (or pick a model that takes them) and "
            "upload the file again; nothing was staged or started."
        )


class _Refused(Exception):
    """One example's reason it cannot be converted."""


# -- canonical -> Bedrock ---------------------------------------------------------------------


def convert_record(record: object, model: BaseModel) -> dict[str, object]:
    """One canonical example (chat `messages`, or `prompt`/`completion`) in the model's shape;
    raises _Refused with the reason when Bedrock cannot express it."""
    if not isinstance(record, dict):
        raise _Refused("an example is a JSON object")
    if "messages" in record:
        extra = sorted(set(record) - {"messages"})
        if extra:
            raise _Refused(f"Bedrock training data has no {', '.join(extra)[:60]}: remove the key")
        system, turns = _turns(record["messages"], model)
    elif set(record) == {"prompt", "completion"}:
        prompt, completion = record["prompt"], record["completion"]
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise _Refused("prompt and completion are text")
        system, turns = [], [("user", [prompt]), ("assistant", [completion])]
    else:
        raise _Refused("an example has messages, or a prompt and a completion")
    if model.data is DataFormat.PROMPT_COMPLETION:
        return _prompt_completion(system, turns, model)
    return _conversation(system, turns, model)


def _turns(messages: object, model: BaseModel) -> tuple[list[str], list[tuple[str, list[str]]]]:
    if not isinstance(messages, list) or not messages:
        raise _Refused("messages is a list of at least two messages")
    system: list[str] = []
    turns: list[tuple[str, list[str]]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise _Refused("each message is a JSON object")
        extra = sorted(set(message) - _MESSAGE_KEYS)
        if extra:
            raise _Refused(
                f"a message's {', '.join(extra)[:60]} has no place in Bedrock training data "
                "(tool calls, names and weights are not carried): remove it"
            )
        role = message.get("role")
        texts = _texts(message.get("content"), model)
        if role in ("system", "developer"):
            if system:
                raise _Refused("two system messages: Bedrock takes one system text; join them")
            if turns:
                raise _Refused(
                    "a system message after the conversation started: Bedrock takes system "
                    "text only before the first user message; move it to the start"
                )
            system.extend(texts)
        elif role in ("user", "assistant"):
            turns.append((str(role), texts))
        else:
            raise _Refused(
                f"a {str(role)[:20]!r} message: Bedrock conversations have user and "
                "assistant turns only"
            )
    _check_order(turns, model)
    return system, turns


def _texts(content: object, model: BaseModel) -> list[str]:
    if isinstance(content, str):
        parts = [content]
    elif isinstance(content, list):
        parts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif kind == "image_url":
                raise _Refused(
                    "an image part: the bot sends Bedrock text only (Bedrock reads training "
                    "images from S3, which the bot does not stage); remove the image"
                )
            else:
                raise _Refused(f"a {str(kind)[:20]!r} content part: Bedrock takes text parts")
    else:
        raise _Refused("a message without text content")
    if not parts or any(not p.strip() for p in parts):
        raise _Refused("an empty message: Bedrock refuses empty text; remove or fill it")
    return parts


def _check_order(turns: list[tuple[str, list[str]]], model: BaseModel) -> None:
    roles = [role for role, _ in turns]
    if not roles or roles[0] != "user":
        raise _Refused("the conversation starts with a user message on Bedrock")
    if roles[-1] != "assistant":
        raise _Refused("the conversation ends with the assistant's reply on Bedrock")
    if any(a == b for a, b in itertools.pairwise(roles)):
        raise _Refused("user and assistant messages alternate on Bedrock: merge the repeats")
    if not model.multi_turn and len(roles) > 2:
        raise _Refused(
            f"{len(roles) // 2} turns: {model.label} takes one user message and one reply "
            "per example on Bedrock; split the conversation or use an Amazon Nova model"
        )


def _conversation(
    system: list[str], turns: list[tuple[str, list[str]]], model: BaseModel
) -> dict[str, object]:
    record: dict[str, object] = {"schemaVersion": SCHEMA_VERSION}
    if system:
        record["system"] = [{"text": t} for t in system]
    record["messages"] = [
        {"role": role, "content": [{"text": t} for t in texts]} for role, texts in turns
    ]
    return record


def _prompt_completion(
    system: list[str], turns: list[tuple[str, list[str]]], model: BaseModel
) -> dict[str, object]:
    if system:
        raise _Refused(
            f"a system message: {model.label} is tuned on prompt and completion, which have "
            "no system text; fold it into the user message or remove it"
        )
    (_, prompt), (_, completion) = turns
    if len(prompt) > 1 or len(completion) > 1:
        raise _Refused(
            f"several text parts in one message: {model.label}'s prompt and completion are "
            "one text each; join them"
        )
    return {"prompt": prompt[0], "completion": completion[0]}


ANY_MODEL: Final = BaseModel(
    id="",
    label="any Bedrock model",
    data=DataFormat.CONVERSATION,
    multi_turn=True,
    regions=frozenset(),
    hyperparameters=frozenset(),
)
"""What every Bedrock model asks of an example, for a file whose model is not named yet
(an upload): the model's own limits (one turn, no system text) are checked at the start."""


def problems(example: Mapping[str, object], data_format: str, model: str) -> Sequence[str]:
    """The profile's `converts`: why one valid canonical example cannot be written for
    `model` on Bedrock ("" or an unknown model: what no Bedrock model can take)."""
    if data_format == "preference":
        return [
            "a preference example: Bedrock fine-tunes on conversations only (no DPO); upload "
            "a chat file instead"
        ]
    try:
        convert_record(dict(example), BASE_MODELS.get(model, ANY_MODEL))
    except _Refused as refused:
        return [str(refused)]
    return []


# -- files ------------------------------------------------------------------------------------


def convert_lines(
    lines: Iterable[tuple[int, bytes | int]], model: BaseModel
) -> Iterator[tuple[int, bytes | ConversionProblem]]:
    """(line number, the converted line without its newline, or the problem), streaming;
    blank lines are skipped and unreadable ones pass as they came (see the module's note).
    An int instead of bytes is the length of a line too long to hold (reader.read_lines)."""
    for number, raw in lines:
        if isinstance(raw, int):
            yield (
                number,
                ConversionProblem(
                    line=number, detail=f"a line of {raw} bytes, too long to convert; shorten it"
                ),
            )
            continue
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            yield number, raw
            continue
        try:
            converted = convert_record(record, model)
        except _Refused as refused:
            yield number, ConversionProblem(line=number, detail=str(refused))
            continue
        yield number, json.dumps(converted, ensure_ascii=False).encode()


def convert_file(source: Path, target: BinaryIO | None, model: BaseModel) -> Conversion:
    """Convert `source` into `target` (None: only check) in bounded memory; the sha256 and
    size are of what was written. Every problem is collected, not just the first."""
    digest = hashlib.sha256()
    written = lines = 0
    problems: list[ConversionProblem] = []
    with source.open("rb") as handle:
        size = source.stat().st_size
        readable = ((number, raw) for number, raw, _ in read_lines(handle, 0, size, None, None))
        for _, out in convert_lines(readable, model):
            if isinstance(out, ConversionProblem):
                problems.append(out)
                continue
            if problems:
                continue  # nothing is kept once the file cannot go whole
            chunk = out + b"\n"
            digest.update(chunk)
            written += len(chunk)
            lines += 1
            if target is not None:
                target.write(chunk)
    return Conversion(
        lines=lines, bytes=written, sha256=digest.hexdigest(), problems=tuple(problems)
    )


# -- Bedrock -> canonical (what a converted example means, for checks and `compare`) ----------


def to_canonical(record: dict[str, object]) -> dict[str, object]:
    """A Bedrock training example as the canonical chat example it came from (a text's
    parts: one part is a string, several a list of text parts)."""
    if "prompt" in record:
        return {
            "messages": [
                {"role": "user", "content": record["prompt"]},
                {"role": "assistant", "content": record["completion"]},
            ]
        }
    messages: list[dict[str, object]] = []
    system = record.get("system")
    if isinstance(system, list) and system:
        messages.append({"role": "system", "content": _joined(system)})
    turns = record.get("messages")
    assert isinstance(turns, list)
    for turn in turns:
        messages.append({"role": turn["role"], "content": _joined(turn["content"])})
    return {"messages": messages}


def _joined(blocks: list[dict[str, str]]) -> object:
    if len(blocks) == 1:
        return blocks[0]["text"]
    return [{"type": "text", "text": b["text"]} for b in blocks]


__all__ = [
    "SCHEMA_VERSION",
    "Conversion",
    "ConversionProblem",
    "convert_file",
    "convert_lines",
    "convert_record",
    "problems",
    "to_canonical",
]
