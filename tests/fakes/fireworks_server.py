"""Test fake: a local Fireworks AI API on aiohttp, shaped by the fireworks-ai SDK's own types.

Usage::

    async with FakeFireworks(api_key=KEY, account="acme", clock=...) as fake:
        provider = FireworksProvider.connect(KEY, account_id="acme", base_url=fake.base_url)
        fake.inject(Route.GET_JOB, Fault.server_error())
        fake.advance()  # every live job one state or ten percent on

No public OpenAPI file exists; routes and bodies follow the pinned SDK (fireworks-ai 1.2.30):
its resources' paths (`/v1/accounts/{account_id}/...`, AIP-style `:verb` actions), its
request params (camelCase, as its PropertyInfo aliases say) and its response models
(Dataset, SupervisedFineTuningJob, DpoJob, the `nextPageToken` cursors). Errors are
google.rpc-style `{"error": {"code", "message", "status"}}` bodies.

- datasets: create (`UPLOADING`), then either `:upload` (multipart, the SDK's direct path) or
  `:getUploadEndpoint` (a signed URL on this server, `PUT /signed/{account}/{dataset}`) and
  `:validateUpload`; a dataset whose file is JSON lines is then `READY`. `:getDownloadEndpoint`
  gives a signed URL to its bytes.
- jobs: `?supervisedFineTuningJobId=` (or `?dpoJobId=`) names the job; a name taken is 409
  ALREADY_EXISTS. A job moves only on `advance()`: CREATING -> VALIDATING -> PENDING ->
  RUNNING (jobProgress.percent +10 a tick, a metrics file row each) -> WRITING_RESULTS ->
  COMPLETED. `:cancel` answers `{}`, the job goes CANCELLING then CANCELLED. A supervised job
  carries `estimatedCost` (google.type.Money) from its dataset's size and epochs.
  `pause_at_fireworks()` pauses a job as Fireworks itself does (PAUSED with a status message;
  there is no pause call); `:resume` moves a PAUSED job to RE_QUEUEING, then RUNNING.
- models: Fireworks' own (`accounts/fireworks/models/...`) listed and read one by one, each
  with its `tunable` flag (NOT_TUNABLE is served but not tunable); a create on any other base
  model is a 400.
- the metrics file behind `metricsFileSignedUrl` (a DPO job's behind `:getMetricsFileEndpoint`)
  is JSON lines, one a step: `{"step", "timestamp", "data": {"train/loss", "train/epoch",
  "eval/loss"...}}`, as Fireworks' trainer logs them (no total: jobProgress.percent says how
  far). The real format is not published, so the provider's reading of it is a tolerant one;
  `metrics_format = "flat"` writes the numbers beside `step` instead.

Faults (`Fault`, shared with tests/fakes/openai_server.py): an error status and body, a held
answer, a reset connection, or a 200 with broken JSON; `commit=True` lets the request act first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import BodyPartReader, web

from tests.fakes.openai_server import Fault, RecordedRequest

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BASE_MODELS = (
    "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "accounts/fireworks/models/qwen3-8b",
)
NOT_TUNABLE = "accounts/fireworks/models/llama-guard-3-8b"
"""A model Fireworks serves but does not fine-tune (its card says Tunable: false)."""
TERMINAL = frozenset(
    {"JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
_ID = "{%s:[a-z0-9][a-z0-9-]*}"
_JOB_KINDS = {"supervisedFineTuningJobs": "supervisedFineTuningJobId", "dpoJobs": "dpoJobId"}

_BODY: web.RequestKey[Any] = web.RequestKey("fake_fireworks_body", object)

__all__ = ["BASE_MODELS", "NOT_TUNABLE", "FakeFireworks", "Fault", "Route", "error_body"]


def error_body(message: str, *, code: int = 400, status: str = "INVALID_ARGUMENT") -> Json:
    return {"error": {"code": code, "message": message, "status": status}}


class Route:
    """Route names for `inject` and `requests_to` (paths below /v1/accounts/{account})."""

    ANY = "*"
    LIST_ACCOUNTS = "GET /v1/accounts"
    CREATE_DATASET = "POST /datasets"
    GET_DATASET = "GET /datasets/{dataset}"
    DELETE_DATASET = "DELETE /datasets/{dataset}"
    UPLOAD_DATASET = "POST /datasets/{dataset}:upload"
    UPLOAD_ENDPOINT = "POST /datasets/{dataset}:getUploadEndpoint"
    VALIDATE_UPLOAD = "POST /datasets/{dataset}:validateUpload"
    DOWNLOAD_ENDPOINT = "GET /datasets/{dataset}:getDownloadEndpoint"
    SIGNED_PUT = "PUT /signed/{dataset}"
    SIGNED_GET = "GET /signed/{dataset}"
    METRICS_FILE = "GET /metrics/{job}"
    CREATE_JOB = "POST /supervisedFineTuningJobs"
    LIST_JOBS = "GET /supervisedFineTuningJobs"
    GET_JOB = "GET /supervisedFineTuningJobs/{job}"
    CANCEL_JOB = "POST /supervisedFineTuningJobs/{job}:cancel"
    CREATE_DPO = "POST /dpoJobs"
    LIST_DPO = "GET /dpoJobs"
    GET_DPO = "GET /dpoJobs/{job}"
    CANCEL_DPO = "POST /dpoJobs/{job}:cancel"
    RESUME_JOB = "POST /supervisedFineTuningJobs/{job}:resume"
    RESUME_DPO = "POST /dpoJobs/{job}:resume"
    DPO_METRICS_ENDPOINT = "GET /dpoJobs/{job}:getMetricsFileEndpoint"
    LIST_MODELS = "GET /models"
    GET_MODEL = "GET /models/{model}"
    CHAT = "POST /v1/chat/completions"


class _ApiError(Exception):
    def __init__(self, status: int, message: str, rpc: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rpc = rpc


class FakeFireworks:
    """An in-memory Fireworks API on 127.0.0.1 with an ephemeral port (see the docstring)."""

    def __init__(
        self, *, api_key: str | None = None, account: str = "acme", clock: Callable[[], float]
    ) -> None:
        self.api_key = api_key
        self.account = account
        self.clock = clock
        self.datasets: dict[str, Json] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, Json] = {}
        """By job id; each job's `kind` is its collection (supervisedFineTuningJobs, dpoJobs)."""
        self.metrics: dict[str, list[Json]] = {}
        self.metrics_format = "nested"
        """"nested": a step's numbers under `data`; "flat": beside `step`."""
        self.price_per_million = 0.5
        """Dollars per million training tokens, for `estimatedCost` (4 bytes a token)."""
        self.deployed: set[str] = set()
        self.require_deployment = False
        """True: a fine-tuned model answers only once in `deployed` (an on-demand deployment,
        as Fireworks' current docs say); False: every completed job's model answers."""
        self.reported_status: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        for route, handler in self._routes().items():
            method, path = route.split(" ", 1)
            app.router.add_route(method, self._path(path), handler)
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

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """For `AsyncFireworks(base_url=...)`: the SDK's paths carry /v1 themselves."""
        return f"http://127.0.0.1:{self._port}"

    @staticmethod
    def _path(path: str) -> str:
        """A route's aiohttp path: ids are [a-z0-9-] so that `{id}:verb` is its own route."""
        for name in ("dataset", "job", "model"):
            path = path.replace("{" + name + "}", _ID % name)
        if path.startswith(("/v1", "/signed", "/metrics")):
            return path
        return "/v1/accounts/{account}" + path

    # -- scripting --------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.setdefault(route, deque()).extend([fault] * times)

    def pending_faults(self) -> int:
        return sum(len(q) for q in self._faults.values())

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def _set(self, job: Json, state: str, message: str = "") -> None:
        job["state"] = state
        job["status"] = {
            "code": "OK" if state != "JOB_STATE_FAILED" else "INTERNAL",
            "message": message,
        }
        job["updateTime"] = self._iso()
        if state in TERMINAL:
            job["completedTime"] = self._iso()

    # -- a job's life, one tick at a time -----------------------------------------------------

    def advance(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            for job in list(self.jobs.values()):
                self._tick(job)

    def finish_job(self, job_id: str, status: str) -> Json:
        """End a live job now as "succeeded" (COMPLETED) or "failed" (FAILED)."""
        job = self.jobs[job_id]
        if status == "succeeded":
            self._set(job, "JOB_STATE_COMPLETED")
        elif status == "failed":
            self._set(job, "JOB_STATE_FAILED", "Training failed.")
        else:
            raise ValueError(f"finish_job ends a job as succeeded or failed, not {status!r}")
        return job

    def pause_at_fireworks(self, job_id: str, message: str) -> Json:
        """Pause a live job as Fireworks does on its own (account suspension, manual
        intervention): PAUSED with the reason as its status message."""
        job = self.jobs[job_id]
        if job["state"] in TERMINAL:
            raise ValueError(f"{job_id} has ended")
        job["pausedFrom"] = job["state"]
        self._set(job, "JOB_STATE_PAUSED", message)
        return job

    def _metrics_row(self, job: Json, step: int) -> Json:
        numbers: Json = {
            "train/loss": round(2.0 / (1 + step), 4),
            "train/epoch": job["jobProgress"]["epoch"],
        }
        if job.get("evaluationDataset") and step % 5 == 0:
            numbers["eval/loss"] = round(2.2 / (1 + step), 4)
        if self.metrics_format == "flat":
            return {"step": step, **numbers}
        return {"step": step, "timestamp": self._iso(), "data": numbers}

    def _tick(self, job: Json) -> None:
        match job["state"]:
            case "JOB_STATE_CREATING":
                self._set(job, "JOB_STATE_VALIDATING")
            case "JOB_STATE_VALIDATING":
                dataset = job["dataset"].rsplit("/", 1)[-1]
                problem = _problem(self.contents.get(dataset, b""))
                if problem is not None:
                    self._set(job, "JOB_STATE_FAILED", f"Dataset validation failed: {problem}")
                else:
                    self._set(job, "JOB_STATE_PENDING")
            case "JOB_STATE_PENDING":
                self._set(job, "JOB_STATE_RUNNING")
                job["jobProgress"] = {"percent": 0, "epoch": 0}
            case "JOB_STATE_RUNNING":
                progress = job["jobProgress"]
                progress["percent"] = min(100, progress["percent"] + 10)
                step = progress["percent"] // 10
                epochs = int(_config(job).get("epochs") or 1)
                progress["epoch"] = min(epochs - 1, (step - 1) * epochs // 10)
                rows = self.metrics.setdefault(job["id"], [])
                rows.append(self._metrics_row(job, step))
                if job["kind"] == "supervisedFineTuningJobs":
                    job["metricsFileSignedUrl"] = f"{self.base_url}/metrics/{job['id']}"
                if progress["percent"] >= 100:
                    self._set(job, "JOB_STATE_WRITING_RESULTS")
            case "JOB_STATE_WRITING_RESULTS":
                self._set(job, "JOB_STATE_COMPLETED")
            case "JOB_STATE_CANCELLING":
                self._set(job, "JOB_STATE_CANCELLED")
            case "JOB_STATE_RE_QUEUEING":
                self._set(job, job.pop("pausedFrom", None) or "JOB_STATE_RUNNING")

    # -- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        return {
            Route.LIST_ACCOUNTS: self._list_accounts,
            Route.CREATE_DATASET: self._create_dataset,
            Route.GET_DATASET: self._get_dataset,
            Route.DELETE_DATASET: self._delete_dataset,
            Route.UPLOAD_DATASET: self._upload_dataset,
            Route.UPLOAD_ENDPOINT: self._upload_endpoint,
            Route.VALIDATE_UPLOAD: self._validate_upload,
            Route.DOWNLOAD_ENDPOINT: self._download_endpoint,
            Route.SIGNED_PUT: self._signed_put,
            Route.SIGNED_GET: self._signed_get,
            Route.METRICS_FILE: self._metrics_file,
            Route.CREATE_JOB: self._create_job,
            Route.LIST_JOBS: self._list_jobs,
            Route.GET_JOB: self._get_job,
            Route.CANCEL_JOB: self._cancel_job,
            Route.CREATE_DPO: self._create_job,
            Route.LIST_DPO: self._list_jobs,
            Route.GET_DPO: self._get_job,
            Route.CANCEL_DPO: self._cancel_job,
            Route.RESUME_JOB: self._resume_job,
            Route.RESUME_DPO: self._resume_job,
            Route.DPO_METRICS_ENDPOINT: self._dpo_metrics_endpoint,
            Route.LIST_MODELS: self._list_models,
            Route.GET_MODEL: self._get_model,
            Route.CHAT: self._chat,
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        route = _route_name(request.method, template)
        fault = self._next_fault(route)
        body, form = await self._read(request)
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
                form=form,
                fault=fault.kind if fault else None,
            )
        )
        signed = route.startswith(("PUT /signed", "GET /signed", "GET /metrics"))
        if not signed and not self._authorized(request):
            return _json(error_body("unauthenticated", code=401, status="UNAUTHENTICATED"), 401)
        if fault is None:
            return await self._answer(handler, request, body)
        answer: web.StreamResponse | None = None
        if fault.commit:
            answer = await self._answer(handler, request, body)
        match fault.kind:
            case "status":
                return _json(
                    fault.body or error_body("Injected", code=fault.status, status="INTERNAL"),
                    fault.status,
                    headers=dict(fault.headers),
                )
            case "delay":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.seconds)
                if answer is not None:
                    return answer
                return _json(error_body("deadline exceeded", code=504, status="UNAVAILABLE"), 504)
            case "reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            case "malformed":
                return web.Response(
                    status=200, text='{"name": "accounts/', content_type="application/json"
                )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _next_fault(self, route: str) -> Fault | None:
        for key in (route, Route.ANY):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _authorized(self, request: web.Request) -> bool:
        return (
            self.api_key is None
            or request.headers.get("Authorization") == f"Bearer {self.api_key}"
        )

    async def _read(self, request: web.Request) -> tuple[Any, dict[str, str]]:
        if request.content_type == "multipart/form-data":
            form: dict[str, str] = {}
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader):
                    data = await part.read(decode=False)
                    form[str(part.name)] = data.decode("latin-1")
            return None, form
        raw = await request.read()
        if request.method == "PUT":
            return raw, {}
        if not raw:
            return None, {}
        try:
            return json.loads(raw), {}
        except ValueError:
            return None, {}

    async def _answer(
        self, handler: Handler, request: web.Request, body: Any
    ) -> web.StreamResponse:
        request[_BODY] = body
        try:
            account = request.match_info.get("account")
            shared = account == "fireworks" and request.method == "GET"  # its base models
            if account is not None and account != self.account and not shared:
                # Another account's resources: Fireworks answers as for a missing one.
                raise _ApiError(403, "permission denied on the account", "PERMISSION_DENIED")
            return await handler(request)
        except _ApiError as error:
            return _json(
                error_body(error.message, code=error.status, status=error.rpc), error.status
            )
        except Exception as error:  # a bug in the fake: recorded, and the test fails
            self.errors.append(error)
            raise

    # -- accounts, models -----------------------------------------------------------------

    async def _list_accounts(self, request: web.Request) -> web.Response:
        account = {"name": f"accounts/{self.account}", "email": f"ops@{self.account}.example"}
        return _json({"accounts": [account], "nextPageToken": "", "totalSize": 1})

    async def _list_models(self, request: web.Request) -> web.Response:
        if (
            request.match_info["account"] != self.account
            and request.match_info["account"] != "fireworks"
        ):
            raise _ApiError(403, "permission denied", "PERMISSION_DENIED")
        models = [_model(m) for m in (*BASE_MODELS, NOT_TUNABLE)]
        return _json({"models": models, "nextPageToken": "", "totalSize": len(models)})

    async def _get_model(self, request: web.Request) -> web.Response:
        name = f"accounts/{request.match_info['account']}/models/{request.match_info['model']}"
        if name not in (*BASE_MODELS, NOT_TUNABLE):
            raise _ApiError(404, f"Model not found: {name}", "NOT_FOUND")
        return _json(_model(name))

    # -- datasets ---------------------------------------------------------------------------

    def _dataset(self, request: web.Request) -> Json:
        found = self.datasets.get(request.match_info["dataset"])
        if found is None:
            raise _ApiError(404, "dataset not found", "NOT_FOUND")
        return found

    async def _create_dataset(self, request: web.Request) -> web.Response:
        body = request[_BODY] or {}
        dataset_id = body.get("datasetId")
        if not isinstance(dataset_id, str) or not dataset_id:
            raise _ApiError(400, "datasetId is required", "INVALID_ARGUMENT")
        if dataset_id in self.datasets:
            raise _ApiError(409, "dataset already exists", "ALREADY_EXISTS")
        given = body.get("dataset") or {}
        dataset: Json = {
            "name": f"accounts/{self.account}/datasets/{dataset_id}",
            "displayName": given.get("displayName") or dataset_id,
            "createTime": self._iso(),
            "state": "UPLOADING",
            "userUploaded": {},
            "format": "CHAT",
            "exampleCount": "0",
        }
        self.datasets[dataset_id] = dataset
        return _json(dataset)

    async def _get_dataset(self, request: web.Request) -> web.Response:
        return _json(self._dataset(request))

    async def _delete_dataset(self, request: web.Request) -> web.Response:
        self._dataset(request)
        dataset_id = request.match_info["dataset"]
        del self.datasets[dataset_id]
        self.contents.pop(dataset_id, None)
        return _json({})

    def _store(self, dataset: Json, content: bytes) -> None:
        dataset_id = dataset["name"].rsplit("/", 1)[-1]
        self.contents[dataset_id] = content
        lines = [line for line in content.splitlines() if line.strip()]
        dataset["exampleCount"] = str(len(lines))
        # Fireworks' upload checks the count (3 or more examples); a line that is not JSON
        # fails the job that reads it, while it validates.
        problem = None if len(lines) >= 3 else _problem(content)
        if problem is None:
            dataset["state"] = "READY"
            dataset["status"] = {"code": "OK", "message": ""}
        else:
            dataset["status"] = {"code": "INVALID_ARGUMENT", "message": problem}

    async def _upload_dataset(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        recorded = self.requests[-1].form
        if "file" not in recorded:
            raise _ApiError(400, "file is required", "INVALID_ARGUMENT")
        self._store(dataset, recorded["file"].encode("latin-1"))
        return _json({"filenameToSignedUrls": {}})

    async def _upload_endpoint(self, request: web.Request) -> web.Response:
        self._dataset(request)
        sizes = (request[_BODY] or {}).get("filenameToSize") or {}
        dataset_id = request.match_info["dataset"]
        urls = {name: f"{self.base_url}/signed/{dataset_id}" for name in sizes}
        return _json({"filenameToSignedUrls": urls})

    async def _signed_put(self, request: web.Request) -> web.Response:
        dataset_id = request.match_info["dataset"]
        if dataset_id not in self.datasets:
            return web.Response(status=404)
        self.contents[dataset_id] = request[_BODY] or b""
        return web.Response(status=200)

    async def _validate_upload(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        dataset_id = request.match_info["dataset"]
        if dataset_id not in self.contents:
            raise _ApiError(400, "nothing was uploaded", "FAILED_PRECONDITION")
        self._store(dataset, self.contents[dataset_id])
        return _json({})

    async def _download_endpoint(self, request: web.Request) -> web.Response:
        dataset = self._dataset(request)
        dataset_id = request.match_info["dataset"]
        name = f"{dataset['displayName']}"
        return _json({"filenameToSignedUrls": {name: f"{self.base_url}/signed/{dataset_id}"}})

    async def _signed_get(self, request: web.Request) -> web.Response:
        content = self.contents.get(request.match_info["dataset"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _metrics_file(self, request: web.Request) -> web.Response:
        rows = self.metrics.get(request.match_info["job"])
        if rows is None:
            return web.Response(status=404)
        return web.Response(text="".join(json.dumps(r) + "\n" for r in rows))

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, request: web.Request) -> Json:
        kind = request.path.split("/")[4]
        found = self.jobs.get(request.match_info["job"])
        if found is None or found["kind"] != kind:
            raise _ApiError(404, "job not found", "NOT_FOUND")
        return found

    def _shown(self, job: Json) -> Json:
        shown = {k: v for k, v in job.items() if k not in ("id", "kind", "pausedFrom")}
        state = self.reported_status.get(job["id"])
        return shown if state is None else {**shown, "state": state}

    async def _create_job(self, request: web.Request) -> web.Response:
        kind = request.path.split("/")[4]
        body = request[_BODY] or {}
        job_id = request.query.get(_JOB_KINDS[kind]) or f"job{next(self._ids):08d}"
        if job_id in self.jobs:
            raise _ApiError(409, f"job {job_id} already exists", "ALREADY_EXISTS")
        dataset = body.get("dataset")
        if not isinstance(dataset, str) or dataset.rsplit("/", 1)[-1] not in self.datasets:
            raise _ApiError(400, f"dataset {dataset} not found", "INVALID_ARGUMENT")
        config = body.get("trainingConfig") or body if kind == "dpoJobs" else body
        model = config.get("baseModel")
        if model not in BASE_MODELS:
            raise _ApiError(400, f"model {model} is not tunable", "INVALID_ARGUMENT")
        job: Json = {
            **body,
            "id": job_id,
            "kind": kind,
            "name": f"accounts/{self.account}/{kind}/{job_id}",
            "createTime": self._iso(),
            "createdBy": f"ops@{self.account}.example",
        }
        output = f"accounts/{self.account}/models/{job_id}"
        if kind == "dpoJobs":
            job["trainingConfig"] = {**config, "outputModel": config.get("outputModel") or output}
        else:
            job.setdefault("outputModel", output)
            job["estimatedCost"] = self._cost(dataset, int(body.get("epochs") or 1))
        self.jobs[job_id] = job
        self._set(job, "JOB_STATE_CREATING")
        return _json(self._shown(job))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        kind = request.path.split("/")[4]
        size = min(200, int(request.query.get("pageSize") or 50))
        start = int(request.query.get("pageToken") or 0)
        jobs = sorted(
            (j for j in self.jobs.values() if j["kind"] == kind), key=lambda j: j["name"]
        )
        page = jobs[start : start + size]
        more = str(start + size) if start + size < len(jobs) else ""
        key = "supervisedFineTuningJobs" if kind == "supervisedFineTuningJobs" else "dpoJobs"
        return _json(
            {key: [self._shown(j) for j in page], "nextPageToken": more, "totalSize": len(jobs)}
        )

    async def _get_job(self, request: web.Request) -> web.Response:
        return _json(self._shown(self._job(request)))

    async def _cancel_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job["state"] in TERMINAL:
            raise _ApiError(400, "the job has already ended", "FAILED_PRECONDITION")
        self._set(job, "JOB_STATE_CANCELLING")
        return _json({})

    def _cost(self, dataset: str, epochs: int) -> Json:
        """google.type.Money: whole dollars as a string, the rest in nanos."""
        tokens = len(self.contents.get(dataset.rsplit("/", 1)[-1], b"")) // 4 * epochs
        nanos = round(tokens * self.price_per_million * 1000)  # dollars * 1e9 / 1e6
        return {"currencyCode": "USD", "units": str(nanos // 10**9), "nanos": nanos % 10**9}

    async def _resume_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job["state"] != "JOB_STATE_PAUSED":
            raise _ApiError(400, "only a paused job can be resumed", "FAILED_PRECONDITION")
        self._set(job, "JOB_STATE_RE_QUEUEING")
        return _json(self._shown(job))

    async def _dpo_metrics_endpoint(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job["id"] not in self.metrics:
            return _json({})
        return _json({"signedUrl": f"{self.base_url}/metrics/{job['id']}"})

    # -- chat -------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.Response:
        body = request[_BODY] or {}
        model = body.get("model")
        tuned = {
            j.get("outputModel") or (j.get("trainingConfig") or {}).get("outputModel")
            for j in self.jobs.values()
            if j["state"] == "JOB_STATE_COMPLETED"
        }
        if model in tuned and self.require_deployment and model not in self.deployed:
            raise _ApiError(
                404,
                f"Model not found, inaccessible, and/or not deployed: {model}",
                "NOT_FOUND",
            )
        if model not in BASE_MODELS and model not in tuned:
            raise _ApiError(404, f"Model not found: {model}", "NOT_FOUND")
        messages = body.get("messages") or []
        last = str(messages[-1].get("content", "")) if messages else ""
        reply = f"echo: {last}"
        number = next(self._ids)
        return _json(
            {
                "id": f"chatcmpl-{hashlib.sha256(str(number).encode()).hexdigest()[:12]}",
                "object": "chat.completion",
                "created": int(self.clock()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in messages),
                    "completion_tokens": len(reply.split()),
                    "total_tokens": 0,
                },
            }
        )


def _model(name: str) -> Json:
    return {"name": name, "tunable": name != NOT_TUNABLE, "createTime": "2025-01-01T00:00:00Z"}


def _config(job: Json) -> Json:
    """Where a job keeps its training options: a DPO job's trainingConfig, else the job."""
    config = job.get("trainingConfig")
    return config if isinstance(config, dict) else job


def _route_name(method: str, template: str) -> str:
    """`POST /datasets/{dataset}:upload` from the aiohttp template of a route."""
    path = template
    for name in ("dataset", "job", "model"):
        path = path.replace(_ID % name, "{" + name + "}")
    return f"{method} {path.removeprefix('/v1/accounts/{account}')}"


def _problem(content: bytes) -> str | None:
    lines = [line for line in content.splitlines() if line.strip()]
    if len(lines) < 3:
        return f"a dataset needs at least 3 examples, this one has {len(lines)}"
    for number, line in enumerate(lines, start=1):
        try:
            json.loads(line)
        except ValueError:
            return f"line {number} is not valid JSON"
    return None


def _json(
    body: object, status: int = 200, *, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)
