"""Core layer: chat completion values: messages, one answer, and a stored (logged) completion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResult:
    """One answer; `latency_s` is measured by the provider around its call (the core has no
    clock of its own), or simulated by the sandbox."""

    id: str
    model: str
    content: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCompletion:
    """A completion the provider kept (`store=true`): the request's messages and the answer."""

    id: str
    model: str
    created_at: datetime
    metadata: tuple[tuple[str, str], ...]
    messages: tuple[ChatMessage, ...]
    answer: str


def messages_of(*pairs: tuple[str, str]) -> tuple[ChatMessage, ...]:
    """`messages_of(("system", s), ("user", u))`: a short way to write a prompt."""
    return tuple(ChatMessage(role=role, content=content) for role, content in pairs)
