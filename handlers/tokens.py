"""Core layer: chat-format token arithmetic (per-message overhead) over the Tokenizer port."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

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
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key in _NOT_SENT_TO_MODEL:
                continue
            total += _count_value(tokenizer, value, model=model)
            if key == "name":
                total += TOKENS_PER_NAME
    return total + REPLY_PRIMING_TOKENS


def count_text_tokens(tokenizer: Tokenizer, text: str, *, model: str) -> int:
    """Tokens of one plain string, e.g. a completion or a preference answer."""
    return tokenizer.count(text, model=model) if text else 0


def _count_value(tokenizer: Tokenizer, value: object, *, model: str) -> int:
    match value:
        case None | bool() | int() | float():
            return 0
        case str():
            return count_text_tokens(tokenizer, value, model=model)
        case list() | tuple():
            return sum(_count_part(tokenizer, part, model=model) for part in value)
        case _:
            return _count_json(tokenizer, value, model=model)


def _count_part(tokenizer: Tokenizer, part: object, *, model: str) -> int:
    """A content part: {"type": "text", "text": ...} counts its text; others their JSON."""
    if isinstance(part, Mapping) and part.get("type") == "text":
        text = part.get("text")
        if isinstance(text, str):
            return count_text_tokens(tokenizer, text, model=model)
    if isinstance(part, str):
        return count_text_tokens(tokenizer, part, model=model)
    return _count_json(tokenizer, part, model=model)


def _count_json(tokenizer: Tokenizer, value: object, *, model: str) -> int:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return count_text_tokens(tokenizer, text, model=model)
