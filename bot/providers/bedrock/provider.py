"""Provider adapter: fine-tuning on Amazon Bedrock (model customization) over aiobotocore."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, unquote

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError

from bot.providers.bedrock.convert import convert_file
from bot.providers.bedrock.errors import classify, code_of
from bot.providers.bedrock.models import BaseModel, base_model
from bot.providers.bedrock.profile import PREPARING, PROFILE, TRAINING, VALIDATING
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import (
    Hyperparameters,
    JobSpec,
    JobState,
    MetricPoint,
    ProviderFile,
    ProviderModel,
    as_float,
)
from handlers.profile import JobStatus, ProviderProfile

log = logging.getLogger(__name__)

_T = TypeVar("_T")
MULTIPART_THRESHOLD = 64 * 2**20
"""Files above this go up in parts (S3 takes at most 5 GB in one PUT)."""
PART_BYTES = 16 * 2**20
"""S3's parts are at least 5 MiB, except the last."""
_JOB_PREFIX = "ftb-"
_FIELDS = {"epochs": "epochCount", "batch_size": "batchSize", "lr": "learningRate"}


@dataclass(frozen=True, slots=True, kw_only=True)
class BedrockAccount:
    """Where a team's (or the deployment's) Bedrock work happens."""

    region: str
    role_arn: str
    bucket: str
    prefix: str = "finetune-bot/"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    """None for both: the AWS default chain (the deployment's ambient identity)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    """Endpoint overrides (a proxy, or the tests' moto and Bedrock fakes); None: AWS's."""

    bedrock: str | None = None
    runtime: str | None = None
    s3: str | None = None
    sts: str | None = None


class BedrockProvider:
    """The FineTuning port plus stop and Converse, for one AWS account, region and bucket.

    Files are staged in the team's bucket under its prefix, named by their sha256, so a repeat
    upload sends nothing; a job converts the staged canonical file for its model (the form
    depends on it) and stages that beside it. The bot names each job from its idempotency key
    and sends the key's hash as clientRequestToken, so a retried create is the first job."""

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
            s3={"addressing_style": "path"},
        )
        self._once = self._config.merge(AioConfig(retries={"total_max_attempts": 1}))
        self._threshold = multipart_threshold
        self._part = part_bytes
        self._session = AioSession()
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()

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
                endpoint = {
                    "bedrock": self._endpoints.bedrock,
                    "bedrock-runtime": self._endpoints.runtime,
                    "s3": self._endpoints.s3,
                    "sts": self._endpoints.sts,
                }[service]
                self._clients[name] = await self._stack.enter_async_context(
                    self._session.create_client(
                        service,
                        region_name=self._account.region,
                        endpoint_url=endpoint,
                        aws_access_key_id=self._account.access_key_id,
                        aws_secret_access_key=self._account.secret_access_key,
                        config=self._once if once else self._config,
                    )
                )
            return self._clients[name]

    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except ProviderError:
            raise
        except (ClientError, BotoCoreError, OSError, TimeoutError) as error:
            found = classify(error)
            log.warning(
                "Bedrock call failed",
                extra={"kind": str(found.kind), "code": _code(error)},
            )
            raise found from None

    # -- identity -------------------------------------------------------------------------

    async def caller_identity(self) -> str:
        """The ARN the credentials act as (sts get_caller_identity: a harmless call)."""
        sts = await self._client("sts")
        answer = await self._call(sts.get_caller_identity())
        return str(answer.get("Arn", ""))

    async def probe_write(self, name: str) -> None:
        """Write and delete one small object under the prefix: can this identity stage?"""
        s3 = await self._client("s3")
        key = self._key(name)
        await self._call(s3.put_object(Bucket=self._account.bucket, Key=key, Body=b""))
        await self._call(s3.delete_object(Bucket=self._account.bucket, Key=key))

    # -- staging (the bot's "files") --------------------------------------------------------

    def _key(self, *parts: str) -> str:
        prefix = self._account.prefix
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return prefix + "/".join(parts)

    def _uri(self, key: str) -> str:
        return f"s3://{self._account.bucket}/{key}"

    def _own_key(self, file_id: str) -> str:
        """The object key of a file id this account staged; NOT_FOUND for any other (an id
        from chat never names another bucket or a key outside the team's prefix)."""
        head = f"s3://{self._account.bucket}/"
        key = file_id.removeprefix(head)
        if key == file_id or not key.startswith(self._key("files/")) or ".." in key:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        return key

    async def upload_file(
        self,
        path: Path,
        *,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> ProviderFile:
        """Stage the file at `<prefix>files/<sha256>.jsonl`: nothing is sent when those bytes
        are there already; parts above the multipart threshold, `progress` after each.
        No ACL is ever set: the bucket's own policy (private) applies."""
        size, sha = await asyncio.to_thread(_digest, path)
        key = self._key("files", f"{sha}.jsonl")
        s3 = await self._client("s3")
        found = await self._head(key)
        if found is None:
            metadata = {"filename": quote(filename[:200]), "sha256": sha}
            if size <= self._threshold:
                body = await asyncio.to_thread(path.read_bytes)
                await self._call(
                    s3.put_object(
                        Bucket=self._account.bucket,
                        Key=key,
                        Body=body,
                        ContentType="application/jsonl",
                        ChecksumSHA256=_b64_sha(body),
                        Metadata=metadata,
                    )
                )
            else:
                await self._multipart(key, path, size, metadata, progress)
            found = await self._head(key)
            if found is None:
                raise ProviderError(ProviderErrorKind.SERVER, "the staged file is not there")
        if progress is not None:
            progress(size, size)
        return ProviderFile(
            id=self._uri(key),
            filename=unquote(found.get("Metadata", {}).get("filename", "")) or filename,
            bytes=int(found["ContentLength"]),
            created_at=_when(found["LastModified"]),
            status="processed",
        )

    async def _multipart(
        self,
        key: str,
        path: Path,
        size: int,
        metadata: Mapping[str, str],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        s3 = await self._client("s3")
        bucket = self._account.bucket
        started = await self._call(
            s3.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType="application/jsonl", Metadata=dict(metadata)
            )
        )
        upload_id = started["UploadId"]
        parts: list[dict[str, object]] = []
        done = 0
        try:
            with path.open("rb") as source:
                number = 1
                while chunk := await asyncio.to_thread(source.read, self._part):
                    sent = await self._call(
                        s3.upload_part(
                            Bucket=bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=chunk,
                        )
                    )
                    parts.append({"ETag": sent["ETag"], "PartNumber": number})
                    done += len(chunk)
                    number += 1
                    if progress is not None:
                        progress(done, size)
            await self._call(
                s3.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            )
        except BaseException:
            # Parts of an unfinished upload are billed until aborted.
            try:
                await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                log.warning("could not abort a multipart upload", extra={"key": key})
            raise

    async def _head(self, key: str) -> dict[str, Any] | None:
        s3 = await self._client("s3")
        try:
            return dict(await s3.head_object(Bucket=self._account.bucket, Key=key))
        except ClientError as error:
            if classify(error).kind is ProviderErrorKind.NOT_FOUND:
                return None
            raise classify(error) from None
        except (BotoCoreError, OSError) as error:
            raise classify(error) from None

    async def delete_file(self, file_id: str) -> None:
        """Delete the staged file and every converted form of it made for a job."""
        key = self._own_key(file_id)
        if await self._head(key) is None:
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        s3 = await self._client("s3")
        sha = key.rsplit("/", 1)[-1].removesuffix(".jsonl")
        converted = await self._keys(self._key("converted", sha) + "/")
        for each in (*converted, key):
            await self._call(s3.delete_object(Bucket=self._account.bucket, Key=each))

    async def _keys(self, prefix: str) -> list[str]:
        s3 = await self._client("s3")
        keys: list[str] = []
        token: str | None = None
        for _ in range(100):
            extra = {"ContinuationToken": token} if token else {}
            page = await self._call(
                s3.list_objects_v2(Bucket=self._account.bucket, Prefix=prefix, **extra)
            )
            keys.extend(str(o["Key"]) for o in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                break
        return keys

    async def file_content(self, file_id: str) -> bytes:
        return await self._read(self._own_key(file_id))

    async def _read(self, key: str) -> bytes:
        s3 = await self._client("s3")
        answer = await self._call(s3.get_object(Bucket=self._account.bucket, Key=key))
        async with answer["Body"] as body:
            data: bytes = await self._call(body.read())
        return data

    async def _converted(self, file_id: str, model: BaseModel) -> str:
        """The staged canonical file converted for `model`, staged beside it (once per
        content): its S3 URI. A line the model cannot take refuses the start, naming it."""
        key = self._own_key(file_id)
        sha = key.rsplit("/", 1)[-1].removesuffix(".jsonl")
        content = await self._read(key)
        with tempfile.TemporaryDirectory(prefix="ftb-bedrock-") as scratch:
            source = Path(scratch) / "canonical.jsonl"
            target = Path(scratch) / "converted.jsonl"
            await asyncio.to_thread(source.write_bytes, content)

            def run() -> Any:
                with target.open("wb") as out:
                    return convert_file(source, out, model)

            conversion = await asyncio.to_thread(run)
            if not conversion.ok:
                raise ProviderError(ProviderErrorKind.BAD_REQUEST, conversion.summary(model))
            body = await asyncio.to_thread(target.read_bytes)
        converted = self._key("converted", sha, f"{model.data.value}-{conversion.sha256}.jsonl")
        if await self._head(converted) is None:
            s3 = await self._client("s3")
            await self._call(
                s3.put_object(
                    Bucket=self._account.bucket,
                    Key=converted,
                    Body=body,
                    ContentType="application/jsonl",
                    ChecksumSHA256=_b64_sha(body),
                )
            )
        return self._uri(converted)

    # -- jobs -----------------------------------------------------------------------------

    def _check(self, spec: JobSpec) -> BaseModel:
        model = base_model(spec.model)
        if model is None:
            raise ProviderError(
                ProviderErrorKind.BAD_REQUEST,
                f"{spec.model[:80]} is not a model Bedrock fine-tunes here; use one of "
                "amazon.nova-micro-v1:0:128k, anthropic.claude-3-haiku-20240307-v1:0:200k, "
                "meta.llama3-1-8b-instruct-v1:0:128k (/finetune providers lists them)",
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
        given = {
            "epochs": hp.n_epochs,
            "batch_size": hp.batch_size,
            "lr": hp.learning_rate_multiplier,
        }
        for name, value in given.items():
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
        name = _JOB_PREFIX + token[:20]
        training = await self._converted(spec.training_file, model)
        validation = (
            await self._converted(spec.validation_file, model) if spec.validation_file else None
        )
        hp = spec.hyperparameters
        values = {
            "epochs": hp.n_epochs,
            "batch_size": hp.batch_size,
            "lr": hp.learning_rate_multiplier,
        }
        request: dict[str, Any] = {
            "jobName": name,
            "customModelName": _model_name(spec.suffix, token),
            "roleArn": self._account.role_arn,
            "baseModelIdentifier": model.id,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": training},
            "outputDataConfig": {"s3Uri": self._uri(self._key("output", name)) + "/"},
            "hyperParameters": {_FIELDS[k]: _text(v) for k, v in values.items() if v is not None},
            "clientRequestToken": token[:64],
            "jobTags": [{"key": k, "value": v[:256]} for k, v in spec.metadata.items()][:40],
        }
        if spec.suffix:
            request["customModelTags"] = [{"key": "suffix", "value": spec.suffix[:256]}]
        if validation is not None:
            request["validationDataConfig"] = {"validators": [{"s3Uri": validation}]}
        bedrock = await self._client("bedrock", once=True)
        try:
            await self._call(bedrock.create_model_customization_job(**request))
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
        job = await self._call(bedrock.get_model_customization_job(jobIdentifier=job_id))
        tags = await self._call(bedrock.list_tags_for_resource(resourceARN=job["jobArn"]))
        return self._state(job, {str(t["key"]): str(t["value"]) for t in tags.get("tags", [])})

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
            page = await self._call(
                bedrock.list_model_customization_jobs(
                    nameContains=_JOB_PREFIX,
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
        await self._call(bedrock.stop_model_customization_job(jobIdentifier=job_id))
        return await self.get_job(job_id)

    async def list_models(self) -> Sequence[ProviderModel]:
        """The account's region's foundation models that Bedrock fine-tunes."""
        bedrock = await self._client("bedrock")
        answer = await self._call(
            bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")
        )
        return [
            ProviderModel(
                id=str(m["modelId"]), created_at=_EPOCH, owned_by=str(m.get("providerName", ""))
            )
            for m in answer.get("modelSummaries", [])
        ]

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        """The step-wise training metrics Bedrock writes to the job's output location when
        it completes (step_wise_training_metrics.csv), with the validation CSV's loss at its
        steps; none before then. An output location this identity cannot read is a
        ProviderError saying so (the watcher reports the job's status all the same)."""
        if not PROFILE.is_job_id(job_id):
            raise ProviderError(ProviderErrorKind.NOT_FOUND)
        output = self._key("output", job_id) + "/"
        try:
            keys = await self._keys(output)
            training = next((k for k in keys if k.endswith(TRAINING_CSV)), None)
            if training is None:
                return []
            rows = _csv(await self._read(training))
            validation = next((k for k in keys if k.endswith(VALIDATION_CSV)), None)
            valid = _csv(await self._read(validation)) if validation else []
        except ProviderError as error:
            raise ProviderError(
                error.kind,
                f"Bedrock's step-wise metrics could not be read from {self._uri(output)} "
                f"({error.kind}): allow s3:ListBucket and s3:GetObject there to the bot's "
                "identity",
                retry_after=error.retry_after,
            ) from None
        losses = {s: as_float(r.get("validation_loss")) for r in valid if (s := _step(r))}
        steps = sorted({s for r in rows if (s := _step(r))})
        total = steps[-1] if steps else None
        points: dict[int, MetricPoint] = {}
        for row in rows:
            step = _step(row)
            if step and step not in points:
                points[step] = MetricPoint(
                    step=step,
                    total_steps=total,
                    train_loss=as_float(row.get("training_loss")),
                    valid_loss=losses.get(step),
                )
        return [points[s] for s in sorted(points)]

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
        provisioned throughput (found by its ARN); Bedrock keeps no completions."""
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
        answer = await self._call(runtime.converse(modelId=target, messages=turns, **extra))
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
        bedrock = await self._client("bedrock")
        await self._call(bedrock.get_custom_model(modelIdentifier=model_arn))
        deployments = await self._call(
            bedrock.list_custom_model_deployments(modelArnEquals=model_arn, statusEquals="Active")
        )
        for found in deployments.get("modelDeploymentSummaries", []):
            return str(found["customModelDeploymentArn"])
        throughputs = await self._call(
            bedrock.list_provisioned_model_throughputs(
                modelArnEquals=model_arn, statusEquals="InService"
            )
        )
        for found in throughputs.get("provisionedModelSummaries", []):
            return str(found["provisionedModelArn"])
        raise ProviderError(ProviderErrorKind.BAD_REQUEST, DEPLOY_FIRST)

    # -- mapping --------------------------------------------------------------------------

    def _state(self, job: Mapping[str, Any], tags: Mapping[str, str]) -> JobState:
        try:
            raw = str(job["status"])
            shown = _phase(raw, job.get("statusDetails") or {})
            status = PROFILE.status(shown)
            params = job.get("hyperParameters") or {}
            validators = (job.get("validationDataConfig") or {}).get("validators") or []
            error = None
            if status is JobStatus.FAILED:
                error = str(job.get("failureMessage") or "Bedrock reported the job as Failed")
            finished = job.get("endTime")
            return JobState(
                id=str(job["jobName"]),
                model=_model_id(str(job.get("baseModelArn", ""))),
                status=status,
                provider_status=shown,
                created_at=_when(job["creationTime"]),
                training_file=str(job["trainingDataConfig"].get("s3Uri", "")),
                validation_file=str(validators[0]["s3Uri"]) if validators else None,
                hyperparameters=Hyperparameters(
                    n_epochs=_int(params.get("epochCount")),
                    batch_size=_int(params.get("batchSize")),
                    learning_rate_multiplier=as_float(params.get("learningRate")),
                ),
                suffix=None,
                fine_tuned_model=(
                    str(job.get("outputModelArn")) if status is JobStatus.SUCCEEDED else None
                ),
                error=error,
                finished_at=_when(finished) if status.terminal and finished else None,
                metadata=dict(tags),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as problem:
            log.warning("malformed Bedrock job", extra={"error": str(problem)[:200]})
            raise ProviderError(ProviderErrorKind.INVALID_RESPONSE) from None


DEPLOY_FIRST = (
    "this custom model has no on-demand deployment or provisioned throughput, and Bedrock "
    "serves a custom model only from one. Set one up in the Bedrock console (Custom models, "
    "the model, Deploy for on-demand inference: billed per token like the base model, in "
    "us-east-1 and us-west-2; or Purchase Provisioned Throughput: billed per model unit per "
    "hour, with or without a commitment) and try again"
)
TRAINING_CSV = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_CSV = "validation_metrics.csv"
_EPOCH = datetime.fromtimestamp(0, UTC)


def _phase(status: str, details: Mapping[str, Any]) -> str:
    """InProgress with the phase its statusDetails say runs (validation, data processing,
    training); any other status as it came."""
    if status != "InProgress":
        return status

    def of(name: str) -> str:
        return str((details.get(name) or {}).get("status") or "")

    if of("trainingDetails") == "InProgress":
        return TRAINING
    if of("dataProcessingDetails") == "InProgress" or (
        of("validationDetails") == "Completed" and of("trainingDetails") in ("", "NotStarted")
    ):
        return PREPARING
    if of("validationDetails") == "InProgress":
        return VALIDATING
    return status


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _b64_sha(body: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _model_name(suffix: str | None, token: str) -> str:
    own = re.sub(r"[^a-zA-Z0-9-]+", "-", (suffix or "").strip())[:40].strip("-")
    return f"{own}-{token[:20]}" if own else f"ftb-{token[:20]}"


def _model_id(arn: str) -> str:
    """A foundation model ARN's model id (arn:…:foundation-model/ID)."""
    return arn.rsplit("/", 1)[-1] if "foundation-model/" in arn else arn


def _text(value: float) -> str:
    return str(value) if isinstance(value, int) else format(value, "g")


def _int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def _when(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a time: {value!r}")


def _step(row: dict[str, str]) -> int | None:
    """A CSV row's step number (Bedrock writes step_number as an integer), None if none."""
    number = as_float(row.get("step_number"))
    return int(number) if number is not None and number > 0 else None


def _csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8", "replace"))))


def _code(error: BaseException) -> str:
    return code_of(error) if isinstance(error, ClientError) else type(error).__name__


__all__ = ["BedrockAccount", "BedrockProvider", "Endpoints"]
