"""Provider adapter: the sandbox's simulated chat answers, kept file contents and stored log.

Deterministic on purpose: the same model and prompt always give the same answer, tokens and
latency, so a comparison in a test or the demo reads the same every run. A base model answers
generically (now and then a near-miss of the reference, in other casing); a fine-tuned model
has "learnt" its training file (it repeats those answers for prompts it has seen) and
generalises to its validation file most of the time. Nothing here is a real model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from handlers.chat import ChatMessage, ChatResult, StoredCompletion

MAX_KEPT_BYTES: Final = 64 << 20
"""Files above this are not kept in memory: their content and answers are not simulated."""
MAX_STORED: Final = 100_000
SEEN_RATE: Final = 0.95
"""How often a fine-tuned model repeats the answer of a prompt it trained on."""
GENERALISE_RATE: Final = 0.7
"""How often it gives the reference answer of a validation prompt it never trained on."""
GRADER_MARK: Final = "You grade an answer against a reference answer"
"""A system message starting so is answered as a grader: a whole number from 0 to 10."""
NEAR_MISS_RATE: Final = 0.15
"""How often any model gives the reference in other casing and punctuation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Learnt:
    """What a fine-tuned model answers from: its training and validation files' file ids."""

    model: str
    base: str
    training_file: str
    validation_file: str | None


def prompt_key(messages: Sequence[ChatMessage]) -> str:
    """The last user message, lower-cased with its whitespace collapsed."""
    for message in reversed(messages):
        if message.role == "user":
            return " ".join(message.content.lower().split())
    return ""


def count_tokens(text: str) -> int:
    """About four characters a token, at least one: enough for simulated usage."""
    return max(1, (len(text) + 3) // 4)


def answers_of(content: bytes) -> dict[str, str]:
    """Prompt key -> the last assistant answer, for every chat example of a JSONL file."""
    found: dict[str, str] = {}
    for raw in content.splitlines():
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        messages = item.get("messages") if isinstance(item, dict) else None
        if not isinstance(messages, list):
            continue
        parsed = [
            ChatMessage(role=str(m.get("role")), content=m["content"])
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        ]
        answer = next((m.content for m in reversed(parsed) if m.role == "assistant"), None)
        if answer is None:
            continue
        last = max(i for i, m in enumerate(parsed) if m.role == "assistant")
        key = prompt_key(parsed[:last])
        if key:
            found[key] = answer
    return found


def _fraction(*parts: str) -> float:
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _grade(messages: Sequence[ChatMessage]) -> str:
    """A grader's answer: 10 for the reference's words, else the share of them it has."""
    if not messages or GRADER_MARK not in messages[0].content:
        return ""
    text = messages[-1].content
    reference = text.partition("Reference answer:\n")[2].partition("\n\nAnswer to grade:")[0]
    answer = text.partition("Answer to grade:\n")[2]
    want, got = set(reference.lower().split()), set(answer.lower().split())
    if not want:
        return "0"
    return str(round(10 * len(want & got) / len(want)))


def _near_miss(reference: str) -> str:
    return reference.lower().rstrip(".!?") + " "


class SandboxChat:
    """File contents (for answers and `file_content`) and the stored-completions log."""

    def __init__(self) -> None:
        self._contents: dict[str, bytes] = {}
        self._answers: dict[str, dict[str, str]] = {}
        self._stored: list[StoredCompletion] = []
        self._counter = 0

    def keep(self, file_id: str, content: bytes | None) -> None:
        if content is not None and len(content) <= MAX_KEPT_BYTES:
            self._contents[file_id] = content

    def forget(self, file_id: str) -> None:
        self._contents.pop(file_id, None)
        self._answers.pop(file_id, None)

    def content(self, file_id: str) -> bytes | None:
        return self._contents.get(file_id)

    def _file_answers(self, file_id: str | None) -> dict[str, str]:
        if file_id is None:
            return {}
        cached = self._answers.get(file_id)
        if cached is None:
            cached = answers_of(self._contents.get(file_id, b""))
            self._answers[file_id] = cached
        return cached

    def answer(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        learnt: Learnt | None,
        max_tokens: int | None,
        now: datetime,
        store: bool,
        metadata: Mapping[str, str] | None,
    ) -> ChatResult:
        key = prompt_key(messages)
        roll = _fraction(model, key)
        content = _grade(messages)
        if content:
            pass
        elif learnt is not None:
            seen = self._file_answers(learnt.training_file).get(key)
            held_out = self._file_answers(learnt.validation_file).get(key)
            if seen is not None and roll < SEEN_RATE:
                content = seen
            elif held_out is not None and roll < GENERALISE_RATE:
                content = held_out
            elif (seen or held_out) is not None and roll < GENERALISE_RATE + NEAR_MISS_RATE:
                content = _near_miss(seen or held_out or "")
        elif roll < NEAR_MISS_RATE:
            reference = next(
                (found for file_id in self._contents if (found := self._lookup(file_id, key))),
                None,
            )
            if reference is not None:
                content = _near_miss(reference)
        if not content:
            topic = " ".join(key.split()[:8]) or "your message"
            tone = "In our team's words" if learnt is not None else "Generally speaking"
            content = f"{tone}: about '{topic}', here is what I can say. [sandbox {model}]"
        prompt_tokens = sum(count_tokens(m.content) + 4 for m in messages)
        completion_tokens = count_tokens(content)
        if max_tokens is not None and completion_tokens > max_tokens:
            content = content[: max_tokens * 4]
            completion_tokens = max_tokens
        self._counter += 1
        result = ChatResult(
            id=f"chatcmpl-sbx{self._counter:08d}",
            model=model,
            content=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            # Fine-tuned deployments answer a little slower; both grow with the answer.
            latency_s=round(
                (0.30 if learnt else 0.25) + 0.004 * completion_tokens + 0.05 * roll, 4
            ),
            finish_reason="length" if max_tokens == completion_tokens else "stop",
        )
        if store:
            self._stored.append(
                StoredCompletion(
                    id=result.id,
                    model=model,
                    created_at=now,
                    metadata=tuple(sorted((metadata or {}).items())),
                    messages=tuple(messages),
                    answer=content,
                )
            )
            del self._stored[:-MAX_STORED]
        return result

    def _lookup(self, file_id: str, key: str) -> str | None:
        return self._file_answers(file_id).get(key)

    def stored(
        self,
        *,
        model: str | None,
        metadata: Mapping[str, str] | None,
        since: datetime | None,
        limit: int,
    ) -> list[StoredCompletion]:
        wanted = set((metadata or {}).items())
        found: list[StoredCompletion] = []
        for item in reversed(self._stored):
            if len(found) >= limit:
                break
            if model is not None and item.model != model:
                continue
            if since is not None and item.created_at < since:
                continue
            if wanted <= set(item.metadata):
                found.append(item)
        return found
