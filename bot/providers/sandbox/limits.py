"""Provider adapter: the OpenAI API's documented limits on a job, as the sandbox enforces
them, so the sandbox refuses what OpenAI would refuse."""

from __future__ import annotations

from bot.providers.sandbox.records import bad_request
from handlers.model import JobSpec, Method


def check_openai_spec(spec: JobSpec) -> None:
    hp = spec.hyperparameters
    if hp.n_epochs is not None and not 1 <= hp.n_epochs <= 50:
        raise bad_request("n_epochs must be between 1 and 50")
    if hp.batch_size is not None and not 1 <= hp.batch_size <= 256:
        raise bad_request("batch_size must be between 1 and 256")
    if hp.learning_rate_multiplier is not None and not hp.learning_rate_multiplier > 0:
        raise bad_request("learning_rate_multiplier must be greater than 0")
    if hp.beta is not None:
        if spec.method != Method.DPO:
            raise bad_request("beta applies to dpo jobs only")
        if not 0 < hp.beta <= 2:
            raise bad_request("beta must be greater than 0 and at most 2")
    if spec.suffix is not None and not 1 <= len(spec.suffix) <= 64:
        raise bad_request("suffix must be 1 to 64 characters")
    if spec.suffix is not None and ":" in spec.suffix:
        raise bad_request("suffix must not contain ':'")
    if spec.seed is not None and not 0 <= spec.seed <= 2_147_483_647:
        raise bad_request("seed must be between 0 and 2147483647")
    if len(spec.metadata) > 16:
        raise bad_request("metadata holds at most 16 pairs")
    for key, value in spec.metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise bad_request("metadata keys hold at most 64 characters, values 512")
