"""Test fake: Amazon Bedrock's model customization and Converse on aiohttp, beside moto's S3/STS.

Usage::

    async with FakeBedrock(clock=...) as fake:
        provider = BedrockProvider(fake.account(), endpoints=fake.endpoints())
        fake.inject(Route.GET_JOB, Fault...)
        fake.advance()  # every live job one phase (or one training step) on

moto 5.2 (server mode, `ThreadedMotoServer` on 127.0.0.1) serves S3 and STS here, and it has
a Bedrock model too (`moto/bedrock`: create, get, list and stop of customization jobs), but
that one never moves a job (always InProgress, a fixed failure message and losses), ignores
clientRequestToken, has no statusDetails, no Stopping, no output metrics, no foundation-model
list, no deployments and no Converse. This fake is the Bedrock part instead, shaped by
botocore's service model (bedrock 2023-04-20 and bedrock-runtime 2023-09-30: REST-JSON paths,
member names, `x-amzn-ErrorType` errors), and it reads the staged data from moto's S3 and
writes each completed job's step-wise metrics CSVs there, as Bedrock does.

A job: InProgress with validation InProgress -> (the data checked: a line that is no JSON
object fails it, as Bedrock's own check does) data processing InProgress -> training InProgress
for STEPS ticks -> Completed (trainingMetrics, validationMetrics, the CSVs under the output
location, the custom model, and with `deploy_on_completion` an Active on-demand deployment).
Stop: InProgress -> Stopping -> (a tick) Stopped; any other status is a ValidationException.

moto keeps its state per process, so one FakeBedrock runs at a time: each start resets moto.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qsl, unquote

import botocore.session
from aiohttp import web
from moto.server import ThreadedMotoServer

from bot.providers.bedrock.account import BedrockAccount, Endpoints
from bot.providers.bedrock.models import BASE_MODELS
from tests.fakes.openai_server import Fault, RecordedRequest

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_BODY: web.RequestKey[Any] = web.RequestKey("fake_bedrock_body", object)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
BUCKET = "team-bucket"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/BedrockFineTuning"
ACCESS_KEY = "AKIAFAKEBEDROCK00001"
SECRET_KEY = "fake-secret-access-key-for-tests-0000000"
STEPS = 3

__all__ = ["BUCKET", "REGION", "ROLE", "FakeBedrock", "Fault", "Route"]


class Route:
    """Route names for `inject` and `requests_to`."""

    ANY = "*"
    CREATE_JOB = "POST /model-customization-jobs"
    LIST_JOBS = "GET /model-customization-jobs"
    GET_JOB = "GET /model-customization-jobs/{job}"
    STOP_JOB = "POST /model-customization-jobs/{job}/stop"
    LIST_TAGS = "POST /listTagsForResource"
    LIST_MODELS = "GET /foundation-models"
    GET_CUSTOM_MODEL = "GET /custom-models/{model}"
    LIST_DEPLOYMENTS = "GET /model-customization/custom-model-deployments"
    LIST_THROUGHPUTS = "GET /provisioned-model-throughputs"
    CONVERSE = "POST /model/{model}/converse"
    STS = "POST /"


_TEMPLATES = {
    Route.GET_JOB: "/model-customization-jobs/{job:[^/]+}",
    Route.STOP_JOB: "/model-customization-jobs/{job:[^/]+}/stop",
    Route.GET_CUSTOM_MODEL: "/custom-models/{model:.+}",
    Route.CONVERSE: "/model/{model:.+}/converse",
}


class _AwsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class FakeBedrock:
    """Bedrock on 127.0.0.1 (an ephemeral port) and moto's S3 and STS (another)."""

    def __init__(self, *, clock: Callable[[], float], region: str = REGION) -> None:
        self.clock = clock
        self.region = region
        self.jobs: dict[str, Json] = {}
        self.tags: dict[str, list[Json]] = {}
        self.custom_models: dict[str, Json] = {}
        self.deployments: dict[str, Json] = {}
        self.deploy_on_completion = True
        """A completed job's model gets an Active on-demand deployment (the team deployed
        it); False: it has none, and Converse on it is refused."""
        self.access_keys = {ACCESS_KEY}
        """The access key ids AWS knows; any other signs requests that are refused."""
        self.reported_status: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._moto: ThreadedMotoServer | None = None
        self._closing = asyncio.Event()
        self._port = 0
        self._s3: Any = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        await asyncio.to_thread(self._moto.start)
        # moto keeps its backends per process, not per server: start from an empty world.
        await asyncio.to_thread(_reset_moto, self.moto_url)
        session = botocore.session.get_session()
        self._s3 = session.create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.moto_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        create: Json = {"Bucket": BUCKET}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self._s3.create_bucket(**create)
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        for route, handler in self._routes().items():
            method, path = route.split(" ", 1)
            app.router.add_route(method, _TEMPLATES.get(route, path), handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._s3 is not None:
            self._s3.close()
        if self._moto is not None:
            await asyncio.to_thread(self._moto.stop)
            self._moto = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def moto_url(self) -> str:
        assert self._moto is not None
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def endpoints(self) -> Endpoints:
        return Endpoints(
            bedrock=self.base_url, runtime=self.base_url, s3=self.moto_url, sts=self.base_url
        )

    def environment(self) -> dict[str, str]:
        """The AWS SDK's own variables that point a process (the deployment's default
        credential chain and its endpoints) at these fakes."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL_BEDROCK": self.base_url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.base_url,
            "AWS_ENDPOINT_URL_STS": self.base_url,
            "AWS_ENDPOINT_URL_S3": self.moto_url,
        }

    def account(self, *, region: str | None = None, prefix: str = "team-1/") -> BedrockAccount:
        return BedrockAccount(
            region=region or self.region,
            role_arn=ROLE,
            bucket=BUCKET,
            prefix=prefix,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )

    # -- S3, as the tests see it ------------------------------------------------------------

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object in the bucket under `prefix`, by key."""
        listed = self._s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {
            o["Key"]: self._s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed
        }

    def acl_grants(self, key: str) -> list[Json]:
        return list(self._s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"])

    def _s3_read(self, uri: str) -> bytes | None:
        key = uri.removeprefix(f"s3://{BUCKET}/")
        try:
            return bytes(self._s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except self._s3.exceptions.NoSuchKey:
            return None

    def _s3_write(self, key: str, content: bytes) -> None:
        self._s3.put_object(Bucket=BUCKET, Key=key, Body=content)

    # -- scripting --------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.setdefault(route, deque()).extend([fault] * times)

    def pending_faults(self) -> int:
        return sum(len(q) for q in self._faults.values())

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def advance(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            for job in list(self.jobs.values()):
                self._tick(job)

    def finish_job(self, job_id: str, status: str) -> Json:
        job = self.jobs[job_id]
        if status == "succeeded":
            self._complete(job)
        elif status == "failed":
            self._fail(job, "Training failed: an internal error ended the job.")
        else:
            raise ValueError(f"finish_job ends a job as succeeded or failed, not {status!r}")
        return job

    def _phase(self, job: Json, **phases: str) -> None:
        details = job.setdefault("statusDetails", {})
        for name, status in phases.items():
            entry = details.setdefault(name, {"creationTime": self._iso()})
            entry["status"] = status
            entry["lastModifiedTime"] = self._iso()
        job["lastModifiedTime"] = self._iso()

    def _fail(self, job: Json, message: str) -> None:
        job["status"] = "Failed"
        job["failureMessage"] = message
        job["endTime"] = job["lastModifiedTime"] = self._iso()

    def _tick(self, job: Json) -> None:
        details = job["statusDetails"]
        if job["status"] == "Stopping":
            job["status"] = "Stopped"
            job["endTime"] = job["lastModifiedTime"] = self._iso()
            return
        if job["status"] != "InProgress":
            return
        if details["validationDetails"]["status"] == "InProgress":
            problem = self._data_problem(job)
            if problem is not None:
                self._phase(job, validationDetails="Failed")
                self._fail(job, problem)
            else:
                self._phase(job, validationDetails="Completed", dataProcessingDetails="InProgress")
        elif details["dataProcessingDetails"]["status"] == "InProgress":
            self._phase(job, dataProcessingDetails="Completed", trainingDetails="InProgress")
            job["_step"] = 0
        elif job["_step"] < STEPS:
            job["_step"] += 1
        else:
            self._complete(job)

    def _data_problem(self, job: Json) -> str | None:
        content = self._s3_read(job["trainingDataConfig"]["s3Uri"])
        if content is None:
            return "Validation failed: the training data could not be read from S3."
        for number, line in enumerate(content.splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                return f"Validation failed: line {number} of the training data is not JSON."
            if not isinstance(record, dict):
                return f"Validation failed: line {number} is not a JSON object."
        return None

    def _complete(self, job: Json) -> None:
        self._phase(job, validationDetails="Completed", dataProcessingDetails="Completed")
        self._phase(job, trainingDetails="Completed")
        job["status"] = "Completed"
        job["endTime"] = self._iso()
        losses = [round(2.0 / (2 + s), 4) for s in range(1, STEPS + 1)]
        job["trainingMetrics"] = {"trainingLoss": losses[-1]}
        job["validationMetrics"] = [{"validationLoss": round(losses[-1] * 1.1, 4)}]
        output = job["outputDataConfig"]["s3Uri"].removeprefix(f"s3://{BUCKET}/")
        folder = f"{output.rstrip('/')}/model-customization-job-{job['jobName']}"
        rows = "".join(
            f"{s},{(s - 1) // 2},{loss},{round(2.718**loss, 4)}\n"
            for s, loss in enumerate(losses, 1)
        )
        self._s3_write(
            f"{folder}/training_artifacts/step_wise_training_metrics.csv",
            ("step_number,epoch_number,training_loss,perplexity\n" + rows).encode(),
        )
        self._s3_write(
            f"{folder}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
            f"step_number,epoch_number,validation_loss,perplexity\n{STEPS},1,"
            f"{job['validationMetrics'][0]['validationLoss']},1.2\n".encode(),
        )
        arn = job["outputModelArn"]
        self.custom_models[arn] = {"modelArn": arn, "modelName": job["outputModelName"]}
        if self.deploy_on_completion:
            self.deploy(arn)

    def deploy(self, model_arn: str) -> str:
        """An Active on-demand deployment of a custom model (what the team sets up)."""
        arn = (
            f"arn:aws:bedrock:{self.region}:{ACCOUNT_ID}:custom-model-deployment/"
            f"d{next(self._ids)}"
        )
        self.deployments[arn] = {
            "customModelDeploymentArn": arn,
            "customModelDeploymentName": arn.rsplit("/", 1)[-1],
            "modelArn": model_arn,
            "createdAt": self._iso(),
            "status": "Active",
        }
        return arn

    # -- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        return {
            Route.CREATE_JOB: self._create_job,
            Route.LIST_JOBS: self._list_jobs,
            Route.GET_JOB: self._get_job,
            Route.STOP_JOB: self._stop_job,
            Route.LIST_TAGS: self._list_tags,
            Route.LIST_MODELS: self._list_models,
            Route.GET_CUSTOM_MODEL: self._get_custom_model,
            Route.LIST_DEPLOYMENTS: self._list_deployments,
            Route.LIST_THROUGHPUTS: self._list_throughputs,
            Route.CONVERSE: self._converse,
            Route.STS: self._sts,
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        route = next(
            (r for r, t in _TEMPLATES.items() if t == template and r.startswith(request.method)),
            f"{request.method} {template}",
        )
        fault = self._next_fault(route)
        raw = await request.read()
        body: Any = None
        if raw and route == Route.STS:
            body = dict(parse_qsl(raw.decode()))
        elif raw:
            body = json.loads(raw)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                route=route,
                query=dict(request.query),
                headers={
                    k.lower(): ("<redacted>" if k.lower() == "authorization" else v)
                    for k, v in request.headers.items()
                },
                json=body if isinstance(body, dict) else None,
                form={},
                fault=fault.kind if fault else None,
            )
        )
        key, _ = _credential(request)
        if key not in self.access_keys:
            if route == Route.STS:
                return _sts_error("InvalidClientTokenId")
            return _error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if fault is None:
            return await self._answer(handler, request, body)
        answer: web.StreamResponse | None = None
        if fault.commit:
            answer = await self._answer(handler, request, body)
        match fault.kind:
            case "status":
                code = str((fault.body or {}).get("code") or "InternalServerException")
                message = str((fault.body or {}).get("message") or "Injected")
                response = _error(fault.status, code, message)
                response.headers.update(dict(fault.headers))
                return response
            case "delay":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.seconds)
                if answer is not None:
                    return answer
                return _error(503, "ServiceUnavailableException", "deadline exceeded")
            case "reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            case "malformed":
                return web.Response(
                    status=200, text='{"jobArn": ', content_type="application/json"
                )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _next_fault(self, route: str) -> Fault | None:
        for key in (route, Route.ANY):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    async def _answer(
        self, handler: Handler, request: web.Request, body: Any
    ) -> web.StreamResponse:
        request[_BODY] = body
        try:
            return await handler(request)
        except _AwsError as error:
            return _error(error.status, error.code, error.message)
        except Exception as error:  # a fake's own bug must fail the test, not hang it
            self.errors.append(error)
            raise

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, name: str) -> Json:
        job = self.jobs.get(unquote(name))
        if job is None:
            raise _AwsError(
                404, "ResourceNotFoundException", f"Model customization job {name} not found"
            )
        return job

    def _shown(self, job: Json) -> Json:
        shown = {k: v for k, v in job.items() if not k.startswith("_")}
        override = self.reported_status.get(job["jobName"])
        if override is not None:
            shown["status"] = override
        return shown

    async def _create_job(self, request: web.Request) -> web.Response:
        body: Json = request[_BODY]
        for member in (
            "jobName",
            "customModelName",
            "roleArn",
            "baseModelIdentifier",
            "trainingDataConfig",
            "outputDataConfig",
        ):
            if member not in body:
                raise _AwsError(400, "ValidationException", f"{member} is required")
        token = body.get("clientRequestToken")
        same = next(
            (j for j in self.jobs.values() if token and j.get("clientRequestToken") == token),
            None,
        )
        if same is not None:
            return _json({"jobArn": same["jobArn"]}, 201)
        name = body["jobName"]
        if name in self.jobs:
            raise _AwsError(
                400, "ConflictException", f"Model customization job {name} already exists"
            )
        if body["baseModelIdentifier"] not in BASE_MODELS:
            raise _AwsError(
                400, "ValidationException", "The provided model identifier is invalid."
            )
        for uri in [body["trainingDataConfig"].get("s3Uri", "")] + [
            v["s3Uri"] for v in (body.get("validationDataConfig") or {}).get("validators", [])
        ]:
            if not str(uri).startswith("s3://"):
                raise _AwsError(400, "ValidationException", "s3Uri must be an s3:// URI")
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT_ID}:model-customization-job/{name}"
        model = body["customModelName"]
        job: Json = {
            "jobArn": arn,
            "jobName": name,
            "outputModelName": model,
            "outputModelArn": f"arn:aws:bedrock:{self.region}:{ACCOUNT_ID}:custom-model/{model}",
            "clientRequestToken": token,
            "roleArn": body["roleArn"],
            "status": "InProgress",
            "creationTime": self._iso(),
            "lastModifiedTime": self._iso(),
            "baseModelArn": (
                f"arn:aws:bedrock:{self.region}::foundation-model/{body['baseModelIdentifier']}"
            ),
            "hyperParameters": body.get("hyperParameters") or {},
            "trainingDataConfig": body["trainingDataConfig"],
            "validationDataConfig": body.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": body["outputDataConfig"],
            "customizationType": body.get("customizationType", "FINE_TUNING"),
            "statusDetails": {},
        }
        self._phase(job, validationDetails="InProgress", dataProcessingDetails="NotStarted")
        self._phase(job, trainingDetails="NotStarted")
        self.jobs[name] = job
        self.tags[arn] = list(body.get("jobTags") or [])
        return _json({"jobArn": arn}, 201)

    async def _get_job(self, request: web.Request) -> web.Response:
        return _json(self._shown(self._job(request.match_info["job"])))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        query = request.query
        jobs = [j for j in self.jobs.values() if query.get("nameContains", "") in j["jobName"]]
        jobs.sort(key=lambda j: (j["creationTime"], j["jobName"]), reverse=True)
        start = int(query.get("nextToken", "0") or 0)
        size = int(query.get("maxResults", "100"))
        page = jobs[start : start + size]
        answer: Json = {
            "modelCustomizationJobSummaries": [
                {
                    k: self._shown(j)[k]
                    for k in ("jobArn", "baseModelArn", "jobName", "status", "creationTime")
                }
                for j in page
            ]
        }
        if start + size < len(jobs):
            answer["nextToken"] = str(start + size)
        return _json(answer)

    async def _stop_job(self, request: web.Request) -> web.Response:
        job = self._job(request.match_info["job"])
        if job["status"] != "InProgress":
            raise _AwsError(
                400, "ValidationException", f"The job is {job['status']} and cannot be stopped."
            )
        job["status"] = "Stopping"
        job["lastModifiedTime"] = self._iso()
        return _json({})

    async def _list_tags(self, request: web.Request) -> web.Response:
        arn = request[_BODY]["resourceARN"]
        if arn not in self.tags:
            raise _AwsError(404, "ResourceNotFoundException", "resource not found")
        return _json({"tags": self.tags[arn]})

    async def _list_models(self, request: web.Request) -> web.Response:
        _, region = _credential(request)
        return _json(
            {
                "modelSummaries": [
                    {
                        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{m.id}",
                        "modelId": m.id,
                        "providerName": m.label.split(" ", 1)[0],
                        "customizationsSupported": ["FINE_TUNING"],
                    }
                    for m in BASE_MODELS.values()
                    if region in m.regions
                ]
            }
        )

    async def _get_custom_model(self, request: web.Request) -> web.Response:
        arn = unquote(request.match_info["model"])
        found = self.custom_models.get(arn)
        if found is None:
            raise _AwsError(404, "ResourceNotFoundException", "The custom model was not found.")
        return _json({**found, "creationTime": self._iso(), "baseModelArn": "x", "jobArn": "x"})

    async def _list_deployments(self, request: web.Request) -> web.Response:
        wanted = request.query.get("modelArnEquals")
        status = request.query.get("statusEquals")
        found = [
            d
            for d in self.deployments.values()
            if (not wanted or d["modelArn"] == wanted) and (not status or d["status"] == status)
        ]
        return _json({"modelDeploymentSummaries": found})

    async def _list_throughputs(self, request: web.Request) -> web.Response:
        return _json({"provisionedModelSummaries": []})

    async def _converse(self, request: web.Request) -> web.Response:
        model = unquote(request.match_info["model"])
        if model not in BASE_MODELS and model not in self.deployments:
            raise _AwsError(
                400, "ValidationException", "The provided model identifier is invalid."
            )
        body: Json = request[_BODY]
        said = " ".join(
            str(c.get("text", "")) for m in body.get("messages", []) for c in m.get("content", [])
        )
        reply = f"An answer from {model.rsplit('/', 1)[-1]} to: {said[:60]}"
        return _json(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": max(1, len(said.split())),
                    "outputTokens": len(reply.split()),
                    "totalTokens": max(1, len(said.split())) + len(reply.split()),
                },
                "metrics": {"latencyMs": 1},
            }
        )

    async def _sts(self, request: web.Request) -> web.Response:
        form: dict[str, str] = request[_BODY] or {}
        if form.get("Action") != "GetCallerIdentity":
            return _sts_error("InvalidAction", status=400)
        key, _ = _credential(request)
        return web.Response(
            status=200,
            content_type="text/xml",
            text=(
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<GetCallerIdentityResult>"
                f"<Arn>arn:aws:iam::{ACCOUNT_ID}:user/finetune-bot</Arn>"
                f"<UserId>AIDA{key[4:]}</UserId><Account>{ACCOUNT_ID}</Account>"
                "</GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>fake-1</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>"
            ),
        )


def _reset_moto(url: str) -> None:
    """moto's own reset call (POST /moto-api/reset), which empties every backend."""
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10
    ) as answer:
        answer.read()


def _credential(request: web.Request) -> tuple[str, str]:
    """The access key id and region a SigV4 request is signed with ("" when unsigned)."""
    found = re.search(
        r"Credential=([^/]+)/\d{8}/([^/]+)/", request.headers.get("Authorization", "")
    )
    return (found.group(1), found.group(2)) if found else ("", "")


def _sts_error(code: str, *, status: int = 403) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/xml",
        text=(
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code>"
            "<Message>The security token included in the request is invalid.</Message>"
            "</Error><RequestId>fake-1</RequestId></ErrorResponse>"
        ),
    )


def _json(body: Json, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"},
    )
