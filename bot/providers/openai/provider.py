"""Provider adapter: fine-tuning through the openai SDK (OpenAI, Azure OpenAI, compatible APIs)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx2
from openai import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncAzureOpenAI,
    AsyncOpenAI,
    Omit,
    OpenAIError,
    omit,
)
from openai.types.fine_tuning import (
    DpoHyperparametersParam,
    SupervisedHyperparametersParam,
    job_create_params,
)

from bot.providers.openai.profile import PROFILE, metric_point
from bot.providers.retry_after import retry_after as header_delay
from handlers.chat import ChatMessage, ChatResult, StoredCompletion
from handlers.errors import ProviderAnswerError, ProviderError, ProviderErrorKind
from handlers.model import (
    Checkpoint,
    Hyperparameters,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    MetricValue,
    ProviderFile,
    ProviderModel,
)
from handlers.profile import ProviderProfile

log = logging.getLogger(__name__)

_T = TypeVar("_T")

OPENAI_HOST = "api.openai.com"
IDEMPOTENCY_METADATA_KEY = "ftbot_idem"
"""Metadata key that carries the caller's idempotency key on every job this bot creates."""

_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "billing_hard_limit_reached",
        "billing_not_active",
        "access_terminated",
        "quota_exceeded",
    }
)
_SECRET_PATTERN = re.compile(r"\b(sk|sess|org|proj)-[A-Za-z0-9_\-*]{8,}")
MAX_PAGES = 100
"""The most pages one listing reads: a server that never ends cannot hold a command."""
MAX_SCAN_PAGES = 50
"""The most pages a filtered scan (stored completions, jobs by tag) reads before it stops."""
MAX_MESSAGE_PAGES = 10
"""A stored completion's request messages: 100 a page, so up to 1,000 of them."""

FILES_API_MAX_BYTES = 512 << 20
"""Files API limit per file; anything larger goes through the Uploads API."""
UPLOAD_PART_BYTES = 64 << 20
"""The Uploads API's largest part."""
MAX_UPLOAD_BYTES = 8 << 30


class _MalformedError(Exception):
    """A response object lacks a field the port needs, or holds the wrong type."""


