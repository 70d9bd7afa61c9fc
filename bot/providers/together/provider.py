"""Provider adapter: fine-tuning on Together AI through the official SDK's AsyncTogether."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
from pydantic import ValidationError
from together import APIStatusError, AsyncTogether, TogetherError, omit
from together.lib.resources.files import FileUploadProgress
from together.types.chat.chat_completion_message_param import ChatCompletionMessageParam as Message

from bot.providers.together import tags
from bot.providers.together.errors import classify, dedicated_endpoint_error, needs_endpoint
from bot.providers.together.mapping import (
    history,
    job_state,
    opt,
    opt_bool,
    opt_float,
    opt_int,
    when,
)
from bot.providers.together.profile import PROFILE
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    ModelLimits,
    ProviderFile,
    ProviderModel,
)
from handlers.ports import ProviderEstimate
from handlers.profile import JobStatus, ProviderProfile
from handlers.scope import TEAM_KEY
from handlers.secrets import redact

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_V = TypeVar("_V")
_EPOCH = datetime.fromtimestamp(0, UTC)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_UPLOAD_TYPES = (".jsonl", ".parquet", ".csv")
DEFAULT_BASE_URL = "https://api.together.ai"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDefaults:
    """Together options the core's JobSpec does not carry, for every job of this provider."""

    lora: bool = True
    lora_r: int | None = None
    """None: the model's default rank (its limits say)."""
    lora_alpha: int | None = None
    """None: twice the rank."""
    n_checkpoints: int = 1
    n_evals: int = 0
    warmup_ratio: float = 0.0


