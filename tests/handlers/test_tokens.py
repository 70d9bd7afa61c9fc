"""Tests for handlers/tokens.py: OpenAI's per-message overhead over a hand-written tokenizer."""

from __future__ import annotations

from collections.abc import Callable

from handlers.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    count_chat_tokens,
    count_text_tokens,
)


class WordTokenizer:
    """One token per whitespace-separated word; records the models it was asked about."""

    def __init__(self) -> None:
        self.models: list[str] = []

    @property
    def exact(self) -> bool:
        return True

    def count(self, text: str, *, model: str) -> int:
        self.models.append(model)
        return len(text.split())

    def counter(self, model: str) -> Callable[[str], int]:
        return lambda text: self.count(text, model=model)


def test_empty_conversation_is_only_reply_priming() -> None:
    assert count_chat_tokens(WordTokenizer(), [], model="m") == REPLY_PRIMING_TOKENS == 3


def test_overhead_per_message_and_name() -> None:
    tokenizer = WordTokenizer()
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "name": "dana", "content": "reset my password please"},
        {"role": "assistant", "content": "Use the Forgot password link."},
    ]
    words = (1 + 2) + (1 + 1 + 4) + (1 + 5)
    expected = 3 * TOKENS_PER_MESSAGE + words + 1 + REPLY_PRIMING_TOKENS
    assert count_chat_tokens(tokenizer, messages, model="gpt-4o") == expected
    assert set(tokenizer.models) == {"gpt-4o"}


def test_weight_and_non_text_scalars_are_free() -> None:
    messages = [{"role": "assistant", "content": "ok", "weight": 0, "refusal": None}]
    assert count_chat_tokens(WordTokenizer(), messages, model="m") == 3 + 1 + 1 + 3


def test_content_parts_count_their_text() -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "two words"}, {"type": "text", "text": "x"}],
        }
    ]
    assert count_chat_tokens(WordTokenizer(), messages, model="m") == 3 + 1 + 3 + 3


def test_tool_calls_count_as_compact_json() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [{"role": "assistant", "tool_calls": [call]}]
    # compact JSON has no spaces: one "word"
    assert count_chat_tokens(WordTokenizer(), messages, model="m") == 3 + 1 + 1 + 3


def test_empty_text_costs_nothing() -> None:
    assert count_text_tokens(WordTokenizer(), "", model="m") == 0
