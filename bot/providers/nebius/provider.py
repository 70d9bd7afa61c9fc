"""Provider adapter: Nebius Token Factory through the openai SDK (its API is OpenAI-compatible).

The OpenAI implementation does the work; this class exposes only what Nebius documents or
what its OpenAI-compatibility implies (no pause, no stored completions), and sends the
training options as Nebius's examples do: the top-level `hyperparameters` object, LoRA
fields included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
from openai import AsyncOpenAI, Omit, omit

from bot.providers.nebius.profile import BASE_URL, PROFILE
from bot.providers.openai.provider import OpenAIProvider
from handlers.chat import ChatMessage, ChatResult
from handlers.model import (
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    ProviderFile,
    ProviderModel,
)
from handlers.profile import ProviderProfile


class _NebiusShape(OpenAIProvider):
    """OpenAIProvider with Nebius's create body."""

    def _create_method(self, spec: JobSpec) -> Omit:
        return omit

    def _create_extra(self, spec: JobSpec) -> dict[str, object] | None:
        hp = spec.hyperparameters
        given: dict[str, object] = {
            "n_epochs": hp.n_epochs,
            "batch_size": hp.batch_size,
            "learning_rate_multiplier": hp.learning_rate_multiplier,
            "warmup_ratio": hp.warmup_ratio,
            "lora_r": hp.lora_r,
            "lora_alpha": hp.lora_alpha,
        }
        if spec.training_type is not None:
            given["lora"] = spec.training_type == "lora"
        sent = {k: v for k, v in given.items() if v is not None}
        return {"hyperparameters": sent} if sent else None


class NebiusProvider:
    """The Provider port at Nebius Token Factory (files, jobs, cancel, events, checkpoints,
    models, chat), over one OpenAI-shaped client."""

    def __init__(self, inner: OpenAIProvider) -> None:
        self._inner = inner

    @classmethod
    def connect(
        cls,
        api_key: str,
        *,
        base_url: str = BASE_URL,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx2.AsyncClient | None = None,
        **options: Any,
    ) -> NebiusProvider:
        client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        return cls(_NebiusShape(client, label="Nebius Token Factory", profile=PROFILE, **options))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> NebiusProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return self._inner.label

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        return await self._inner.upload_file(path, filename=filename, progress=progress)

    async def list_files(self) -> Sequence[ProviderFile]:
        return await self._inner.list_files()

    async def get_file(self, file_id: str) -> ProviderFile:
        return await self._inner.get_file(file_id)

    async def delete_file(self, file_id: str) -> None:
        await self._inner.delete_file(file_id)

    async def file_content(self, file_id: str) -> bytes:
        return await self._inner.file_content(file_id)

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        return await self._inner.create_job(spec, idempotency_key=idempotency_key)

    async def get_job(self, job_id: str) -> JobState:
        return await self._inner.get_job(job_id)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        return await self._inner.list_jobs(metadata=metadata, limit=limit)

    async def cancel_job(self, job_id: str) -> JobState:
        return await self._inner.cancel_job(job_id)

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        return await self._inner.list_events_after(job_id, cursor, limit=limit)

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        return await self._inner.list_checkpoints(job_id)

    async def list_models(self) -> Sequence[ProviderModel]:
        return await self._inner.list_models()

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        return await self._inner.chat(
            model, messages, max_tokens=max_tokens, store=store, metadata=metadata
        )
