"""Test fake: a local Vertex AI tuning service on aiohttp, for google-genai in Vertex mode.

Usage::

    async with FakeVertex(token=TOKEN, read=gcs_reader, clock=...) as fake:
        client = genai.Client(vertexai=True, project="p", location="us-central1",
                              credentials=static_token(TOKEN),
                              http_options=HttpOptions(base_url=fake.base_url))
        fake.advance()  # every live job one phase or one step on

Routes and bodies follow the aiplatform v1 Discovery document (`projects.locations.tuningJobs`
create, get, list with `pageSize`/`pageToken`, `:cancel`; `publishers.models` and `endpoints`
`:generateContent`) and what google-genai's converters read (`_TuningJob_from_vertex`:
`state`, `tuningJobState`, `tuningJobMetadata`, `tuningDataStats`, `tunedModel{model,
endpoint}`, `error{code, message}`). Errors are google.rpc `{"error": {code, message, status}}`.

A job's life, one `advance()` a phase: JOB_STATE_QUEUED -> PENDING (waiting for quota) ->
PENDING (processing the dataset: the training file is read from GCS through `read`; a line
that is not a Gemini example fails the job here) -> RUNNING (tuning, `completedStepCount` +1 a
tick up to the data's `tuningStepCount`) -> RUNNING (post-processing) -> SUCCEEDED with a
tuned model deployed at an endpoint that answers generateContent. `:cancel` moves a live job
to CANCELLING, then CANCELLED; on a finished job it is 400 FAILED_PRECONDITION.

`BASE_MODELS` are tunable in `REGIONS` only; elsewhere a create is 400 INVALID_ARGUMENT,
worded as Vertex words it. Faults (`Fault`, shared with tests/fakes/openai_server.py): an
error status, a held answer, a reset connection; `commit=True` lets the request act first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.openai_server import Fault, RecordedRequest

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BASE_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
REGIONS = ("us-central1", "europe-west4")
"""Where `BASE_MODELS` are tunable."""
LOCATIONS = (*REGIONS, "europe-west9", "asia-south1")
"""Every location the service answers in; elsewhere it is 404 NOT_FOUND."""
STEPS_PER_EPOCH = 2
DEFAULT_EPOCHS = 3
TERMINAL = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
    }
)
_PREFIX = "/v1/projects/{project}/locations/{location}"
_BODY: web.RequestKey[Any] = web.RequestKey("fake_vertex_body", object)

__all__ = ["BASE_MODELS", "LOCATIONS", "REGIONS", "FakeVertex", "Fault", "Route", "error_body"]


def error_body(message: str, *, code: int = 400, status: str = "INVALID_ARGUMENT") -> Json:
    return {"error": {"code": code, "message": message, "status": status}}


class Route:
    """Route names for `inject` and `requests_to`."""

    ANY = "*"
    TOKEN = "POST /token"
    CREATE_JOB = "POST /tuningJobs"
    LIST_JOBS = "GET /tuningJobs"
    GET_JOB = "GET /tuningJobs/{job}"
    CANCEL_JOB = "POST /tuningJobs/{job}:cancel"
    GENERATE_BASE = "POST /publishers/google/models/{model}"
    GENERATE_ENDPOINT = "POST /endpoints/{endpoint}"


class _ApiError(Exception):
    def __init__(self, status: int, message: str, rpc: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rpc = rpc


class FakeVertex:
    """An in-memory Vertex AI tuning service on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self,
        *,
        token: str | None = None,
        read: Callable[[str], bytes | None],
        clock: Callable[[], float],
    ) -> None:
        self.token = token
        self.read = read
        """Reads a `gs://` object (None if it is not there): the emulator's bucket."""
        self.clock = clock
        self.jobs: dict[str, Json] = {}
        self.endpoints: dict[str, str] = {}
        """Endpoint resource name -> the base model of the job that deployed it."""
        self.reported_status: dict[str, str] = {}
        self.service_accounts: dict[str, bytes] = {}
        """Service-account emails the token endpoint knows, with each one's public key (PEM):
        a signed assertion of another, or a bad signature, is refused as Google refuses it."""
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(7_000_000_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/token", self._token)
        app.router.add_post(_PREFIX + "/tuningJobs", self._create_job)
        app.router.add_get(_PREFIX + "/tuningJobs", self._list_jobs)
        app.router.add_route("*", _PREFIX + "/tuningJobs/{tail}", self._job_route)
        app.router.add_post(_PREFIX + "/publishers/google/models/{tail}", self._generate_base)
        app.router.add_post(_PREFIX + "/endpoints/{tail}", self._generate_endpoint)
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
    def token_uri(self) -> str:
        """The OAuth2 token endpoint a service account's assertion goes to (Google's is
        https://oauth2.googleapis.com/token)."""
        return f"http://127.0.0.1:{self._port}/token"

    @property
    def base_url(self) -> str:
        """For `HttpOptions(base_url=...)`: the SDK adds `v1/projects/...` itself."""
        return f"http://127.0.0.1:{self._port}/"

    # -- scripting --------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.setdefault(route, deque()).extend([fault] * times)

    def pending_faults(self) -> int:
        return sum(len(q) for q in self._faults.values())

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def _set(self, job: Json, state: str, detail: str | None = None) -> None:
        job["state"] = state
        if detail is None:
            job.pop("tuningJobState", None)
        else:
            job["tuningJobState"] = detail
        job["updateTime"] = self._iso()
        if state in TERMINAL:
            job["endTime"] = self._iso()
            job.pop("tuningJobState", None)

    # -- a job's life -------------------------------------------------------------------------

    def advance(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            for job in list(self.jobs.values()):
                self._tick(job)

    def finish_job(self, job_id: str, status: str) -> Json:
        """End a live job now as "succeeded" or "failed"."""
        job = self.jobs[job_id]
        if status == "succeeded":
            self._succeed(job)
        elif status == "failed":
            job["error"] = {"code": 13, "message": "Tuning failed: internal error."}
            self._set(job, "JOB_STATE_FAILED")
        else:
            raise ValueError(f"finish_job ends a job as succeeded or failed, not {status!r}")
        return job

    def _tick(self, job: Json) -> None:
        state, detail = job["state"], job.get("tuningJobState")
        if state == "JOB_STATE_QUEUED":
            self._set(job, "JOB_STATE_PENDING", "TUNING_JOB_STATE_WAITING_FOR_QUOTA")
        elif state == "JOB_STATE_PENDING" and detail == "TUNING_JOB_STATE_WAITING_FOR_QUOTA":
            self._set(job, "JOB_STATE_PENDING", "TUNING_JOB_STATE_PROCESSING_DATASET")
        elif state == "JOB_STATE_PENDING":
            self._process_dataset(job)
        elif state == "JOB_STATE_RUNNING" and detail == "TUNING_JOB_STATE_TUNING":
            meta = job["tuningJobMetadata"]
            meta["completedStepCount"] += 1
            total = self._stats(job)["tuningStepCount"]
            meta["completedEpochCount"] = meta["completedStepCount"] // STEPS_PER_EPOCH
            if meta["completedStepCount"] >= int(total):
                self._set(job, "JOB_STATE_RUNNING", "TUNING_JOB_STATE_POST_PROCESSING")
            else:
                job["updateTime"] = self._iso()
        elif state == "JOB_STATE_RUNNING":
            self._succeed(job)
        elif state == "JOB_STATE_CANCELLING":
            self._set(job, "JOB_STATE_CANCELLED")

    def _spec(self, job: Json) -> Json:
        spec: Json = job.get("preferenceOptimizationSpec") or job["supervisedTuningSpec"]
        return spec

    def _stats(self, job: Json) -> Json:
        stats: Json = job["tuningDataStats"]
        key = (
            "preferenceOptimizationDataStats"
            if "preferenceOptimizationSpec" in job
            else "supervisedTuningDataStats"
        )
        found: Json = stats[key]
        return found

    def _process_dataset(self, job: Json) -> None:
        spec = self._spec(job)
        preference = "preferenceOptimizationSpec" in job
        content = self.read(spec["trainingDatasetUri"])
        if content is None:
            problem: str | None = f"cannot read {spec['trainingDatasetUri']}"
            tokens = examples = 0
        else:
            problem, examples, tokens = _check_dataset(content, preference=preference)
        if problem is not None:
            job["error"] = {"code": 3, "message": f"Dataset validation failed: {problem}"}
            self._set(job, "JOB_STATE_FAILED")
            return
        epochs = int(spec.get("hyperParameters", {}).get("epochCount") or DEFAULT_EPOCHS)
        key = "preferenceOptimizationDataStats" if preference else "supervisedTuningDataStats"
        job["tuningDataStats"] = {
            key: {
                "tuningDatasetExampleCount": str(examples),
                "totalBillableTokenCount": str(tokens),
                "tuningStepCount": str(epochs * STEPS_PER_EPOCH),
            }
        }
        job["startTime"] = self._iso()
        job["tuningJobMetadata"] = {"completedStepCount": 0, "completedEpochCount": 0}
        self._set(job, "JOB_STATE_RUNNING", "TUNING_JOB_STATE_TUNING")

    def _succeed(self, job: Json) -> None:
        name = job["name"]
        base, _, number = name.rpartition("/tuningJobs/")
        endpoint = f"{base}/endpoints/{number[-9:]}"
        job["tunedModel"] = {"model": f"{base}/models/{number[-9:]}@1", "endpoint": endpoint}
        self.endpoints[endpoint] = job["baseModel"]
        self._set(job, "JOB_STATE_SUCCEEDED")

    # -- HTTP -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_name(request)
        fault = self._next_fault(route)
        raw = await request.read()
        body: Any = None
        if raw:
            with contextlib.suppress(ValueError):
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
                fault=fault.kind if fault else None,
            )
        )
        if route == Route.TOKEN:
            return await self._answer(handler, request, body)
        if self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        ):
            return _json(
                error_body(
                    "Request had invalid authentication credentials.",
                    code=401,
                    status="UNAUTHENTICATED",
                ),
                401,
            )
        if fault is None:
            return await self._answer(handler, request, body)
        answer: web.StreamResponse | None = None
        if fault.commit:
            answer = await self._answer(handler, request, body)
        match fault.kind:
            case "status":
                return _json(
                    _rpc_error(fault.status, fault.body), fault.status, headers=dict(fault.headers)
                )
            case "delay":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.seconds)
                if answer is not None:
                    return answer
                return _json(error_body("deadline", code=504, status="DEADLINE_EXCEEDED"), 504)
            case "reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            case "malformed":
                return web.Response(
                    status=200, text='{"name": "proj', content_type="application/json"
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
            location = request.match_info.get("location")
            if location is not None and location not in LOCATIONS:
                raise _ApiError(
                    404,
                    f"Location {location} is not found or access is unauthorized.",
                    "NOT_FOUND",
                )
            return await handler(request)
        except _ApiError as error:
            return _json(
                error_body(error.message, code=error.status, status=error.rpc), error.status
            )
        except Exception as error:  # a bug in the fake: recorded, and the test fails
            self.errors.append(error)
            raise

    # -- OAuth2: a service account's signed assertion for an access token ----------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assertion = str(form.get("assertion") or "")
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _oauth_error("unsupported_grant_type", "Only JWT bearer grants.")
        try:
            head, claims, signature = assertion.split(".")
            payload = json.loads(_unpad(claims))
            key = self.service_accounts[str(payload["iss"])]
            public = serialization.load_pem_public_key(key)
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(
                _unpad(signature),
                f"{head}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, KeyError, InvalidSignature):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        return web.json_response(
            {
                "access_token": self.token or "fake-token",
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    # -- tuning jobs ------------------------------------------------------------------------

    async def _create_job(self, request: web.Request) -> web.Response:
        body: Json = request[_BODY] or {}
        location = request.match_info["location"]
        base = body.get("baseModel")
        if not isinstance(base, str) or not base:
            raise _ApiError(400, "baseModel is required.", "INVALID_ARGUMENT")
        if base not in BASE_MODELS:
            raise _ApiError(400, f"Base model {base} is not supported.", "INVALID_ARGUMENT")
        if location not in REGIONS:
            raise _ApiError(
                400,
                f"Base model {base} is not supported in region {location}.",
                "INVALID_ARGUMENT",
            )
        specs = [k for k in ("supervisedTuningSpec", "preferenceOptimizationSpec") if k in body]
        if len(specs) != 1:
            raise _ApiError(400, "Exactly one tuning spec is required.", "INVALID_ARGUMENT")
        spec = body[specs[0]]
        uri = spec.get("trainingDatasetUri")
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise _ApiError(400, "trainingDatasetUri must be a gs:// URI.", "INVALID_ARGUMENT")
        size = spec.get("hyperParameters", {}).get("adapterSize")
        if size is not None and size not in (
            "ADAPTER_SIZE_ONE",
            "ADAPTER_SIZE_TWO",
            "ADAPTER_SIZE_FOUR",
            "ADAPTER_SIZE_EIGHT",
            "ADAPTER_SIZE_SIXTEEN",
        ):
            raise _ApiError(400, f"Unsupported adapter size {size}.", "INVALID_ARGUMENT")
        job_id = str(next(self._ids))
        project = request.match_info["project"]
        job: Json = {
            "name": f"projects/{project}/locations/{location}/tuningJobs/{job_id}",
            "baseModel": base,
            "state": "JOB_STATE_QUEUED",
            "createTime": self._iso(),
            "updateTime": self._iso(),
            specs[0]: spec,
            "tunedModelDisplayName": body.get("tunedModelDisplayName") or job_id,
            "tuningDataStats": {},
        }
        for key in ("description", "labels"):
            if key in body:
                job[key] = body[key]
        self.jobs[job_id] = job
        return _json(self._shown(job))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        size = int(request.query.get("pageSize") or 100)
        start = int(request.query.get("pageToken") or 0)
        newest = sorted(
            self.jobs.values(), key=lambda j: (j["createTime"], j["name"]), reverse=True
        )
        page = newest[start : start + size]
        answer: Json = {"tuningJobs": [self._shown(j) for j in page]}
        if start + size < len(newest):
            answer["nextPageToken"] = str(start + size)
        return _json(answer)

    async def _job_route(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        job_id, _, verb = tail.partition(":")
        job = self.jobs.get(job_id)
        if job is None:
            raise _ApiError(404, f"TuningJob {job_id} not found.", "NOT_FOUND")
        if request.method == "GET" and not verb:
            return _json(self._shown(job))
        if request.method == "POST" and verb == "cancel":
            if job["state"] in TERMINAL or job["state"] == "JOB_STATE_CANCELLING":
                raise _ApiError(
                    400,
                    f"TuningJob {job_id} is in state {job['state']} and cannot be cancelled.",
                    "FAILED_PRECONDITION",
                )
            self._set(job, "JOB_STATE_CANCELLING")
            return _json({})
        raise _ApiError(404, "Not found.", "NOT_FOUND")

    def _shown(self, job: Json) -> Json:
        shown: Json = json.loads(json.dumps(job))
        override = self.reported_status.get(job["name"].rsplit("/", 1)[-1])
        if override is not None:
            shown["state"] = override
        if not shown.get("tuningDataStats"):
            shown.pop("tuningDataStats", None)
        return shown

    # -- inference ----------------------------------------------------------------------------

    async def _generate_base(self, request: web.Request) -> web.Response:
        model, _, verb = request.match_info["tail"].rpartition(":")
        if verb != "generateContent" or model not in BASE_MODELS:
            raise _ApiError(
                404,
                f"Publisher Model `publishers/google/models/{model}` was not found.",
                "NOT_FOUND",
            )
        return _json(_answer(request[_BODY] or {}, model))

    async def _generate_endpoint(self, request: web.Request) -> web.Response:
        number, _, verb = request.match_info["tail"].rpartition(":")
        prefix = request.path.split("/endpoints/", 1)[0].removeprefix("/v1/")
        name = f"{prefix}/endpoints/{number}"
        if verb != "generateContent" or name not in self.endpoints:
            raise _ApiError(404, f"Endpoint {name} not found.", "NOT_FOUND")
        return _json(_answer(request[_BODY] or {}, f"tuned {self.endpoints[name]}"))


def _answer(body: Json, model: str) -> Json:
    texts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
    prompt = " ".join(texts)
    reply = f"({model}) A short answer to: {prompt[:60]}"
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    words = reply.split()
    if isinstance(limit, int):
        words = words[:limit]
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": " ".join(words)}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": max(1, len(prompt.split())),
            "candidatesTokenCount": len(words),
            "totalTokenCount": max(1, len(prompt.split())) + len(words),
        },
        "modelVersion": model,
        "responseId": f"resp-{abs(hash((prompt, model))) % 10**12}",
    }


def _check_dataset(content: bytes, *, preference: bool) -> tuple[str | None, int, int]:
    """The first problem of a Gemini tuning file (None if it has none), its example count and
    a token count (words, for the fake's billing)."""
    examples = tokens = 0
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            return f"line {number} is not valid JSON.", 0, 0
        contents = line.get("contents") if isinstance(line, dict) else None
        if not isinstance(contents, list) or not contents:
            return f"line {number} has no contents.", 0, 0
        turns = list(contents)
        if preference:
            completions = line.get("completions")
            if not isinstance(completions, list) or len(completions) < 2:
                return f"line {number} needs two scored completions.", 0, 0
            turns += [c.get("completion", {}) for c in completions]
        for turn in turns:
            if turn.get("role") not in ("user", "model") or not turn.get("parts"):
                return f"line {number} has a turn without a role or parts.", 0, 0
            for part in turn["parts"]:
                tokens += len(str(part.get("text", "")).split()) or 1
        examples += 1
    if not examples:
        return "the dataset is empty.", 0, 0
    return None, examples, tokens


def _route_name(request: web.Request) -> str:
    path = request.path
    if path == "/token":
        return Route.TOKEN
    if "/tuningJobs/" in path:
        return Route.CANCEL_JOB if path.endswith(":cancel") else Route.GET_JOB
    if path.endswith("/tuningJobs"):
        return Route.CREATE_JOB if request.method == "POST" else Route.LIST_JOBS
    if "/endpoints/" in path:
        return Route.GENERATE_ENDPOINT
    if "/publishers/" in path:
        return Route.GENERATE_BASE
    return f"{request.method} {path}"


def _unpad(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


def _rpc_error(status: int, body: Json | None) -> Json:
    """An injected fault's body, as google.rpc words it."""
    message = "Injected error"
    if body is not None:
        message = str(body.get("error", {}).get("message") or message)
    rpc = {
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
    }
    return error_body(message, code=status, status=rpc.get(status, "INTERNAL"))


def _json(body: Json, status: int = 200, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)
