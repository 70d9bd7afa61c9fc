"""Core layer: chat-format token arithmetic (per-message overhead) over the Tokenizer port."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from handlers.ports import Tokenizer

TOKENS_PER_MESSAGE = 3
"""Every message is wrapped as <|start|>{role}<|message|>{content}<|end|> (OpenAI's cookbook)."""

TOKENS_PER_NAME = 1
"""A `name` field costs one token more than its text."""

REPLY_PRIMING_TOKENS = 3
"""Every conversation is primed with <|start|>assistant<|message|>."""

_NOT_SENT_TO_MODEL = frozenset({"weight"})
"""Training-control keys of the fine-tuning format that never reach the model's context."""


def count_chat_tokens(
    tokenizer: Tokenizer, messages: Sequence[Mapping[str, object]], *, model: str
) -> int:
    """Tokens a chat conversation occupies, by OpenAI's documented per-message overhead.

    Exact for plain string contents when `tokenizer.exact`; structured values (content parts,
    tool calls) are counted on their text or compact JSON, a close estimate.
    """
    return chat_tokens(lambda text: tokenizer.count(text, model=model), messages)


def chat_tokens(count: Callable[[str], int], messages: Sequence[object]) -> int:
    """`count_chat_tokens` over a bare counting function (the validator's hot path)."""
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        if not isinstance(message, Mapping):
            continue
        for key, value in message.items():
            if key in _NOT_SENT_TO_MODEL:
                continue
            if type(value) is str:
                total += count(value) if value else 0
            else:
                total += value_tokens(count, value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total + REPLY_PRIMING_TOKENS


def value_tokens(count: Callable[[str], int], value: object) -> int:
    """Tokens of one JSON value: text as is, content parts by their text, the rest as JSON."""
    match value:
        case None | bool() | int() | float():
            return 0
        case str():
            return count(value) if value else 0
        case list() | tuple():
            return sum(_part_tokens(count, part) for part in value)
        case _:
            return json_tokens(count, value)


def _part_tokens(count: Callable[[str], int], part: object) -> int:
    if isinstance(part, Mapping) and part.get("type") == "text":
        text = part.get("text")
        if isinstance(text, str):
            return count(text) if text else 0
    if isinstance(part, str):
        return count(part) if part else 0
    return json_tokens(count, part)


def json_tokens(count: Callable[[str], int], value: object) -> int:
    """Tokens of a structured value (tool calls, tool schemas) written as compact JSON."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return 0  # unserialisable or absurdly deep: the validator reports it elsewhere
    return count(text) if text else 0


def count_text_tokens(tokenizer: Tokenizer, text: str, *, model: str) -> int:
    """Tokens of one plain string, e.g. a completion or a preference answer."""
    return tokenizer.count(text, model=model) if text else 0