class OpenAIProvider:
    """The Provider port over `AsyncOpenAI`: one client, SDK errors mapped to `ProviderError`.

    Build it with `OpenAIProvider.openai(...)` or `OpenAIProvider(client)` for any
    already-built `AsyncOpenAI` (compatible endpoints too); bot/providers/azure/ builds it for
    Azure OpenAI, with what differs there.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        label: str | None = None,
        close_client: bool = True,
        create_attempts: int = 3,
        create_retry_delay: float = 1.0,
        max_create_retry_delay: float = 30.0,
        max_event_pages: int = 50,
        max_pages: int = MAX_PAGES,
        max_scan_pages: int = MAX_SCAN_PAGES,
        chunked_threshold: int = FILES_API_MAX_BYTES,
        part_bytes: int = UPLOAD_PART_BYTES,
        profile: ProviderProfile = PROFILE,
    ) -> None:
        self._profile = profile
        self.chunked_threshold = chunked_threshold
        self.part_bytes = max(1, min(part_bytes, UPLOAD_PART_BYTES))
        self._client = client
        # Job creation must not be retried by the SDK: a retry after a lost answer would start
        # (and bill) a second job. create_job retries itself, after an idempotency lookup.
        self._create_client = client.with_options(max_retries=0)
        self._label = label or _label_for(client)
        self._close_client = close_client
        self._create_attempts = max(1, create_attempts)
        self._create_retry_delay = max(0.0, create_retry_delay)
        self._max_create_retry_delay = max_create_retry_delay
        self._max_event_pages = max(1, max_event_pages)
        self._max_pages = max(1, max_pages)
        self._max_scan_pages = max(1, max_scan_pages)
        key = getattr(client, "api_key", None)
        self._secrets = tuple(s for s in (key,) if isinstance(s, str) and len(s) >= 4)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def openai(
        cls,
        api_key: str,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        organization: str | None = None,
        project: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        **options: Any,
    ) -> OpenAIProvider:
        """OpenAI itself, or any OpenAI-compatible server when `base_url` is given."""
        client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            organization=organization,
            project=project,
            http_client=http_client,
        )
        return cls(client, **options)

    async def aclose(self) -> None:
        if self._close_client:
            await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return self._label

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        """OpenAI's, or that of the family this client serves in OpenAI's shape."""
        return self._profile

    # -- files ------------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Up to `chunked_threshold` bytes through the Files API; larger files (to 8 GB)
        through the Uploads API in parts read one at a time from disk."""
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        if size > self.chunked_threshold:
            return await self._upload_in_parts(path, filename, size, progress)
        with path.open("rb") as handle:
            file = await self._call(
                self._client.files.create(file=(filename, handle), purpose="fine-tune")
            )
        if progress is not None:
            progress(size, size)
        return self._map(_file, file)

    async def _upload_in_parts(
        self,
        path: Path,
        filename: str,
        size: int,
        progress: Callable[[int, int], None] | None,
    ) -> ProviderFile:
        if size > MAX_UPLOAD_BYTES:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"{filename} is {size / (1 << 30):.1f} GB; the provider takes at most 8 GB",
            )
        upload = await self._call(
            self._client.uploads.create(
                bytes=size, filename=filename, mime_type="text/jsonl", purpose="fine-tune"
            )
        )
        digest = hashlib.md5(usedforsecurity=False)
        part_ids: list[str] = []
        done = 0
        # Any failure after the Upload exists cancels it, so no half-made upload is left open.
        try:
            with path.open("rb") as handle:
                while done < size:
                    # One part in memory at a time; reading it must not block the event loop.
                    data = await asyncio.to_thread(handle.read, self.part_bytes)
                    if not data:
                        break
                    digest.update(data)
                    part = await self._call(
                        self._client.uploads.parts.create(upload.id, data=data)
                    )
                    part_ids.append(part.id)
                    done += len(data)
                    if progress is not None:
                        progress(done, size)
            completed = await self._call(
                self._client.uploads.complete(upload.id, part_ids=part_ids, md5=digest.hexdigest())
            )
            if getattr(completed, "file", None) is None:
                status = getattr(completed, "status", None)
                raise ProviderAnswerError(
                    f"upload {upload.id} of {filename} came back {status or 'without a status'} "
                    "with no file in it (file: null); it was cancelled, upload the file again"
                )
            file = self._map(_file, completed.file)
        except BaseException:
            log.warning("chunked upload failed, cancelling it", extra={"upload_id": upload.id})
            with contextlib.suppress(Exception):
                await self._client.uploads.cancel(upload.id)
            raise
        log.info(
            "chunked upload completed",
            extra={"upload_id": upload.id, "parts": len(part_ids), "bytes": size},
        )
        return file

    async def list_files(self) -> Sequence[ProviderFile]:
        items = await self._walk(
            lambda after: self._client.files.list(purpose="fine-tune", after=_given(after)),
            what="files",
        )
        return [self._map(_file, item) for item in items]

    async def get_file(self, file_id: str) -> ProviderFile:
        return self._map(_file, await self._call(self._client.files.retrieve(file_id)))

    async def delete_file(self, file_id: str) -> None:
        await self._call(self._client.files.delete(file_id))

    # -- jobs -------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        """Create a job exactly once: look the key up before the first and every later try."""
        existing = await self._find_job(idempotency_key)
        if existing is not None:
            return existing
        metadata = {**spec.metadata, IDEMPOTENCY_METADATA_KEY: idempotency_key}
        attempt = 0
        while True:
            attempt += 1
            try:
                job = await self._call(
                    self._create_client.fine_tuning.jobs.create(
                        model=spec.model,
                        training_file=spec.training_file,
                        method=self._create_method(spec),
                        metadata=metadata,
                        suffix=spec.suffix if spec.suffix is not None else omit,
                        seed=spec.seed if spec.seed is not None else omit,
                        validation_file=(
                            spec.validation_file if spec.validation_file is not None else omit
                        ),
                        extra_body=self._create_extra(spec),
                    )
                )
                return self._map(self._job, job)
            except ProviderError as error:
                delay = self._create_retry_after(error, attempt)
                if delay is None:
                    raise
                log.warning(
                    "job create failed, checking before retrying",
                    extra={"kind": str(error.kind), "attempt": attempt, "delay": delay},
                )
                await asyncio.sleep(delay)
                # A lookup failure propagates: without knowing, a second create could duplicate.
                existing = await self._find_job(idempotency_key)
                if existing is not None:
                    return existing

    async def get_job(self, job_id: str) -> JobState:
        return self._map(
            self._job, await self._call(self._client.fine_tuning.jobs.retrieve(job_id))
        )

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        jobs: list[JobState] = []

        def take(items: list[Any]) -> bool:
            for item in items:
                job = self._map(self._job, item)
                # Some compatible servers ignore the filter; never hand back another tag's jobs.
                if all(job.metadata.get(k) == v for k, v in (metadata or {}).items()):
                    jobs.append(job)
            return len(jobs) >= limit

        await self._walk(
            lambda after: self._client.fine_tuning.jobs.list(
                limit=min(max(limit, 1), 100),
                metadata=dict(metadata) if metadata else omit,
                after=_given(after),
            ),
            what="fine-tuning jobs",
            take=take,
            max_pages=self._max_scan_pages,
            cap_is_end=True,
        )
        return jobs[:limit]

    async def cancel_job(self, job_id: str) -> JobState:
        return self._map(self._job, await self._call(self._client.fine_tuning.jobs.cancel(job_id)))

    async def pause_job(self, job_id: str) -> JobState:
        return self._map(self._job, await self._call(self._client.fine_tuning.jobs.pause(job_id)))

    async def resume_job(self, job_id: str) -> JobState:
        return self._map(self._job, await self._call(self._client.fine_tuning.jobs.resume(job_id)))

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        """Events newer than `cursor` (all if None), oldest first; `limit` is the page size.

        The API lists newest first and `after=<id>` pages toward older events, so walk pages
        until the cursor shows up or the list ends.
        """
        newer: list[JobEvent] = []
        seen: set[str] = set()

        def take(items: list[Any]) -> bool:
            for item in items:
                event = self._map(_event, item, job_id)
                if cursor is not None and event.id == cursor:
                    return True
                if event.id not in seen:
                    seen.add(event.id)
                    newer.append(event)
            return False

        await self._walk(
            lambda after: self._client.fine_tuning.jobs.list_events(
                job_id, limit=limit, after=_given(after)
            ),
            what=f"events of {job_id}",
            take=take,
            max_pages=self._max_event_pages,
            cap_is_end=True,
        )
        return newer[::-1]

    async def list_checkpoints(self, job_id: str) -> Sequence[Checkpoint]:
        items = await self._walk(
            lambda after: self._client.fine_tuning.jobs.checkpoints.list(
                job_id, after=_given(after)
            ),
            what=f"checkpoints of {job_id}",
        )
        return [self._map(_checkpoint, item, job_id) for item in items]

    # -- models -----------------------------------------------------------------------------

    async def list_models(self) -> Sequence[ProviderModel]:
        # The models list has no cursor in the API (one request); the walk still refuses a
        # server that claims more behind it.
        items = await self._walk(lambda after: self._client.models.list(), what="models")
        return [self._map(_model, item) for item in items]

    # -- chat completions -------------------------------------------------------------------

    async def file_content(self, file_id: str) -> bytes:
        response = await self._call(self._client.files.content(file_id))
        return response.content

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        started = time.monotonic()
        answer = await self._call(
            self._client.chat.completions.create(
                model=model,
                messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                max_completion_tokens=max_tokens if max_tokens is not None else omit,
                store=store,
                metadata=dict(metadata) if metadata else omit,
            )
        )
        elapsed = time.monotonic() - started
        if not getattr(answer, "choices", None):
            # The API allows an empty list (e.g. a filtered answer): say so, never crash on it.
            raise ProviderAnswerError(f"{model} sent a chat completion with no choices in it")
        return self._map(_chat_result, answer, f"{elapsed:.6f}")

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        """Newest first; stops at `limit` or at the first completion older than `since`."""
        heads: list[Any] = []

        def take(items: list[Any]) -> bool:
            for item in items:
                if _older(getattr(item, "created", None), since):
                    return True
                if metadata and any(
                    (getattr(item, "metadata", None) or {}).get(k) != v
                    for k, v in metadata.items()
                ):
                    continue  # a compatible server that ignores the filter
                heads.append(item)
                if len(heads) >= limit:
                    return True
            return False

        # A filter that rejects everything must not walk the account forever: the scan ends
        # at its page cap with what it found.
        await self._walk(
            lambda after: self._client.chat.completions.list(
                model=model if model is not None else omit,
                metadata=dict(metadata) if metadata else omit,
                order="desc",
                limit=min(max(limit, 1), 100),
                after=_given(after),
            ),
            what="stored chat completions",
            take=take,
            max_pages=self._max_scan_pages,
            cap_is_end=True,
        )
        gate = asyncio.Semaphore(8)

        async def with_messages(item: Any) -> StoredCompletion:
            async with gate:
                listed = await self._walk(
                    lambda after: self._client.chat.completions.messages.list(
                        item.id, limit=100, after=_given(after)
                    ),
                    what=f"messages of stored completion {item.id}",
                    max_pages=MAX_MESSAGE_PAGES,
                )
            return self._map(lambda head: _stored(head, listed), item)

        return list(await asyncio.gather(*(with_messages(item) for item in heads)))

    # -- plumbing ---------------------------------------------------------------------------

    async def _find_job(self, idempotency_key: str) -> JobState | None:
        jobs = await self.list_jobs(metadata={IDEMPOTENCY_METADATA_KEY: idempotency_key})
        return jobs[0] if jobs else None

    def _job(self, item: object) -> JobState:
        return _job(item, self._profile)

    def _create_method(self, spec: JobSpec) -> job_create_params.Method | Omit:
        """The create body's `method`; a family that takes the hyperparameters elsewhere
        (Nebius: the top-level object) leaves it out."""
        return _method(spec)

    def _create_extra(self, spec: JobSpec) -> dict[str, object] | None:
        """Fields of the create body beyond OpenAI's own; a family in this shape that needs
        more (Azure's training tier) names them."""
        return None

    def _create_retry_after(self, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before the next create, or None to give up now."""
        if not error.retryable or attempt >= self._create_attempts:
            return None
        backoff = self._create_retry_delay * 2 ** (attempt - 1)
        delay = error.retry_after if error.retry_after is not None else backoff
        return delay if delay <= self._max_create_retry_delay else None

    async def _call(self, request: Awaitable[_T]) -> _T:
        try:
            return await request
        except OpenAIError as error:
            raise self._error(error) from None
        except ValueError as error:
            # A 2xx body that is not JSON: the SDK lets json's decoder error through.
            log.warning("unreadable provider response", extra={"error": type(error).__name__})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def _walk(
        self,
        fetch: Callable[[str | None], Awaitable[Any]],
        *,
        what: str,
        take: Callable[[list[Any]], bool] | None = None,
        max_pages: int | None = None,
        cap_is_end: bool = False,
    ) -> list[Any]:
        """Every item of a cursor-paged list, first page to last: the one paging loop.

        `fetch(after)` asks for one page. The walk ends when the provider says there is no
        more, sends an empty page, or `take(items)` returns True (the caller has enough). A
        `has_more: true` whose cursor does not advance, or a list longer than `max_pages`, is
        the provider's fault and raised as ProviderAnswerError naming it; with `cap_is_end`
        (a scan that may stop early) the cap just ends the walk. Items are deduplicated by id.
        """
        cap = max_pages or self._max_pages
        items: list[Any] = []
        ids: set[str] = set()
        cursors: set[str] = set()
        after: str | None = None
        for number in range(1, cap + 1):
            page = await self._call(fetch(after))
            found = self._page_items(page)
            fresh = [i for i in found if not _seen(i, ids)]
            items.extend(fresh)
            if take is not None and take(fresh):
                return items
            # The spec makes `has_more` required on every cursor list: without a true one
            # (the models list has none at all) the list is complete.
            if not found or getattr(page, "has_more", None) is not True:
                return items
            last = _field(found[-1], "id")
            if not isinstance(last, str) or last in cursors or last == after:
                raise ProviderAnswerError(
                    f"the {what} list said has_more=true but page {number} ended with the "
                    f"cursor {str(last)[:80]!r} again; listing stopped there"
                )
            cursors.add(last)
            after = last
        if cap_is_end:
            log.warning("paging stopped at the page cap", extra={"list": what, "pages": cap})
            return items
        raise ProviderAnswerError(
            f"the {what} list still had more after {cap} pages; listing stopped there"
        )

    @staticmethod
    def _page_items(page: object) -> list[Any]:
        data = getattr(page, "data", None)
        if data is None:
            return []
        if not isinstance(data, list):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE)
        return data

    def _map(self, mapper: Callable[..., _T], item: object, *args: str) -> _T:
        try:
            return mapper(item, *args)
        except (
            _MalformedError,
            AttributeError,
            TypeError,
            ValueError,
            OverflowError,
            IndexError,
            KeyError,
        ) as error:
            log.warning("malformed provider object", extra={"error": self._scrub(str(error))})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    def _error(self, error: OpenAIError) -> ProviderError:
        kind, retry_after, detail = _classify(error)
        detail = self._scrub(detail)
        log.warning(
            "provider call failed",
            extra={
                "kind": str(kind),
                "status": getattr(error, "status_code", None),
                "request_id": getattr(error, "request_id", None),
                "code": getattr(error, "code", None),
            },
        )
        return ProviderError(kind, detail, retry_after=retry_after)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _SECRET_PATTERN.sub(r"\1-***", text)


# -- error classification ---------------------------------------------------------------------


def _classify(error: OpenAIError) -> tuple[ProviderErrorKind, float | None, str]:
    if isinstance(error, APITimeoutError):
        return ProviderErrorKind.TIMEOUT, None, ""
    if isinstance(error, APIConnectionError):
        return ProviderErrorKind.CONNECTION, None, ""
    if isinstance(error, APIResponseValidationError):
        return ProviderErrorKind.INVALID_RESPONSE, None, ""
    if not isinstance(error, APIStatusError):
        return ProviderErrorKind.INVALID_RESPONSE, None, ""
    status = error.status_code
    detail = _api_message(error)
    if _is_quota(error) and status in {400, 402, 403, 429}:
        return ProviderErrorKind.QUOTA, None, detail
    match status:
        case 401:
            return ProviderErrorKind.AUTH, None, detail
        case 403:
            return ProviderErrorKind.PERMISSION, None, detail
        case 404:
            return ProviderErrorKind.NOT_FOUND, None, detail
        case 408:
            return ProviderErrorKind.TIMEOUT, None, detail
        case 429:
            retry_after = header_delay(error.response.headers, now=time.time())
            return ProviderErrorKind.RATE_LIMITED, retry_after, detail
        case 402:
            return ProviderErrorKind.QUOTA, None, detail
        case _ if status >= 500:
            return ProviderErrorKind.SERVER, None, detail
        case _:
            return ProviderErrorKind.BAD_REQUEST, None, detail


def _is_quota(error: APIStatusError) -> bool:
    for value in (error.code, error.type):
        if isinstance(value, str) and (
            value in _QUOTA_CODES or "quota" in value or "billing" in value
        ):
            return True
    return False


def _api_message(error: APIStatusError) -> str:
    body = error.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return str(error.message)


def _label_for(client: AsyncOpenAI) -> str:
    if isinstance(client, AsyncAzureOpenAI):
        return "Azure OpenAI"
    url = client.base_url
    if url.host == OPENAI_HOST:
        return "OpenAI"
    host = f"{url.host}:{url.port}" if url.port else url.host
    return f"OpenAI-compatible ({host})"


def _method(spec: JobSpec) -> job_create_params.Method:
    """The `method` body; unset hyperparameters are left out, which the API reads as "auto"."""
    hp = spec.hyperparameters
    if spec.method is Method.DPO:
        dpo: DpoHyperparametersParam = {}
        if hp.n_epochs is not None:
            dpo["n_epochs"] = hp.n_epochs
        if hp.batch_size is not None:
            dpo["batch_size"] = hp.batch_size
        if hp.learning_rate_multiplier is not None:
            dpo["learning_rate_multiplier"] = hp.learning_rate_multiplier
        if hp.beta is not None:
            dpo["beta"] = hp.beta
        return {"type": "dpo", "dpo": {"hyperparameters": dpo}}
    supervised: SupervisedHyperparametersParam = {}
    if hp.n_epochs is not None:
        supervised["n_epochs"] = hp.n_epochs
    if hp.batch_size is not None:
        supervised["batch_size"] = hp.batch_size
    if hp.learning_rate_multiplier is not None:
        supervised["learning_rate_multiplier"] = hp.learning_rate_multiplier
    return {"type": "supervised", "supervised": {"hyperparameters": supervised}}


def _field(obj: object, name: str) -> object:
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, Mapping):
            return extra.get(name)
    return value


def _str(obj: object, name: str) -> str:
    value = _field(obj, name)
    if not isinstance(value, str):
        raise _MalformedError(f"{name} is not a string")
    return value


def _opt_str(obj: object, name: str) -> str | None:
    value = _field(obj, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _MalformedError(f"{name} is not a string")
    return value


def _opt_int(obj: object, name: str) -> int | None:
    value = _field(obj, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _MalformedError(f"{name} is not a number")
    return int(value)


def _time(obj: object, name: str) -> datetime:
    value = _opt_time(obj, name)
    if value is None:
        raise _MalformedError(f"{name} is missing")
    return value


def _opt_time(obj: object, name: str) -> datetime | None:
    value = _field(obj, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _MalformedError(f"{name} is not a unix time")
    return datetime.fromtimestamp(value, tz=UTC)


def _auto_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # "auto", None or something new: the provider picks
    return int(value)


def _auto_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _scalars(value: object) -> dict[str, MetricValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        dump = getattr(value, "model_dump", None)
        value = dump() if callable(dump) else None
    if not isinstance(value, Mapping):
        raise _MalformedError("expected an object")
    return {
        str(k): v
        for k, v in value.items()
        if v is None or (isinstance(v, int | float | str) and not isinstance(v, bool))
    }


def _file(item: object) -> ProviderFile:
    return ProviderFile(
        id=_str(item, "id"),
        filename=_str(item, "filename"),
        bytes=_opt_int(item, "bytes") or 0,
        created_at=_time(item, "created_at"),
        purpose=_opt_str(item, "purpose") or "fine-tune",
        status=_opt_str(item, "status"),
    )


def _job(item: object, profile: ProviderProfile) -> JobState:
    method = _field(item, "method")
    method_type = (_opt_str(method, "type") if method is not None else None) or "supervised"
    hp_source = _field(_field(method, method_type), "hyperparameters") if method else None
    if hp_source is None:
        hp_source = _field(item, "hyperparameters")
    hyperparameters = Hyperparameters(
        n_epochs=_auto_int(_field(hp_source, "n_epochs")),
        batch_size=_auto_int(_field(hp_source, "batch_size")),
        learning_rate_multiplier=_auto_float(_field(hp_source, "learning_rate_multiplier")),
        beta=_auto_float(_field(hp_source, "beta")),
    )
    error = _field(item, "error")
    metadata = _field(item, "metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise _MalformedError("metadata is not an object")
    return JobState(
        id=_str(item, "id"),
        model=_str(item, "model"),
        status=profile.status(raw_status := _str(item, "status")),
        provider_status=raw_status,
        created_at=_time(item, "created_at"),
        training_file=_str(item, "training_file"),
        method=method_type,
        validation_file=_opt_str(item, "validation_file"),
        hyperparameters=hyperparameters,
        suffix=_opt_str(item, "user_provided_suffix"),
        seed=_opt_int(item, "seed"),
        fine_tuned_model=_opt_str(item, "fine_tuned_model"),
        trained_tokens=_opt_int(item, "trained_tokens"),
        error=(_opt_str(error, "message") or _opt_str(error, "code")) if error else None,
        finished_at=_opt_time(item, "finished_at"),
        estimated_finish=_opt_time(item, "estimated_finish"),
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
    )


def _event(item: object, job_id: str) -> JobEvent:
    kind = _opt_str(item, "type") or "message"
    data = _scalars(_field(item, "data"))
    return JobEvent(
        id=_str(item, "id"),
        job_id=job_id,
        created_at=_time(item, "created_at"),
        level=_opt_str(item, "level") or "info",
        message=_opt_str(item, "message") or "",
        type=kind,
        data=data,
        metrics=metric_point(kind, data),
    )


def _checkpoint(item: object, job_id: str) -> Checkpoint:
    return Checkpoint(
        id=_str(item, "id"),
        job_id=_opt_str(item, "fine_tuning_job_id") or job_id,
        created_at=_time(item, "created_at"),
        step=_opt_int(item, "step_number") or 0,
        model_name=_str(item, "fine_tuned_model_checkpoint"),
        metrics=_scalars(_field(item, "metrics")),
    )


def _model(item: object) -> ProviderModel:
    return ProviderModel(
        id=_str(item, "id"),
        created_at=_time(item, "created"),
        owned_by=_opt_str(item, "owned_by") or "",
    )


def _chat_result(item: Any, elapsed: str) -> ChatResult:
    choice = item.choices[0]
    content = choice.message.content
    usage = item.usage
    return ChatResult(
        id=_text(item.id),
        model=_text(item.model),
        content=content if isinstance(content, str) else "",
        prompt_tokens=int(usage.prompt_tokens) if usage is not None else 0,
        completion_tokens=int(usage.completion_tokens) if usage is not None else 0,
        latency_s=float(elapsed),
        finish_reason=str(choice.finish_reason or "stop"),
    )


def _stored(item: Any, listed: list[Any]) -> StoredCompletion:
    answer = item.choices[0].message.content if item.choices else ""
    metadata = getattr(item, "metadata", None) or {}
    return StoredCompletion(
        id=_text(item.id),
        model=_text(item.model),
        created_at=datetime.fromtimestamp(int(item.created), UTC),
        metadata=tuple(sorted((str(k), str(v)) for k, v in dict(metadata).items())),
        messages=tuple(
            ChatMessage(role=str(m.role), content=m.content)
            for m in listed
            if isinstance(getattr(m, "content", None), str)
        ),
        answer=answer if isinstance(answer, str) else "",
    )


def _given(after: str | None) -> str | Any:
    """The SDK's `after` argument: the cursor, or left out for the first page."""
    return after if after is not None else omit


def _seen(item: object, ids: set[str]) -> bool:
    """True for an item whose id an earlier page already held (marks it seen otherwise)."""
    ident = _field(item, "id")
    if not isinstance(ident, str):
        return False
    if ident in ids:
        return True
    ids.add(ident)
    return False


def _older(created: object, since: datetime | None) -> bool:
    if since is None or not isinstance(created, int | float):
        return False
    return datetime.fromtimestamp(created, UTC) < since


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _MalformedError(f"expected text, got {type(value).__name__}")
    return value
