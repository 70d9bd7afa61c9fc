"""Providers: the Bedrock base models the bot tunes, and what each one's training data is like."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class DataFormat(StrEnum):
    """The two JSONL shapes Bedrock fine-tuning reads (docs: preparing-text-data)."""

    CONVERSATION = "bedrock-conversation-2024"
    """`schemaVersion`, `system: [{text}]`, `messages: [{role, content: [{text}]}]`."""
    PROMPT_COMPLETION = "prompt-completion"
    """`{"prompt": ..., "completion": ...}`: the text-to-text models."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseModel:
    """One base model Bedrock fine-tunes: its data shape, its turns, its options, its region."""

    id: str
    label: str
    data: DataFormat
    multi_turn: bool
    """False: one user message and one assistant reply per example."""
    regions: frozenset[str]
    """Where Bedrock fine-tunes it (the 2026 supported-models page)."""
    hyperparameters: frozenset[str]
    """The core's option names this model takes (see profile.HYPERPARAMETERS for fields).
    Nova's and Titan's warm-up is in steps (learningRateWarmupSteps), not the core's ratio,
    so it is never sent."""


_COMMON = frozenset({"epochs", "batch_size", "lr"})
_US_EAST = frozenset({"us-east-1"})
_US_WEST = frozenset({"us-west-2"})

BASE_MODELS: Mapping[str, BaseModel] = {
    m.id: m
    for m in (
        BaseModel(
            id="amazon.nova-micro-v1:0:128k",
            label="Amazon Nova Micro",
            data=DataFormat.CONVERSATION,
            multi_turn=True,
            regions=_US_EAST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="amazon.nova-lite-v1:0:300k",
            label="Amazon Nova Lite",
            data=DataFormat.CONVERSATION,
            multi_turn=True,
            regions=_US_EAST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="amazon.nova-pro-v1:0:300k",
            label="Amazon Nova Pro",
            data=DataFormat.CONVERSATION,
            multi_turn=True,
            regions=_US_EAST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            # One user prompt per example: AWS's distillation data page says Anthropic and
            # Meta models take single-turn conversations only, and the bot holds
            # fine-tuning data to the same rule rather than have a job fail late.
            id="anthropic.claude-3-haiku-20240307-v1:0:200k",
            label="Anthropic Claude 3 Haiku",
            data=DataFormat.CONVERSATION,
            multi_turn=False,
            regions=_US_WEST,
            # Claude takes learningRateMultiplier, not a rate: lr= is refused for it rather
            # than sent with another meaning.
            hyperparameters=frozenset({"epochs", "batch_size"}),
        ),
        BaseModel(
            id="meta.llama3-1-8b-instruct-v1:0:128k",
            label="Meta Llama 3.1 8B Instruct",
            data=DataFormat.PROMPT_COMPLETION,
            multi_turn=False,
            regions=_US_WEST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="meta.llama3-1-70b-instruct-v1:0:128k",
            label="Meta Llama 3.1 70B Instruct",
            data=DataFormat.PROMPT_COMPLETION,
            multi_turn=False,
            regions=_US_WEST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="meta.llama3-2-1b-instruct-v1:0:128k",
            label="Meta Llama 3.2 1B Instruct",
            data=DataFormat.PROMPT_COMPLETION,
            multi_turn=False,
            regions=_US_WEST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="meta.llama3-2-3b-instruct-v1:0:128k",
            label="Meta Llama 3.2 3B Instruct",
            data=DataFormat.PROMPT_COMPLETION,
            multi_turn=False,
            regions=_US_WEST,
            hyperparameters=_COMMON,
        ),
        BaseModel(
            id="amazon.titan-text-express-v1:0:8k",
            label="Amazon Titan Text G1 - Express",
            data=DataFormat.PROMPT_COMPLETION,
            multi_turn=False,
            regions=frozenset({"us-east-1", "us-west-2"}),
            hyperparameters=_COMMON,
        ),
    )
}
"""The fine-tunable models the bot knows (AWS's custom-model-supported page, 2026). Nova
Lite and Pro also take images, which live in S3 beside the data; the bot stages text only."""


def base_model(model_id: str) -> BaseModel | None:
    return BASE_MODELS.get(model_id)


__all__ = ["BASE_MODELS", "BaseModel", "DataFormat", "base_model"]
