"""Provider adapter: Gemini tuning on Vertex AI over google-genai (Vertex mode) and GCS staging.

Files: `upload_file` converts the canonical JSONL to Gemini's form (bot/providers/vertex/
convert.py) and stages both in the team's bucket, named by the canonical bytes' sha256:
`<prefix>gemini/<sha>.jsonl` (what jobs train on; its `gs://` URI is the file id) and
`<prefix>source/<sha>.jsonl` (what `file_content` gives back, for try and compare).

Jobs: `client.aio.tunings` (tune, get, list with page tokens, cancel). Vertex has no
idempotency key, so each job carries a label `ftbot-key` (a hash of the bot's key) and a create
first looks for it, and looks again after a failure whose answer may be lost. The bot's
metadata (team, channel, requester) rides in the job's description as JSON, since label
values cannot hold it. Inference is generateContent on the base model or the tuned model's
endpoint, which Vertex deploys by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self, TypeVar

import httpx
from google.auth import exceptions as auth_errors
from google.genai import Client, errors, types

from bot.providers.vertex.convert import NotConvertible, convert_file
from bot.providers.vertex.profile import (
    ADAPTER_SIZES,
    DETAIL_STATES,
    PROFILE,
    TUNABLE_MODELS,
)
from bot.providers.vertex.staging import Staging
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    Hyperparameters,
    JobSpec,
    JobState,
    Method,
    ProviderFile,
    ProviderModel,
)
from handlers.profile import JobStatus, ProviderProfile
from handlers.secrets import redact

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_EPOCH = datetime.fromtimestamp(0, UTC)
KEY_LABEL: Final = "ftbot-key"
METADATA_MARK: Final = "ftbot "
"""A description that starts so carries the bot's metadata as JSON after it."""
LOOKUP_PAGES: Final = 20
"""How many pages (of PAGE_SIZE, newest first) a create searches for its key."""
PAGE_SIZE: Final = 50
_METHODS: Final = {
    Method.SUPERVISED: "SUPERVISED_FINE_TUNING",
    Method.DPO: "PREFERENCE_TUNING",
}
_JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")
_QUIET = (
    # The SDK warns that tuning is experimental, and once for every state string it does not
    # know; the bot handles both (a new state is live and logged once by the profile).
    (r"The SDK's tuning implementation is experimental", Warning),
    (r".* is not a valid (JobState|TuningJobState|AdapterSize)$", UserWarning),
)


@contextlib.contextmanager
def _sdk_warnings_quiet() -> Iterator[None]:
    """Ignore the SDK's two known warnings for one call, removing only this call's filters
    afterwards, so calls that interleave on the event loop never undo each other's."""
    added = []
    for message, category in _QUIET:
        warnings.filterwarnings("ignore", message=message, category=category)
        added.append(warnings.filters[0])
    try:
        yield
    finally:
        filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list at run time
        for entry in added:
            with contextlib.suppress(ValueError):
                filters.remove(entry)
        # The warnings module caches its filters; a removal must say they changed.
        getattr(warnings, "_filters_mutated", lambda: None)()


