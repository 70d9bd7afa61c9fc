"""Provider adapter: fine-tuning on Fireworks AI through the official SDK's AsyncFireworks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
from fireworks import APIStatusError, AsyncFireworks, ConflictError, FireworksError, omit
from pydantic import ValidationError

from bot.providers.fireworks.errors import (
    classify,
    deployment_error,
    message_of,
    needs_deployment,
)
from bot.providers.fireworks.metrics import read_metrics_file
from bot.providers.fireworks.profile import FINE_TUNABLE_PREFIXES, GONE_STATES, PROFILE
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    Hyperparameters,
    JobSpec,
    JobState,
    Method,
    MetricPoint,
    ProviderFile,
    ProviderModel,
)
from handlers.profile import JobStatus, ProviderProfile
from handlers.scope import TEAM_KEY
from handlers.secrets import redact

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_EPOCH = datetime.fromtimestamp(0, UTC)
_DPO_PREFIX = "dpo:"
_TEAM_TAG = re.compile(r"(?:^| )\[ftb (?P<team>[^\]\s]{1,80})\]$")
DIRECT_UPLOAD_LIMIT = 150 * 2**20
"""The SDK's `datasets.upload` takes files up to 150 MB; above it, a signed URL."""
BASE_MODELS_ACCOUNT = "fireworks"


