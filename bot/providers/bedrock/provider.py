"""Provider adapter: fine-tuning on Amazon Bedrock (model customization) over aiobotocore."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from bot.providers.bedrock.account import BedrockAccount, Endpoints
from bot.providers.bedrock.convert import Conversion, convert_file
from bot.providers.bedrock.errors import aws_call
from bot.providers.bedrock.mapping import JOB_PREFIX, custom_model_name, job_state
from bot.providers.bedrock.metrics import TRAINING_CSV, VALIDATION_CSV, metric_points
from bot.providers.bedrock.models import BASE_MODELS, BaseModel, base_model
from bot.providers.bedrock.profile import PROFILE
from bot.providers.bedrock.staging import MULTIPART_THRESHOLD, PART_BYTES, Staging
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    JobSpec,
    JobState,
    MetricPoint,
    ProviderFile,
    ProviderModel,
    as_float,
)
from handlers.profile import ProviderProfile

_FIELDS = {"epochs": "epochCount", "batch_size": "batchSize", "lr": "learningRate"}
"""The core's options as Bedrock's hyperParameters names them (strings, by model)."""
_EPOCH = datetime.fromtimestamp(0, UTC)

DEPLOY_FIRST = (
    "this custom model has no on-demand deployment or provisioned throughput, and Bedrock "
    "serves a custom model only from one. Set one up in the Bedrock console (Custom models, "
    "the model, Deploy for on-demand inference: billed per token like the base model, in "
    "us-east-1 and us-west-2; or Purchase Provisioned Throughput: billed per model unit per "
    "hour, with or without a commitment) and try again"
)


class BedrockProvider:
    """The FineTuning port plus stop, Converse and the metrics file, for one AWS account,
    region and bucket.

    Files are staged in the account's bucket under its prefix, named by their sha256 (see
    staging.py); a job converts the staged canonical file for its model (the form depends on
    it) and stages that beside it. The bot names each job from its idempotency key and sends
    the key's hash as clientRequestToken, so a retried create is the first job."""

    def __init__(
        self,
        account: BedrockAccount,
        *,
        endpoints: Endpoints | None = None,
        timeout: float = 60.0,
        max_attempts: int = 3,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self._account = account
        self._endpoints = endpoints or Endpoints()
        self._config = AioConfig(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
        )
        # A create is never resent unseen: after a lost answer the job is looked up first.
        self._once = self._config.merge(AioConfig(retries={"total_max_attempts": 1}))
        self._session = AioSession()
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._staging = Staging(
            lambda: self._client("s3"),
            account,
            multipart_threshold=multipart_threshold,
            part_bytes=part_bytes,
        )

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def label(self) -> str:
        return "Amazon Bedrock"

    @property
    def is_simulation(self) -> bool:
        return False

    @property
    def profile(self) -> ProviderProfile:
        return PROFILE

    @property
    def account(self) -> BedrockAccount:
        return self._account

    async def _client(self, service: str, *, once: bool = False) -> Any:
        name = f"{service}:once" if once else service
        async with self._lock:
            if name not in self._clients:
                self._clients[name] = await self._stack.enter_async_context(
                    self._session.create_client(
                        service,
                        region_name=self._account.region,
                        endpoint_url=self._endpoints.of(service),
                        aws_access_key_id=self._account.access_key_id,
                        aws_secret_access_key=self._account.secret_access_key,
                        config=self._once if once else self._config,
                    )
                )
            return self._clients[name]

    # -- identity, for the setup check --------------------------------------------------------

    async def caller_identity(self) -> str:
        """The ARN the credentials act as (sts get_caller_identity: a harmless call)."""
        sts = await self._client("sts")
        answer = await aws_call(sts.get_caller_identity())
        return str(answer.get("Arn", ""))

    async def probe_write(self, name: str) -> None:
        """Write and delete one empty object under the prefix: can this identity stage?"""
        await self._staging.probe(name)

    # -- files ----------------------------------------------------------------------------

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Stage the canonical file (once per content, in parts when large); a job converts
        it for its model."""
        return await self._staging.stage(path, filename=filename, progress=progress)

    async def delete_file(self, file_id: str) -> None:
        """Delete the staged file and every converted form of it made for a job."""
        await self._staging.delete(file_id)

    async def file_content(self, file_id: str) -> bytes:
        return await self._staging.read(self._staging.staged_key(file_id))

    async def _converted(self, file_id: str, model: BaseModel) -> str:
        """The staged canonical file converted for `model`, staged beside it (once per
        content): its S3 URI. A line the model cannot take refuses the start, naming it."""
        key = self._staging.staged_key(file_id)
        with tempfile.TemporaryDirectory(prefix="ftb-bedrock-") as scratch:
            source = Path(scratch) / "canonical.jsonl"
            target = Path(scratch) / "converted.jsonl"
            await self._staging.download(key, source)

            def run() -> Conversion:
                with target.open("wb") as out:
                    return convert_file(source, out, model)

            conversion = await asyncio.to_thread(run)
            if not conversion.ok:
                raise ProviderError(ProviderErrorKind.BAD_REQUEST, conversion.summary(model))
            name = f"{model.data.value}-{conversion.sha256}.jsonl"
            return await self._staging.stage_beside(self._staging.content_name(key), name, target)

    # -- jobs -----------------------------------------------------------------------------

    def _check(self, spec: JobSpec) -> BaseModel:
        """The spec's model, or the one refusal naming what Bedrock cannot take and the fix."""
        model = base_model(spec.model)
        if model is None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"{spec.model[:80]} is not a model Bedrock fine-tunes here; use one of "
                + ", ".join(BASE_MODELS)
                + " (/finetune providers)",
            )
        if self._account.region not in model.regions:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"Bedrock fine-tunes {model.label} in {', '.join(sorted(model.regions))}, not "
                f"in {self._account.region}: set the account's region to one of those "
                "(/finetune setup) or pick a model tuned in your region",
            )
        if spec.seed is not None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                "seed is not an option on Amazon Bedrock (its jobs take none); drop seed=",
            )
        hp = spec.hyperparameters
        for name, value in _options(spec).items():
            if value is not None and name not in model.hyperparameters:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"{name}= is not an option {model.label} takes on Bedrock; drop it",
                )
        others = {
            "beta": hp.beta,
            "checkpoints": hp.n_checkpoints,
            "evals": hp.n_evals,
            "warmup": hp.warmup_ratio,
            "lora_r": hp.lora_r,
            "lora_alpha": hp.lora_alpha,
        }
        for name, value in others.items():
            if value is not None:
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"{name}= is not an option on Amazon Bedrock; drop it",
                )
        return model

    async def create_job(self, spec: JobSpec, *, idempotency_key: str) -> JobState:
        model = self._check(spec)
        token = hashlib.sha256(idempotency_key.encode()).hexdigest()
        name = JOB_PREFIX + token[:20]
        training = await self._converted(spec.training_file, model)
        validation = (
            await self._converted(spec.validation_file, model) if spec.validation_file else None
        )
        output = self._staging.uri(self._staging.key("output", name)) + "/"
        request: dict[str, Any] = {
            "jobName": name,
            "customModelName": custom_model_name(spec.suffix, token),
            "roleArn": self._account.role_arn,
            "baseModelIdentifier": model.id,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": training},
            "outputDataConfig": {"s3Uri": output},
            "hyperParameters": {
                _FIELDS[k]: _text(v) for k, v in _options(spec).items() if v is not None
            },
            "clientRequestToken": token[:64],
            "jobTags": [{"key": k, "value": v[:256]} for k, v in spec.metadata.items()][:40],
        }
        if validation is not None:
            request["validationDataConfig"] = {"validators": [{"s3Uri": validation}]}
        bedrock = await self._client("bedrock", once=True)
        try:
            await aws_call(bedrock.create_model_customization_job(**request))
        except ProviderError as error:
            if error.kind is ProviderErrorKind.BAD_REQUEST and "already exists" in error.detail:
                return await self.get_job(name)  # an earlier attempt with this key made it
            if not error.retryable:
                raise
            # The answer may be lost after Bedrock made the job: look before any retry.
            try:
                return await self.get_job(name)
            except ProviderError:
                raise error from None
        return await self.get_job(name)

    async def get_job(self, job_id: str) -> JobState:
        if not PROFILE.is_job_id(job_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        bedrock = await self._client("bedrock")
        job = await aws_call(bedrock.get_model_customization_job(jobIdentifier=job_id))
        tags = await aws_call(bedrock.list_tags_for_resource(resourceARN=job["jobArn"]))
        state = job_state(job, {str(t["key"]): str(t["value"]) for t in tags.get("tags", [])})
        # The job trains on the converted forms; the core knows the files as staged.
        validation = state.validation_file
        return replace(
            state,
            training_file=self._staging.source_of(state.training_file),
            validation_file=self._staging.source_of(validation) if validation else None,
        )

    async def list_jobs(
        self, *, metadata: Mapping[str, str] | None = None, limit: int = 20
    ) -> Sequence[JobState]:
        """The bot's jobs (named ftb-…), newest first, every page (nextToken) until `limit`
        match `metadata` (read from each job's tags)."""
        bedrock = await self._client("bedrock")
        found: list[JobState] = []
        token: str | None = None
        for _ in range(50):
            extra = {"nextToken": token} if token else {}
            page = await aws_call(
                bedrock.list_model_customization_jobs(
                    nameContains=JOB_PREFIX,
                    sortBy="CreationTime",
                    sortOrder="Descending",
                    maxResults=100,
                    **extra,
                )
            )
            for summary in page.get("modelCustomizationJobSummaries", []):
                if not PROFILE.is_job_id(str(summary.get("jobName", ""))):
                    continue
                state = await self.get_job(str(summary["jobName"]))
                if all(state.metadata.get(k) == v for k, v in (metadata or {}).items()):
                    found.append(state)
                if len(found) >= limit:
                    return found
            token = page.get("nextToken")
            if not token:
                break
        return found

    async def cancel_job(self, job_id: str) -> JobState:
        if not PROFILE.is_job_id(job_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        bedrock = await self._client("bedrock")
        await aws_call(bedrock.stop_model_customization_job(jobIdentifier=job_id))
        return await self.get_job(job_id)

    async def list_models(self) -> Sequence[ProviderModel]:
        """The account's region's foundation models that Bedrock fine-tunes."""
        bedrock = await self._client("bedrock")
        answer = await aws_call(bedrock.list_foundation_models(byCustomizationType="FINE_TUNING"))
        return [
            ProviderModel(
                id=str(m["modelId"]), created_at=_EPOCH, owned_by=str(m.get("providerName", ""))
            )
            for m in answer.get("modelSummaries", [])
        ]

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        """The step-wise training metrics Bedrock writes to the job's output location when
        it completes, with the validation CSV's loss at its steps; none before then. An
        output location this identity cannot read is a ProviderError saying so (the watcher
        reports the job's status all the same, and its notice says why there is no chart)."""
        if not PROFILE.is_job_id(job_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        output = self._staging.key("output", job_id) + "/"
        try:
            keys = await self._staging.keys(output)
            training = next((k for k in keys if k.endswith(TRAINING_CSV)), None)
            if training is None:
                return []
            validation = next((k for k in keys if k.endswith(VALIDATION_CSV)), None)
            return metric_points(
                await self._staging.read(training),
                await self._staging.read(validation) if validation else None,
            )
        except ProviderError as error:
            raise ProviderError(
                error.kind,
                f"Bedrock's step-wise metrics could not be read from "
                f"{self._staging.uri(output)} ({error.kind}): allow s3:ListBucket and "
                "s3:GetObject there to the bot's identity" + await self._final_losses(job_id),
                retry_after=error.retry_after,
            ) from None

    async def _final_losses(self, job_id: str) -> str:
        """The job's own final losses (trainingMetrics, validationMetrics), said where the
        step-wise file cannot be read; "" when the job has none or cannot be read either."""
        bedrock = await self._client("bedrock")
        try:
            job = await aws_call(bedrock.get_model_customization_job(jobIdentifier=job_id))
        except ProviderError:
            return ""
        train = as_float((job.get("trainingMetrics") or {}).get("trainingLoss"))
        valid = [
            v
            for m in job.get("validationMetrics") or []
            if (v := as_float(m.get("validationLoss"))) is not None
        ]
        said = [f"final training loss {train:.4g}"] if train is not None else []
        said += [f"validation loss {valid[-1]:.4g}"] if valid else []
        return f"; Bedrock reports a {' and '.join(said)}" if said else ""

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
        """Converse on a base model, or on a custom model's on-demand deployment or
        provisioned throughput (found by its ARN); Bedrock keeps no completions, so `store`
        and `metadata` have nowhere to go."""
        target = await self._serving(model) if PROFILE.is_tuned_model(model) else model
        runtime = await self._client("bedrock-runtime")
        system = [{"text": m.content} for m in messages if m.role in ("system", "developer")]
        turns = [
            {"role": m.role, "content": [{"text": m.content}]}
            for m in messages
            if m.role in ("user", "assistant")
        ]
        extra: dict[str, Any] = {"system": system} if system else {}
        if max_tokens is not None:
            extra["inferenceConfig"] = {"maxTokens": max_tokens}
        started = time.monotonic()
        answer = await aws_call(runtime.converse(modelId=target, messages=turns, **extra))
        try:
            blocks = answer["output"]["message"]["content"]
            usage = answer.get("usage", {})
            return ChatResult(
                id=str(answer["ResponseMetadata"].get("RequestId") or target),
                model=model,
                content="".join(str(b.get("text", "")) for b in blocks),
                prompt_tokens=int(usage.get("inputTokens", 0)),
                completion_tokens=int(usage.get("outputTokens", 0)),
                latency_s=time.monotonic() - started,
                finish_reason=str(answer.get("stopReason") or "stop"),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None

    async def _serving(self, model_arn: str) -> str:
        """The ARN that serves a custom model: an Active on-demand deployment, else an
        InService provisioned throughput; without either, what to set up and what it costs."""
        bedrock = await self._client("bedrock")
        await aws_call(bedrock.get_custom_model(modelIdentifier=model_arn))
        deployments = await aws_call(
            bedrock.list_custom_model_deployments(modelArnEquals=model_arn, statusEquals="Active")
        )
        for found in deployments.get("modelDeploymentSummaries", []):
            return str(found["customModelDeploymentArn"])
        throughputs = await aws_call(
            bedrock.list_provisioned_model_throughputs(
                modelArnEquals=model_arn, statusEquals="InService"
            )
        )
        for found in throughputs.get("provisionedModelSummaries", []):
            return str(found["provisionedModelArn"])
        raise ProviderError(ProviderErrorKind.BAD_REQUEST, DEPLOY_FIRST)


def _options(spec: JobSpec) -> dict[str, int | float | None]:
    hp = spec.hyperparameters
    return {"epochs": hp.n_epochs, "batch_size": hp.batch_size, "lr": hp.learning_rate_multiplier}


def _text(value: float) -> str:
    return str(value) if isinstance(value, int) else format(value, "g")


__all__ = ["DEPLOY_FIRST", "BedrockProvider"]