class VertexProvider:
    """The FineTuning port plus cancel and chat, for one project, region and bucket."""

    def __init__(
        self,
        client: Client,
        staging: Staging,
        *,
        project: str,
        location: str,
        scratch: Path | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client
        self._http = http
        self._staging = staging
        self._project = project
        self._location = location
        self._scratch = scratch

    @classmethod
    def connect(
        cls,
        *,
        credentials: Any,
        project: str,
        location: str,
        staging: Staging,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> VertexProvider:
        """A client in Vertex mode with these google.auth credentials; `base_url` points it
        at a proxy or a fake. The SDK's own retries are off: a lost answer to a create is the
        bot's to look for, never resent unseen. Its HTTP goes through httpx, the transport
        the other families use (the SDK's aiohttp session subclasses ClientSession, which
        aiohttp deprecates)."""
        http = httpx.AsyncClient(timeout=timeout)
        options = types.HttpOptions(
            api_version="v1",
            timeout=int(timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
            base_url=base_url,
            httpx_async_client=http,
        )
        client = Client(
            vertexai=True,
            project=project,
            location=location,
            credentials=credentials,
            http_options=options,
        )
        return cls(client, staging, project=project, location=location, http=http)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        if self._http is not None:
            await self._http.aclose()
        self._client.close()
        self._staging.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return "Vertex AI"

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    @property
    def staging(self) -> Staging:
        return self._staging

    # -- files: converted, staged in the bucket ------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Convert to Gemini's form, then stage the converted file and the canonical one (each
        once: named by the canonical bytes' hash). A valid example Gemini cannot hold is
        refused before anything is staged; a line that is no example at all (an upload
        forced past the validator) goes as it is, for Vertex to refuse while processing."""
        digest, size = await asyncio.to_thread(_sha256, path)
        with tempfile.TemporaryDirectory(prefix="ftbot-vertex-", dir=self._scratch) as folder:
            converted = Path(folder) / "gemini.jsonl"
            try:
                await asyncio.to_thread(convert_file, path, converted, strict=False)
            except NotConvertible as error:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"{filename} cannot be written in Gemini's form: {error}",
                ) from None
            uri = await self._staging.stage(converted, f"gemini/{digest}.jsonl", progress=progress)
        await self._staging.stage(path, f"source/{digest}.jsonl")
        return ProviderFile(
            id=uri,
            filename=filename,
            bytes=size,
            created_at=datetime.now(UTC),
            status="processed",
        )

    async def delete_file(self, file_id: str) -> None:
        """Delete both staged objects: the converted one and its canonical copy."""
        source = _source_of(file_id)
        if not await self._staging.exists(file_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        await self._staging.delete(file_id)
        with contextlib.suppress(ProviderError):
            await self._staging.delete(source)

    async def file_content(self, file_id: str) -> bytes:
        """The canonical bytes the team uploaded (the staged copy beside the converted file)."""
        return await self._staging.read(_source_of(file_id))

    # -- jobs ------------------------------------------------------------------------------

    def _name(self, job_id: str) -> str:
        if not _JOB_ID.fullmatch(job_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        return f"projects/{self._project}/locations/{self._location}/tuningJobs/{job_id}"

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        config = self._config(spec, idempotency_key)
        label = config.labels[KEY_LABEL] if config.labels else ""
        found = await self._by_key(label)
        if found is not None:
            return found
        try:
            with _sdk_warnings_quiet():
                made = await self._call(
                    self._client.aio.tunings.tune(
                        base_model=spec.model,
                        training_dataset=types.TuningDataset(gcs_uri=spec.training_file),
                        config=config,
                    ),
                    model=spec.model,
                )
        except ProviderError as error:
            if not error.retryable:
                raise
            # The answer may be lost after Vertex made the job: look before any retry.
            try:
                again = await self._by_key(label)
            except ProviderError:
                raise error from None
            if again is None:
                raise
            return again
        return self._job(made)

    def _config(self, spec: JobSpec, idempotency_key: str) -> types.CreateTuningJobConfig:
        if spec.seed is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "seed is not an option on Vertex AI (its tuning takes none); drop seed=",
            )
        method = _METHODS.get(spec.method)
        if method is None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"method={spec.method.value} is not a method Vertex AI tunes Gemini with",
            )
        hp = spec.hyperparameters
        adapter = None
        if hp.lora_r is not None:
            adapter = ADAPTER_SIZES.get(hp.lora_r)
            if adapter is None:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    "lora_r is Gemini's adapter size on Vertex AI: 1, 2, 4, 8 or 16",
                )
        if hp.beta is not None and spec.method is not Method.DPO:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "beta applies to preference tuning only; drop beta=, or use method=dpo",
            )
        for name, value in (("batch_size", hp.batch_size), ("warmup", hp.warmup_ratio)):
            if value is not None:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"{name} is not an option for Gemini on Vertex AI; drop {name}=",
                )
        key = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        return types.CreateTuningJobConfig(
            method=method,  # type: ignore[arg-type]  # the SDK's enum takes its value
            epoch_count=hp.n_epochs,
            learning_rate_multiplier=hp.learning_rate_multiplier,
            adapter_size=adapter,  # type: ignore[arg-type]
            beta=hp.beta,
            tuned_model_display_name=_display_name(spec.suffix),
            description=_describe(spec.metadata),
            labels={KEY_LABEL: key},
            validation_dataset=(
                types.TuningValidationDataset(gcs_uri=spec.validation_file)
                if spec.validation_file
                else None
            ),
        )

    async def _by_key(self, label: str) -> JobState | None:
        """The job this key made, if any (the newest LOOKUP_PAGES pages are searched)."""
        found = None
        async for job in self._jobs(pages=LOOKUP_PAGES):
            if (job.labels or {}).get(KEY_LABEL) == label:
                found = job
                break
        return self._job(found) if found is not None else None

    async def _jobs(self, *, pages: int) -> Any:
        """Tuning jobs, page by page (page tokens), at most `pages` pages."""
        with _sdk_warnings_quiet():
            pager = await self._call(
                self._client.aio.tunings.list(
                    config=types.ListTuningJobsConfig(page_size=PAGE_SIZE)
                )
            )
        seen = 1
        while True:
            for job in pager.page:
                yield job
            if not pager.config.get("page_token") or seen >= pages:
                return
            with _sdk_warnings_quiet():
                await self._call(pager.next_page())
            seen += 1

    async def get_job(self, job_id: str) -> JobState:
        name = self._name(job_id)
        with _sdk_warnings_quiet():
            job = await self._call(self._client.aio.tunings.get(name=name))
        return self._job(job)

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        """The newest jobs first, filtered here by the metadata in their descriptions."""
        found: list[JobState] = []
        async for item in self._jobs(pages=LOOKUP_PAGES):
            job = self._job(item)
            if _matches(job.metadata, metadata):
                found.append(job)
                if len(found) >= limit:
                    break
        return found

    async def cancel_job(self, job_id: str) -> JobState:
        current = await self.get_job(job_id)
        if current.terminal:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST, f"the job is already {current.status}"
            )
        with _sdk_warnings_quiet():
            await self._call(self._client.aio.tunings.cancel(name=self._name(job_id)))
        return await self.get_job(job_id)

    async def list_models(self) -> Sequence[ProviderModel]:
        """The Gemini models Vertex tunes (the reference's list; the create call decides)."""
        return [ProviderModel(id=m, created_at=_EPOCH, owned_by="google") for m in TUNABLE_MODELS]

    # -- chat ------------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """generateContent on a base model or a tuned model's endpoint; Vertex keeps no
        completions, so `store` and `metadata` have nowhere to go."""
        system = "\n".join(m.content for m in messages if m.role in ("system", "developer"))
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user",
                parts=[types.Part(text=m.content)],
            )
            for m in messages
            if m.role not in ("system", "developer")
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None, max_output_tokens=max_tokens
        )
        started = time.monotonic()
        answer = await self._call(
            self._client.aio.models.generate_content(
                model=model,
                contents=contents,
                config=config,
            )
        )
        try:
            candidate = (answer.candidates or [])[0]
            usage = answer.usage_metadata
            return ChatResult(
                id=str(answer.response_id or ""),
                model=model,
                content=str(answer.text or ""),
                prompt_tokens=int(usage.prompt_token_count or 0) if usage else 0,
                completion_tokens=int(usage.candidates_token_count or 0) if usage else 0,
                latency_s=time.monotonic() - started,
                finish_reason=str(candidate.finish_reason or "STOP").lower(),
            )
        except (AttributeError, IndexError, TypeError, ValueError):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    # -- helpers ---------------------------------------------------------------------------

    def _job(self, item: Any) -> JobState:
        try:
            return job_state(item)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            log.warning("malformed Vertex tuning job", extra={"error": str(error)[:200]})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def _call(self, call: Awaitable[_T], *, model: str = "") -> _T:
        try:
            return await call
        except ProviderError:
            raise
        except errors.APIError as error:
            raise _error(error, model=model, location=self._location) from None
        except auth_errors.TransportError:  # the token endpoint could not be reached
            raise ProviderError(ProviderErrorKind.CONNECTION) from None
        except auth_errors.GoogleAuthError:  # the key refused when a token was asked for
            raise ProviderError(ProviderErrorKind.AUTH) from None
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(ProviderErrorKind.TIMEOUT) from None
        except (httpx.TransportError, ConnectionError):
            raise ProviderError(ProviderErrorKind.CONNECTION) from None
        except ValueError:  # the SDK's own parse of an answer it could not read
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None


def _sha256(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def _source_of(file_id: str) -> str:
    """The canonical copy beside a converted file: gemini/<sha> -> source/<sha>."""
    head, slash, tail = file_id.rpartition("/gemini/")
    if not slash or not file_id.startswith("gs://"):
        raise ProviderError(ProviderErrorKind.NOT_FOUND)
    return f"{head}/source/{tail}"


def _error(error: errors.APIError, *, model: str, location: str) -> ProviderError:
    code = int(error.code or 0)
    status = str(error.status or "")
    message = redact(str(error.message or ""))[:300]
    retry_after = None
    headers = getattr(error.response, "headers", None)
    if headers is not None:
        raw = headers.get("retry-after")
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(raw) if raw is not None else None
    log.warning("Vertex call failed", extra={"code": code, "status": status})
    if code == 401:
        return ProviderError(ProviderErrorKind.AUTH)
    if code == 403:
        return ProviderError(ProviderErrorKind.PERMISSION, message)
    if code == 404:
        return ProviderError(ProviderErrorKind.NOT_FOUND, message)
    if code == 429:
        kind = (
            ProviderErrorKind.QUOTA
            if "quota" in message.lower()
            else ProviderErrorKind.RATE_LIMITED
        )
        if retry_after is not None:
            kind = ProviderErrorKind.RATE_LIMITED
        return ProviderError(kind, message, retry_after=retry_after)
    if code == 504 or status == "DEADLINE_EXCEEDED":
        return ProviderError(ProviderErrorKind.TIMEOUT)
    if code >= 500:
        return ProviderError(ProviderErrorKind.SERVER)
    if model and "not supported" in message.lower() and "region" in message.lower():
        message = (
            f"{model} cannot be tuned in {location}: pick a region that has it (us-central1 "
            "has every tunable Gemini) and set the team's region again with /finetune setup"
        )
    return ProviderError(ProviderErrorKind.BAD_REQUEST, message or status)


def _display_name(suffix: str | None) -> str:
    own = (suffix or "").strip()[: PROFILE.max_suffix or 64]
    return own or "finetune-bot"


def _describe(metadata: Mapping[str, str]) -> str | None:
    if not metadata:
        return None
    return METADATA_MARK + json.dumps(dict(metadata), sort_keys=True, separators=(",", ":"))


def _metadata_of(description: str | None) -> dict[str, str]:
    if not description or not description.startswith(METADATA_MARK):
        return {}
    try:
        found = json.loads(description[len(METADATA_MARK) :])
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items() if isinstance(v, str)}


def _matches(carried: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    return not wanted or all(carried.get(k) == v for k, v in wanted.items())


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _value(item: Any) -> str:
    """An SDK enum's value (or the string it kept when the value was new to it)."""
    raw = getattr(item, "value", item)
    return str(raw) if raw is not None else ""


def shown_state(raw: str, detail: str) -> str:
    """The provider's status as users see it: the state and, for a known one, its detail
    state in plain words ("JOB_STATE_PENDING, waiting for quota"). A state the profile does
    not know is kept as it came."""
    words = DETAIL_STATES.get(detail)
    if raw in PROFILE.statuses and words:
        return f"{raw}, {words}"
    return raw


def job_state(item: Any) -> JobState:
    """A google-genai TuningJob as the core's JobState."""
    raw = _value(item.state) or "JOB_STATE_UNSPECIFIED"
    status = PROFILE.status(raw)
    name = str(item.name)
    spec = item.preference_optimization_spec or item.supervised_tuning_spec
    dpo = item.preference_optimization_spec is not None
    hp = getattr(spec, "hyper_parameters", None)
    stats = item.tuning_data_stats
    data = None
    if stats is not None:
        data = stats.preference_optimization_data_stats or stats.supervised_tuning_data_stats
    billable = getattr(data, "total_billable_token_count", None) if data is not None else None
    epochs = getattr(hp, "epoch_count", None) if hp is not None else None
    adapter = _value(getattr(hp, "adapter_size", None)) if hp is not None else ""
    tuned = item.tuned_model
    error: str | None = None
    if status is JobStatus.FAILED:
        message = getattr(item.error, "message", None) if item.error else None
        error = str(message or f"Vertex AI reported the job as {raw}")
    elif raw == "JOB_STATE_PARTIALLY_SUCCEEDED":
        message = getattr(item.error, "message", None) if item.error else None
        error = "Warning: Vertex AI reports the job only partly succeeded" + (
            f": {message}" if message else "; the tuned model is there"
        )
    created = _when(item.create_time) or _EPOCH
    ended = _when(item.end_time)
    return JobState(
        id=name.rsplit("/", 1)[-1],
        model=str(item.base_model or ""),
        status=status,
        provider_status=shown_state(raw, _value(item.tuning_job_state)),
        created_at=created,
        training_file=str(getattr(spec, "training_dataset_uri", None) or ""),
        method=Method.DPO.value if dpo else Method.SUPERVISED.value,
        validation_file=getattr(spec, "validation_dataset_uri", None) or None,
        hyperparameters=Hyperparameters(
            n_epochs=epochs,
            learning_rate_multiplier=getattr(hp, "learning_rate_multiplier", None) if hp else None,
            lora_r=next((n for n, v in ADAPTER_SIZES.items() if v == adapter), None),
            beta=getattr(hp, "beta", None) if hp else None,
        ),
        suffix=(
            None
            if item.tuned_model_display_name in (None, "finetune-bot")
            else str(item.tuned_model_display_name)
        ),
        fine_tuned_model=(
            str(tuned.endpoint)
            if tuned is not None and tuned.endpoint and status is JobStatus.SUCCEEDED
            else None
        ),
        # Vertex bills billable tokens x epochs; the count is known once the data is read.
        trained_tokens=(
            int(billable) * int(epochs or 1)
            if billable is not None and status is JobStatus.SUCCEEDED
            else None
        ),
        error=error,
        finished_at=(ended or _when(item.update_time)) if status.terminal else None,
        estimated_finish=_eta(item, created, status),
        metadata=_metadata_of(item.description),
    )


def _eta(item: Any, created: datetime, status: JobStatus) -> datetime | None:
    """From completed steps against the data's step count, straight-line from the start."""
    if status is not JobStatus.RUNNING:
        return None
    done = getattr(item.tuning_job_metadata, "completed_step_count", None)
    stats = item.tuning_data_stats
    data = stats.supervised_tuning_data_stats if stats is not None else None
    total = getattr(data, "tuning_step_count", None) if data is not None else None
    started = _when(item.start_time) or created
    now = _when(item.update_time)
    if not done or not total or now is None or done >= total:
        return None
    return now + (now - started) * ((int(total) - int(done)) / int(done))


__all__ = ["KEY_LABEL", "VertexProvider", "job_state"]