class FireworksProvider:
    """The FineTuning port plus cancel, resume, the metrics file (ports.MetricFiles) and
    chat, over AsyncFireworks, for one account.

    A job's id at the bot is its Fireworks id (supervised) or `dpo:` and its id (DPO). The
    bot names each job it creates from the idempotency key's hash, so a retried create is a
    409 ALREADY_EXISTS answered with the first job; the team rides in the display name."""

    def __init__(
        self,
        client: AsyncFireworks,
        *,
        direct_upload_limit: int = DIRECT_UPLOAD_LIMIT,
        ready_polls: int = 60,
        ready_delay_s: float = 2.0,
    ) -> None:
        self._client = client
        self._direct_limit = direct_upload_limit
        self._ready_polls = ready_polls
        self._ready_delay = ready_delay_s

    @classmethod
    def connect(
        cls,
        api_key: str,
        *,
        account_id: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        direct_upload_limit: int = DIRECT_UPLOAD_LIMIT,
        ready_delay_s: float = 2.0,
    ) -> FireworksProvider:
        client = AsyncFireworks(
            api_key=api_key,
            # None: the account the key belongs to, asked of Fireworks on first use.
            account_id=account_id or "",
            base_url=base_url.rstrip("/").removesuffix("/v1") if base_url else None,
            timeout=timeout,
            max_retries=max_retries,
            # httpx's own transport: the SDK's retries (max_retries) are then the only ones,
            # so a lost answer to a create is the bot's to look for, never resent unseen.
            http_client=httpx.AsyncClient(timeout=timeout, follow_redirects=True),
        )
        return cls(client, direct_upload_limit=direct_upload_limit, ready_delay_s=ready_delay_s)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return "Fireworks AI"

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    async def account_id(self) -> str:
        """The account every path is scoped by: the one given, else the key's own (the first
        GET /v1/accounts lists), found once."""
        if not self._client.account_id:
            page = await self._call(self._client.accounts.list(page_size=1))
            names = [str(a.name or "") for a in page.accounts]
            found = names[0].removeprefix("accounts/") if names else ""
            if not found:
                raise ProviderError(ProviderErrorKind.AUTH, "the Fireworks key sees no account")
            self._client.account_id = found
        return str(self._client.account_id)

    # -- datasets (the bot's "files") -----------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Create a dataset, send the bytes (`:upload` up to 150 MB, a signed URL and
        `:validateUpload` above), then wait for Fireworks to call it READY; a dataset it
        refuses is deleted and its message is the error."""
        await self.account_id()
        size = (await asyncio.to_thread(path.stat)).st_size
        dataset_id = f"ftb-{uuid.uuid4().hex[:20]}"
        created = await self._call(
            self._client.datasets.create(
                dataset_id=dataset_id,
                dataset={"user_uploaded": {}, "display_name": filename[:200]},
            )
        )
        try:
            if size <= self._direct_limit:
                await self._call(
                    self._client.datasets.upload(
                        dataset_id,
                        file=(
                            filename,
                            await asyncio.to_thread(path.read_bytes),
                            "application/jsonl",
                        ),
                    )
                )
            else:
                await self._signed_upload(dataset_id, path, filename, size)
            if progress is not None:
                progress(size, size)
            ready = await self._ready(dataset_id)
        except ProviderError:
            await self._forget(dataset_id)
            raise
        return ProviderFile(
            id=dataset_id,
            filename=str(ready.display_name or filename),
            bytes=size,
            created_at=_when(created.create_time),
            status="processed",
        )

    async def _signed_upload(self, dataset_id: str, path: Path, filename: str, size: int) -> None:
        answer = await self._call(
            self._client.datasets.get_upload_endpoint(
                dataset_id, filename_to_size={filename: str(size)}
            )
        )
        url = (answer.filename_to_signed_urls or {}).get(filename)
        if not url:
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE)
        async with httpx.AsyncClient(timeout=None) as http:
            try:
                sent = await http.put(
                    url,
                    content=_chunks(path),
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(size),
                    },
                )
            except httpx.HTTPError:
                raise ProviderError(ProviderErrorKind.CONNECTION) from None
        if sent.status_code >= 300:
            raise ProviderError(ProviderErrorKind.SERVER, "the signed upload was refused")
        await self._call(self._client.datasets.validate_upload(dataset_id, body={}))

    async def _ready(self, dataset_id: str) -> Any:
        for attempt in range(self._ready_polls):
            dataset = await self._call(self._client.datasets.get(dataset_id))
            if dataset.state == "READY":
                return dataset
            status = dataset.status
            code = str(getattr(status, "code", "") or "OK")
            if code not in ("OK", "CODE_UNSPECIFIED"):
                message = str(getattr(status, "message", "") or code)
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    redact(f"Fireworks refused the dataset: {message}"[:300]),
                )
            if attempt + 1 < self._ready_polls:
                await asyncio.sleep(self._ready_delay)
        raise ProviderError(ProviderErrorKind.TIMEOUT, "the dataset never became READY")

    async def _forget(self, dataset_id: str) -> None:
        try:
            await self._call(self._client.datasets.delete(dataset_id))
        except ProviderError:
            log.warning("could not delete a refused dataset", extra={"dataset": dataset_id})

    async def delete_file(self, file_id: str) -> None:
        await self.account_id()
        await self._call(self._client.datasets.delete(_short(file_id)))

    async def file_content(self, file_id: str) -> bytes:
        await self.account_id()
        answer = await self._call(self._client.datasets.get_download_endpoint(_short(file_id)))
        urls = list((answer.filename_to_signed_urls or {}).values())
        if not urls:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, "the dataset has no file")
        async with httpx.AsyncClient(timeout=60.0) as http:
            try:
                got = await http.get(urls[0])
            except httpx.HTTPError:
                raise ProviderError(ProviderErrorKind.CONNECTION) from None
        if got.status_code == 404:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        if got.status_code >= 300:
            raise ProviderError(ProviderErrorKind.SERVER)
        return got.content

    # -- jobs -----------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        if spec.seed is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "seed is not an option on Fireworks AI (its jobs take no seed); drop seed=",
            )
        hp = spec.hyperparameters
        dpo = spec.method is Method.DPO
        if hp.beta is not None and not dpo:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "beta applies to DPO only on Fireworks AI; drop beta=, or use method=dpo",
            )
        job_id = "ftb-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
        shown = _display_name(spec.suffix, spec.metadata.get(TEAM_KEY))
        account = await self.account_id()
        await self._check_base(spec.model, account)
        dataset = _name(account, spec.training_file)
        evaluation = _name(account, spec.validation_file) if spec.validation_file else omit
        once = self._client.with_options(max_retries=0)
        try:
            if dpo:
                config: Any = {"base_model": spec.model}
                if hp.n_epochs is not None:
                    config["epochs"] = hp.n_epochs
                if hp.learning_rate_multiplier is not None:
                    config["learning_rate"] = hp.learning_rate_multiplier
                if hp.batch_size is not None:
                    config["batch_size_samples"] = hp.batch_size
                if hp.lora_r is not None:
                    config["lora_rank"] = hp.lora_r
                if hp.warmup_steps is not None:
                    config["learning_rate_warmup_steps"] = hp.warmup_steps
                if hp.context_length is not None:
                    config["max_context_length"] = hp.context_length
                loss: Any = {"method": "DPO", "dpo": {"beta": hp.beta if hp.beta else 0.1}}
                await self._call(
                    once.dpo_jobs.create(
                        dataset=dataset,
                        dpo_job_id=job_id,
                        display_name=shown,
                        loss_config=loss,
                        training_config=config,
                    )
                )
                job_id = _DPO_PREFIX + job_id
            else:
                await self._call(
                    once.supervised_fine_tuning_jobs.create(
                        dataset=dataset,
                        supervised_fine_tuning_job_id=job_id,
                        base_model=spec.model,
                        display_name=shown,
                        evaluation_dataset=evaluation,
                        epochs=hp.n_epochs if hp.n_epochs is not None else omit,
                        learning_rate=(
                            hp.learning_rate_multiplier
                            if hp.learning_rate_multiplier is not None
                            else omit
                        ),
                        batch_size_samples=hp.batch_size if hp.batch_size is not None else omit,
                        lora_rank=hp.lora_r if hp.lora_r is not None else omit,
                        learning_rate_warmup_steps=(
                            hp.warmup_steps if hp.warmup_steps is not None else omit
                        ),
                        max_context_length=(
                            hp.context_length if hp.context_length is not None else omit
                        ),
                    )
                )
        except _Conflict:
            # An earlier attempt with this key made it: that job is the answer.
            job_id = _DPO_PREFIX + job_id if dpo else job_id
        except ProviderError as error:
            if not error.retryable:
                raise
            # The answer may be lost after Fireworks made the job: look before any retry.
            try:
                return await self.get_job(_DPO_PREFIX + job_id if dpo else job_id)
            except ProviderError:
                raise error from None
        return await self.get_job(job_id)

    async def _check_base(self, model: str, account: str) -> None:
        """A start's base model is one of Fireworks' own whose card says Tunable (asked of
        Fireworks), or a model of this account (a tuned one: Fireworks answers for it)."""
        if model.startswith(f"accounts/{account}/models/"):
            return
        takes = (
            f"Fireworks AI fine-tunes its own models marked Tunable, named "
            f"{FINE_TUNABLE_PREFIXES[0]}ID (e.g. model={PROFILE.default_model})"
        )
        refusal = f"model={model} is not a base model at Fireworks AI; {takes}"
        if not PROFILE.is_fine_tunable(model):
            raise ProviderError(ProviderErrorKind.BAD_REQUEST, refusal)
        try:
            card = await self._call(
                self._client.models.get(_short(model), account_id=BASE_MODELS_ACCOUNT)
            )
        except ProviderError as error:
            if error.kind is ProviderErrorKind.NOT_FOUND:
                raise ProviderError(ProviderErrorKind.BAD_REQUEST, refusal) from None
            raise
        if not card.tunable:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"model={model} is not marked Tunable at Fireworks AI; {takes}",
            )

    async def get_job(self, job_id: str) -> JobState:
        await self.account_id()
        item: Any
        if job_id.startswith(_DPO_PREFIX):
            item = await self._call(self._client.dpo_jobs.get(job_id.removeprefix(_DPO_PREFIX)))
        else:
            item = await self._call(self._client.supervised_fine_tuning_jobs.get(job_id))
        job = self._job(item)
        if job is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND, "Fireworks is deleting the job")
        return job

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        """Supervised and DPO jobs, every page (200 a page), filtered here by the display
        name's team tag, newest first; deleting jobs are left out."""
        await self.account_id()
        found: list[JobState] = []
        for listing in (
            self._client.supervised_fine_tuning_jobs.list(page_size=200),
            self._client.dpo_jobs.list(page_size=200),
        ):
            items = await self._call(self._collect(listing))
            for item in items:
                job = self._job(item)
                if job is not None and _matches(job.metadata, metadata):
                    found.append(job)
        found.sort(key=lambda j: j.created_at, reverse=True)
        return found[:limit]

    async def cancel_job(self, job_id: str) -> JobState:
        await self.account_id()
        if job_id.startswith(_DPO_PREFIX):
            await self._call(
                self._client.dpo_jobs.cancel(job_id.removeprefix(_DPO_PREFIX), body={})
            )
        else:
            await self._call(self._client.supervised_fine_tuning_jobs.cancel(job_id, body={}))
        return await self.get_job(job_id)

    async def resume_job(self, job_id: str) -> JobState:
        """`:resume` (Fireworks pauses jobs itself, e.g. on account suspension; it has no
        pause call)."""
        await self.account_id()
        if job_id.startswith(_DPO_PREFIX):
            await self._call(
                self._client.dpo_jobs.resume(job_id.removeprefix(_DPO_PREFIX), body={})
            )
        else:
            await self._call(self._client.supervised_fine_tuning_jobs.resume(job_id, body={}))
        return await self.get_job(job_id)

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        """The job's metrics file as points: a supervised job names its signed URL on the job
        (`metricsFileSignedUrl`), a DPO job through `:getMetricsFileEndpoint`. No file yet (no
        URL, or the URL answers 404 or 403: not written, or expired) is no points."""
        await self.account_id()
        item: Any
        if job_id.startswith(_DPO_PREFIX):
            short = job_id.removeprefix(_DPO_PREFIX)
            item = await self._call(self._client.dpo_jobs.get(short))
            endpoint = await self._call(self._client.dpo_jobs.get_metrics_file_endpoint(short))
            url = endpoint.signed_url
        else:
            item = await self._call(self._client.supervised_fine_tuning_jobs.get(job_id))
            url = item.metrics_file_signed_url
        if not url:
            return []
        async with httpx.AsyncClient(timeout=60.0) as http:
            try:
                got = await http.get(str(url))
            except httpx.HTTPError:
                raise ProviderError(ProviderErrorKind.CONNECTION) from None
        if got.status_code in (403, 404):
            return []
        if got.status_code >= 300:
            raise ProviderError(ProviderErrorKind.SERVER, "the metrics file could not be read")
        progress = getattr(item, "job_progress", None)
        percent = getattr(progress, "percent", None) if progress is not None else None
        epoch = getattr(progress, "epoch", None) if progress is not None else None
        state = PROFILE.status(str(item.state or "JOB_STATE_UNSPECIFIED"))
        return read_metrics_file(
            got.content,
            percent=percent if isinstance(percent, int) else None,
            finished=state is JobStatus.SUCCEEDED,
            epoch=epoch if isinstance(epoch, int) else None,
        )

    async def list_models(self) -> Sequence[ProviderModel]:
        """Fireworks' own base models that say they are tunable (the first 1000)."""
        listing = self._client.models.list(account_id=BASE_MODELS_ACCOUNT, page_size=200)
        models = await self._call(self._collect(listing, pages=5))
        return [
            ProviderModel(
                id=str(m.name),
                created_at=_when(m.create_time) if m.create_time else _EPOCH,
                owned_by=BASE_MODELS_ACCOUNT,
            )
            for m in models
            if m.name and m.tunable
        ]

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
        """Fireworks' OpenAI-compatible chat completions; it keeps no completions, so `store`
        and `metadata` have nowhere to go."""
        started = time.monotonic()
        try:
            answer: Any = await self._client.chat.completions.create(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=max_tokens if max_tokens is not None else omit,
            )
        except APIStatusError as error:
            if PROFILE.is_tuned_model(model) and needs_deployment(error):
                raise deployment_error(model) from None
            raise self._error(error) from None
        except (FireworksError, json.JSONDecodeError) as error:
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

    @staticmethod
    async def _collect(listing: Any, *, pages: int = 50) -> list[Any]:
        """Every item of an SDK cursor listing (page tokens), at most `pages` pages."""
        page = await listing
        items = list(page._get_page_items())
        for _ in range(pages - 1):
            if not page.has_next_page():
                break
            page = await page.get_next_page()
            items.extend(page._get_page_items())
        return items

    def _job(self, item: Any) -> JobState | None:
        try:
            return _job_state(item)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            log.warning("malformed Fireworks job", extra={"error": str(error)[:200]})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except ProviderError:
            raise
        except ConflictError as error:
            raise _Conflict(redact(message_of(error))) from None
        except (FireworksError, json.JSONDecodeError) as error:
            raise self._error(error) from None
        except ValidationError:
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    def _error(self, error: Exception) -> ProviderError:
        kind, retry_after, detail = classify(error, now=time.time())
        log.warning(
            "Fireworks call failed",
            extra={"kind": str(kind), "status": getattr(error, "status_code", None)},
        )
        # A server's message may quote what it was sent: never pass a key shape on.
        return ProviderError(kind, redact(detail), retry_after=retry_after)