class TogetherProvider:
    """The FineTuning port plus cancel, events (with the metrics endpoint's points), checkpoints
    and chat, over AsyncTogether. Creates are never retried blindly: the SDK's own retries are
    off for them, and the job is looked for by its suffix tag before any new attempt."""

    def __init__(self, client: AsyncTogether, *, defaults: JobDefaults | None = None) -> None:
        self._client = client
        # A lost create answer must not be replayed by the SDK: the tag lookup decides.
        self._once = client.with_options(max_retries=0)
        self._defaults = defaults or JobDefaults()
        self._limits: dict[str, Any] = {}

    @classmethod
    def connect(
        cls,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        defaults: JobDefaults | None = None,
    ) -> TogetherProvider:
        client = AsyncTogether(
            api_key=api_key,
            base_url=_root(base_url or DEFAULT_BASE_URL),
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        return cls(client, defaults=defaults)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return "Together AI"

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    # -- files ----------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """The SDK's own flow: POST /files (a 302 to a pre-signed URL), PUT the bytes there,
        POST /files/{id}/preprocess; multipart above the SDK's threshold. The SDK names the
        file by its path, so the upload goes through a link of the wanted name in a private
        directory. Its local format check is off: the bot's validator ran before."""

        def report(event: FileUploadProgress) -> None:
            if progress is not None:
                progress(event.uploaded_bytes, event.total_bytes)

        with tempfile.TemporaryDirectory(prefix="ftbot-together-") as scratch:
            link = _link(path, Path(scratch) / _upload_name(filename))
            uploaded = await self._call(
                self._client.files.upload(
                    file=link, purpose="fine-tune", check=False, progress_callback=report
                )
            )
        try:
            return ProviderFile(
                id=str(uploaded.id),
                filename=str(uploaded.filename or filename),
                bytes=int(uploaded.bytes or 0),
                created_at=when(uploaded.created_at),
                purpose="fine-tune",
                status="processed" if getattr(uploaded, "processed", True) else "uploaded",
            )
        except (AttributeError, TypeError, ValueError):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def delete_file(self, file_id: str) -> None:
        await self._call(self._client.files.delete(file_id))

    async def file_content(self, file_id: str) -> bytes:
        response = await self._call(self._client.files.content(file_id))
        return await self._call(response.read())

    # -- jobs -----------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        found = await self._find_created(idempotency_key, spec.metadata)
        if found is not None:
            return found
        arguments = await self._create_arguments(spec, idempotency_key)
        try:
            created = await self._call(self._once.fine_tuning.create(**arguments))
        except ProviderError as error:
            if not error.retryable:
                raise
            # The answer may be lost after Together made the job: look before anyone retries.
            try:
                found = await self._find_created(idempotency_key, spec.metadata)
            except ProviderError:
                raise error from None
            if found is not None:
                return found
            raise
        return self._job(created, spec.metadata)

    async def get_job(self, job_id: str) -> JobState:
        job = self._job(await self._call(self._client.fine_tuning.retrieve(job_id)))
        if job.status is JobStatus.FAILED:
            # Together's job object has no error field: the reason is in its events.
            reason = await self._failure_reason(job_id)
            job = _with_error(job, reason or f"Together reported the job as {job.provider_status}")
        return job

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        """GET /fine-tunes has no paging or filters: the whole list, filtered here by the
        suffix tags, newest first."""
        listed = await self._call(self._client.fine_tuning.list())
        items = [i for i in (listed.data or []) if tags.matches(opt(i, "suffix"), metadata)]
        jobs = [self._job(i, metadata) for i in items]
        jobs.sort(key=lambda j: j.created_at, reverse=True)
        return jobs[:limit]

    async def cancel_job(self, job_id: str) -> JobState:
        return self._job(await self._call(self._client.fine_tuning.cancel(job_id)))

    async def list_models(self) -> Sequence[ProviderModel]:
        """The fine-tuning catalogue (/fine-tunes/models/supported; the SDK has no method)."""
        answer = await self._call(
            self._client.get("/v1/fine-tunes/models/supported", cast_to=object)
        )
        names = answer.get("models") if isinstance(answer, Mapping) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE)
        return [ProviderModel(id=n, created_at=_EPOCH, owned_by="together") for n in names]

    async def model_limits(
        self, model: str, *, method: Method, training_type: str | None
    ) -> ModelLimits:
        """What /fine-tunes/models/limits says `model` takes for this method, LoRA or full."""
        raw = await self._raw_limits(model)
        lora = training_type != "full" if training_type is not None else self._defaults.lora
        part = getattr(raw, "lora_training" if lora else "full_training", None)
        if part is None:
            kind = "LoRA" if lora else "full"
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"Together does not offer {kind} training of {model}",
            )
        dpo = method is Method.DPO
        return ModelLimits(
            model=model,
            max_epochs=opt_int(raw, "max_num_epochs"),
            max_evals=opt_int(raw, "max_num_evals"),
            min_learning_rate=opt_float(raw, "min_learning_rate"),
            max_learning_rate=opt_float(raw, "max_learning_rate"),
            max_lora_rank=opt_int(part, "max_rank") if lora else None,
            min_batch_size=opt_int(part, "min_batch_size"),
            max_batch_size=opt_int(part, "max_batch_size_dpo" if dpo else "max_batch_size"),
        )

    async def estimate_price(self, spec: JobSpec) -> ProviderEstimate:
        """Together's estimate for a job on already uploaded files (it tokenises them)."""
        method: Any = (
            {"method": "dpo", "dpo_beta": spec.hyperparameters.beta or 0.1}
            if spec.method is Method.DPO
            else {"method": "sft", "train_on_inputs": "auto"}
        )
        answer = await self._call(
            self._client.fine_tuning.estimate_price(
                training_file=spec.training_file,
                model=spec.model,
                n_epochs=spec.hyperparameters.n_epochs or 1,
                n_evals=self._defaults.n_evals,
                training_method=method,
                training_type=await self._training_type(spec),
                validation_file=spec.validation_file or omit,
            )
        )
        return ProviderEstimate(
            price=opt_float(answer, "estimated_total_price"),
            train_tokens=opt_int(answer, "estimated_train_token_count"),
            eval_tokens=opt_int(answer, "estimated_eval_token_count"),
            allowed_to_proceed=opt_bool(answer, "allowed_to_proceed"),
            user_limit=opt_float(answer, "user_limit"),
        )

    # -- events, metrics, checkpoints -----------------------------------------------------

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        """The job's events and its metrics rows as one history, oldest first; each item's
        id is stable across reads, so the cursor is an id as with the other families."""
        events = (await self._call(self._client.fine_tuning.list_events(job_id))).data or []
        rows = (await self._call(self._client.fine_tuning.list_metrics(job_id))).metrics or []
        found = history(job_id, events, rows)
        if cursor is not None:
            index = next((n for n, e in enumerate(found) if e.id == cursor), None)
            found = found[index + 1 :] if index is not None else found
        return found[:limit]

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        listed = await self._call(self._client.fine_tuning.list_checkpoints(job_id))
        found = [
            Checkpoint(
                id=f"{job_id}:{int(c.step)}",
                job_id=job_id,
                created_at=when(c.created_at),
                step=int(c.step),
                # What `from_checkpoint` takes to continue training from it.
                model_name=f"{job_id}:{int(c.step)}",
                metrics={"checkpoint_type": str(c.checkpoint_type or ""), "path": str(c.path)},
            )
            for c in listed.data or []
        ]
        return sorted(found, key=lambda c: c.step, reverse=True)

    # -- chat -----------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """Together's OpenAI-compatible /chat/completions; it keeps no completions, so
        `store` and `metadata` have nowhere to go."""
        started = time.monotonic()
        try:
            answer: Any = await self._client.chat.completions.create(
                model=model,
                messages=[_message(m) for m in messages],
                max_tokens=max_tokens if max_tokens is not None else omit,
            )
        except APIStatusError as error:
            if needs_endpoint(error):
                raise dedicated_endpoint_error(model) from None
            raise self._error(error) from None
        except (TogetherError, json.JSONDecodeError) as error:
            raise self._error(error) from None
        try:
            choice = answer.choices[0]
            usage = answer.usage
            return ChatResult(
                id=str(answer.id),
                model=str(answer.model),
                content=str(choice.message.content or ""),
                prompt_tokens=int(usage.prompt_tokens) if usage else 0,
                completion_tokens=int(usage.completion_tokens) if usage else 0,
                latency_s=time.monotonic() - started,
                finish_reason=str(choice.finish_reason or "stop"),
            )
        except (AttributeError, IndexError, TypeError, ValueError):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    # -- helpers --------------------------------------------------------------------------

    async def _find_created(self, key: str, metadata: Mapping[str, str]) -> JobState | None:
        """The job an earlier attempt with this idempotency key made, if there is one."""
        digest = tags.key_digest(key)
        team = metadata.get(TEAM_KEY)
        listed = await self._call(self._client.fine_tuning.list())
        for item in listed.data or []:
            _, found, owner = tags.read_suffix(opt(item, "suffix"))
            if found == digest and (team is None or owner in (None, team)):
                return self._job(item, metadata)
        return None

    async def _create_arguments(self, spec: JobSpec, key: str) -> dict[str, Any]:
        hp = spec.hyperparameters
        limits = await self._raw_limits(spec.model)
        dpo = spec.method is Method.DPO
        if hp.beta is not None and not dpo:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "beta applies to DPO only on Together; drop beta=, or use method=dpo",
            )
        rank = hp.lora_r if hp.lora_r is not None else self._defaults.lora_r
        max_rank = opt_int(getattr(limits, "lora_training", None), "max_rank")
        if rank is not None and max_rank is not None and rank > max_rank:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"lora_r {rank} is above {spec.model}'s limit on Together; use {max_rank} or less",
            )
        return {
            "training_file": spec.training_file,
            "model": spec.model,
            "validation_file": spec.validation_file or "",
            "n_epochs": hp.n_epochs or 1,
            "batch_size": hp.batch_size if hp.batch_size is not None else "max",
            "learning_rate": hp.learning_rate_multiplier or 1e-5,
            "suffix": tags.tagged_suffix(spec.suffix, key=key, metadata=spec.metadata),
            "random_seed": spec.seed,
            "training_method": "dpo" if dpo else "sft",
            "dpo_beta": hp.beta if dpo else None,
            "lora": self._lora(spec),
            "lora_r": rank,
            "lora_alpha": _given(hp.lora_alpha, self._defaults.lora_alpha),
            "n_checkpoints": _given(hp.n_checkpoints, self._defaults.n_checkpoints),
            "n_evals": _given(hp.n_evals, self._defaults.n_evals),
            "warmup_ratio": _given(hp.warmup_ratio, self._defaults.warmup_ratio),
            "model_limits": limits,
        }

    async def _raw_limits(self, model: str) -> Any:
        cached = self._limits.get(model)
        if cached is not None:
            return cached
        try:
            limits = await self._call(self._client.fine_tuning.model_limits(model_name=model))
        except ProviderError as error:
            if error.kind is ProviderErrorKind.NOT_FOUND:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"Together cannot fine-tune {model}; `models` lists the ones it can",
                ) from None
            raise
        self._limits[model] = limits
        return limits

    def _lora(self, spec: JobSpec) -> bool:
        """LoRA unless the start asked for full training (else the provider's default)."""
        if spec.training_type is not None:
            return spec.training_type != "full"
        return self._defaults.lora

    async def _training_type(self, spec: JobSpec) -> Any:
        if not self._lora(spec):
            return {"type": "Full"}
        hp = spec.hyperparameters
        limits = await self._raw_limits(spec.model)
        rank = (
            _given(hp.lora_r, self._defaults.lora_r)
            or opt_int(limits.lora_training, "default_rank")
            or 8
        )
        return {
            "type": "Lora",
            "lora_r": rank,
            "lora_alpha": _given(hp.lora_alpha, self._defaults.lora_alpha) or 2 * rank,
        }

    async def _failure_reason(self, job_id: str) -> str | None:
        events = (await self._call(self._client.fine_tuning.list_events(job_id))).data or []
        for event in reversed(events):
            if str(getattr(event, "type", "")) in {"job_error", "billing_limit"} or (
                str(getattr(event, "level", "")) == "error"
            ):
                return str(event.message)
        return None

    def _job(self, item: Any, wanted: Mapping[str, str] | None = None) -> JobState:
        try:
            return job_state(item, wanted)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            log.warning("malformed Together job", extra={"error": str(error)[:200]})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except ProviderError:
            raise
        except (TogetherError, json.JSONDecodeError) as error:
            raise self._error(error) from None
        except ValidationError:
            # The SDK builds some answers strictly (the upload's FileResponse): a broken one.
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None
        except ValueError as error:
            # The SDK checks a create's options against the model's limits before sending.
            raise ProviderError(ProviderErrorKind.BAD_REQUEST, str(error)[:300]) from None

    def _error(self, error: Exception) -> ProviderError:
        kind, retry_after, detail = classify(error, now=time.time())
        log.warning(
            "Together call failed",
            extra={"kind": str(kind), "status": getattr(error, "status_code", None)},
        )
        # A server's message may quote what it was sent: never pass a key shape on.
        return ProviderError(kind, redact(detail), retry_after=retry_after)


def _root(base_url: str) -> str:
    """The SDK's paths start with /v1: a base URL given with it (as docs show) loses it."""
    return base_url.rstrip("/").removesuffix("/v1")


def _message(message: ChatMessage) -> Message:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _link(source: Path, link: Path) -> Path:
    os.symlink(os.path.abspath(source), link)
    return link


def _upload_name(filename: str) -> str:
    name = _SAFE_NAME.sub("_", Path(filename).name).lstrip(".") or "train.jsonl"
    return name if name.endswith(_UPLOAD_TYPES) else f"{name}.jsonl"


def _with_error(job: JobState, reason: str) -> JobState:
    return replace(job, error=reason)


__all__ = ["JobDefaults", "TogetherProvider"]


def _given(value: _V | None, default: _V) -> _V:
    """The start's own value of an option, else the provider's default for it."""
    return default if value is None else value
