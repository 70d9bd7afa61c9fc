"""Core layer: the labelled token estimate used when no tokenizer is given (no encodings)."""

from __future__ import annotations

import math
from collections.abc import Callable


def estimate_tokens(text: str) -> int:
    """About four UTF-8 bytes per token, rounded up."""
    return math.ceil(len(text.encode("utf-8", errors="surrogatepass")) / 4)


class EstimateTokenizer:
    """The Tokenizer port by estimate: `exact` is False, so every count says "estimate"."""

    @property
    def exact(self) -> bool:
        return False

    def count(self, text: str, *, model: str) -> int:
        return estimate_tokens(text)

    def counter(self, model: str) -> Callable[[str], int]:
        return estimate_tokens