class _Conflict(ProviderError):
    """409 ALREADY_EXISTS: the named resource is there already (a create's answer to look
    up; anywhere else, a refused request)."""

    def __init__(self, detail: str) -> None:
        super().__init__(ProviderErrorKind.BAD_REQUEST, detail)


async def _chunks(path: Path, size: int = 8 * 2**20) -> AsyncIterator[bytes]:
    """A file's bytes in parts, read off the event loop (a signed upload may be gigabytes)."""
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, size):
            yield chunk


def _name(account: str, dataset: str) -> str:
    return dataset if dataset.startswith("accounts/") else f"accounts/{account}/datasets/{dataset}"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _when(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a time: {value!r}")


def _display_name(suffix: str | None, team: str | None) -> str:
    own = (suffix or "").strip()[: PROFILE.max_suffix or 40]
    tag = f"[ftb {team}]" if team and re.fullmatch(r"[^\]\s]{1,80}", team) else ""
    return " ".join(p for p in (own, tag) if p) or "finetune-bot"


def _read_display_name(shown: str | None) -> tuple[str | None, dict[str, str]]:
    if not shown:
        return None, {}
    found = _TEAM_TAG.search(shown)
    if found is None:
        return (None if shown == "finetune-bot" else shown), {}
    own = shown[: found.start()].strip() or None
    return own, {TEAM_KEY: found.group("team")}


def _matches(carried: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    return not wanted or all(carried.get(k) == v for k, v in wanted.items())


def _job_state(item: Any) -> JobState | None:
    """A SupervisedFineTuningJob or a DpoJob as the core's JobState; None for a job being
    deleted (the caller answers NOT_FOUND: gone)."""
    raw = str(item.state or "JOB_STATE_UNSPECIFIED")
    if raw in GONE_STATES:
        return None
    status = PROFILE.status(raw)
    name = str(item.name)
    short = _short(name)
    dpo = "/dpoJobs/" in name
    config = getattr(item, "training_config", None) if dpo else item
    own, carried = _read_display_name(item.display_name)
    message = str(getattr(item.status, "message", "") or "") if item.status else ""
    error: str | None = None
    if status is JobStatus.FAILED:
        error = message or f"Fireworks reported the job as {raw}"
    elif status is JobStatus.PAUSED and message:
        error = message
    output = getattr(config, "output_model", None) if config is not None else None
    completed = getattr(item, "completed_time", None)
    return JobState(
        id=_DPO_PREFIX + short if dpo else short,
        model=str(getattr(config, "base_model", None) or ""),
        status=status,
        provider_status=raw,
        created_at=_when(item.create_time),
        training_file=_short(str(item.dataset)),
        method=Method.DPO.value if dpo else Method.SUPERVISED.value,
        validation_file=(
            _short(str(item.evaluation_dataset))
            if getattr(item, "evaluation_dataset", None)
            else None
        ),
        hyperparameters=Hyperparameters(
            n_epochs=getattr(config, "epochs", None),
            batch_size=getattr(config, "batch_size_samples", None),
            learning_rate_multiplier=getattr(config, "learning_rate", None),
            beta=_dpo_beta(item) if dpo else None,
            lora_r=getattr(config, "lora_rank", None),
            warmup_steps=getattr(config, "learning_rate_warmup_steps", None),
            context_length=getattr(config, "max_context_length", None),
        ),
        suffix=own,
        # The output model is named at create time; it is a model only once completed.
        fine_tuned_model=str(output) if output and status is JobStatus.SUCCEEDED else None,
        error=error,
        finished_at=_when(completed) if status.terminal and completed else None,
        metadata=carried,
        provider_cost=_dollars(getattr(item, "estimated_cost", None)),
    )


def _dollars(money: Any) -> float | None:
    """A google.type.Money (`units` as a string, `nanos`) in US dollars; None when absent or
    in another currency (the core counts dollars)."""
    if money is None:
        return None
    currency = str(getattr(money, "currency_code", None) or "USD")
    if currency != "USD":
        log.info("Fireworks estimate in another currency", extra={"currency": currency})
        return None
    units, nanos = getattr(money, "units", None), getattr(money, "nanos", None)
    if units is None and nanos is None:
        return None
    try:
        return int(units or 0) + int(nanos or 0) / 1e9
    except ValueError:
        return None


def _dpo_beta(item: Any) -> float | None:
    loss = getattr(item, "loss_config", None)
    dpo = getattr(loss, "dpo", None) if loss is not None else None
    beta = getattr(dpo, "beta", None) if dpo is not None else None
    return float(beta) if isinstance(beta, int | float) else None


__all__ = ["DIRECT_UPLOAD_LIMIT", "FireworksProvider"]
