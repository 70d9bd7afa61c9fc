"""Test fake: a local OpenAI fine-tuning API on aiohttp, shaped by openai-openapi.yml, with faults.

Usage::

    async with FakeOpenAI() as fake:
        client = AsyncOpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0)
        job = fake.add_job(status="running")
        fake.add_events(job["id"], ["Step 1/10", {"type": "metrics", "data": {"step": 2}}])
        fake.inject(Route.GET_JOB, Fault.server_error(), times=2)
        fake.advance()  # every live job one phase or training step on
        ...
        assert fake.requests_to(Route.CREATE_JOB)[0].json["model"] == "gpt-4o-mini"

Routes are named "METHOD /path" with `{placeholders}` (see `Route`); `"*"` matches any route.
The same handlers answer under `/v1` (OpenAI, `base_url`) and `/openai` (Azure,
`azure_endpoint`), so `AsyncAzureOpenAI` can be pointed at it too.

`FakeOpenAI(azure=True)` is an Azure OpenAI resource as Azure's REST reference and its known
differences describe it: every `/openai/...` request needs an `api-version` query; auth is the
`api-key` header (or `Authorization: Bearer` with the Entra ID token given as `ad_token`); a
job create needs `trainingType`; a validated job waits as `pending` (Azure's word for
OpenAI's `queued`), with `organization_id` and `result_files` null; a fine-tuned model is named
`<base>.ft-<32 hex>[-suffix]` and answers chat only from a deployment
(`/openai/deployments/{name}/chat/completions`), made through the management plane's
deployments route (`PUT .../accounts/{account}/deployments/{name}`, or `deploy()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import BodyPartReader, web

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "api-key"})
_BODY = web.RequestKey("fake_openai_body", object)
_STUCK = web.RequestKey("fake_openai_stuck", bool)


class Route:
    """Route names for `inject` and `requests_to`."""

    ANY = "*"
    UPLOAD_FILE = "POST /files"
    LIST_FILES = "GET /files"
    GET_FILE = "GET /files/{file_id}"
    DELETE_FILE = "DELETE /files/{file_id}"
    CREATE_JOB = "POST /fine_tuning/jobs"
    LIST_JOBS = "GET /fine_tuning/jobs"
    GET_JOB = "GET /fine_tuning/jobs/{job_id}"
    CANCEL_JOB = "POST /fine_tuning/jobs/{job_id}/cancel"
    PAUSE_JOB = "POST /fine_tuning/jobs/{job_id}/pause"
    RESUME_JOB = "POST /fine_tuning/jobs/{job_id}/resume"
    LIST_EVENTS = "GET /fine_tuning/jobs/{job_id}/events"
    LIST_CHECKPOINTS = "GET /fine_tuning/jobs/{job_id}/checkpoints"
    LIST_MODELS = "GET /models"
    GET_MODEL = "GET /models/{model}"
    DELETE_MODEL = "DELETE /models/{model}"
    FILE_CONTENT = "GET /files/{file_id}/content"
    CHAT = "POST /chat/completions"
    LIST_CHAT = "GET /chat/completions"
    CHAT_MESSAGES = "GET /chat/completions/{completion_id}/messages"
    CREATE_UPLOAD = "POST /uploads"
    ADD_UPLOAD_PART = "POST /uploads/{upload_id}/parts"
    COMPLETE_UPLOAD = "POST /uploads/{upload_id}/complete"
    CANCEL_UPLOAD = "POST /uploads/{upload_id}/cancel"
    AZURE_CHAT = "POST /deployments/{deployment}/chat/completions"
    """Azure mode: chat with a deployment (the SDK's route for `model=<deployment name>`)."""
    PUT_DEPLOYMENT = (
        "PUT /subscriptions/{subscription}/resourceGroups/{group}/providers/"
        "Microsoft.CognitiveServices/accounts/{account}/deployments/{deployment}"
    )
    """Azure mode: the management plane's deployment of a model (ARM, its own api-version)."""
    LIST_DEPLOYMENTS = (
        "GET /subscriptions/{subscription}/resourceGroups/{group}/providers/"
        "Microsoft.CognitiveServices/accounts/{account}/deployments"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One scripted misbehaviour. `commit=True` lets the request change state first.

    kinds: "status" (an error status and body), "delay" (hold the answer `seconds`),
    "reset" (close the connection without an answer), "malformed" (200 with broken JSON).
    """

    kind: str
    status: int = 500
    body: Json | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    commit: bool = False

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "Injected error",
        *,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
        commit: bool = False,
    ) -> Fault:
        return cls(
            kind="status",
            status=status,
            body=error_body(message, type=type, code=code),
            headers=dict(headers or {}),
            commit=commit,
        )

    @classmethod
    def rate_limit(
        cls, retry_after: float | None = 1.0, *, retry_after_ms: int | None = None
    ) -> Fault:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = _num(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        return cls.error(
            429,
            "Rate limit reached for requests",
            code="rate_limit_exceeded",
            type="requests",
            headers=headers,
        )

    @classmethod
    def quota(cls) -> Fault:
        return cls.error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            code="insufficient_quota",
            type="insufficient_quota",
        )

    @classmethod
    def server_error(cls, status: int = 500, *, commit: bool = False) -> Fault:
        return cls.error(
            status,
            "The server had an error while processing your request.",
            type="server_error",
            commit=commit,
        )

    @classmethod
    def delay(cls, seconds: float, *, commit: bool = True) -> Fault:
        """Hold the answer; with `commit` the work is done first (the client just never hears)."""
        return cls(kind="delay", seconds=seconds, commit=commit)

    @classmethod
    def reset(cls, *, commit: bool = False) -> Fault:
        return cls(kind="reset", commit=commit)

    @classmethod
    def malformed(cls, *, commit: bool = False) -> Fault:
        return cls(kind="malformed", commit=commit)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    method: str
    path: str
    """Path below the API prefix, e.g. "/fine_tuning/jobs/ftjob-1/events"."""
    route: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-cased names; Authorization and api-key values are replaced by `<redacted>`."""
    json: Any = None
    form: Mapping[str, str] = field(default_factory=dict)
    """Multipart fields; a file field shows as "<filename> (<n> bytes)"."""
    fault: str | None = None


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> Json:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class FakeOpenAI:
    """An in-memory OpenAI API on 127.0.0.1 with an ephemeral port; see the module docstring."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        clock: Callable[[], float] = time.time,
        organization_id: str = "org-fake",
        azure: bool = False,
        ad_token: str | None = None,
        first_id: int = 1,
    ) -> None:
        self.api_key = api_key
        """When set, requests must carry it (Bearer or api-key; Azure mode: api-key only) or
        get a 401."""
        self.azure = azure
        """Azure mode (see the module docstring)."""
        self.ad_token = ad_token
        """Azure mode: an Entra ID token accepted as `Authorization: Bearer <token>`."""
        self.deployments: dict[str, str] = {}
        """Azure mode: deployment name -> the model it serves. Base models come deployed under
        their own names (as an operator deploys them before comparing against a base)."""
        self.clock = clock
        self.organization_id = organization_id
        self.files: dict[str, Json] = {}
        self.file_contents: dict[str, bytes] = {}
        self.jobs: dict[str, Json] = {}
        self.events: dict[str, list[Json]] = {}
        """Per job, oldest first (served newest first)."""
        self.checkpoints: dict[str, list[Json]] = {}
        self.models: dict[str, Json] = {}
        self.chat_completions: dict[str, Json] = {}
        """Stored completions (`store: true`), in creation order, with their request messages
        under `_messages`."""
        self.answer: Callable[[str, list[Json]], str] = lambda model, messages: (
            f"echo: {messages[-1].get('content', '')}" if messages else "echo"
        )
        self.uploads: dict[str, Json] = {}
        self.upload_parts: dict[str, bytes] = {}
        """Part id -> its bytes (tests keep parts small)."""
        # Fault switches: answers the spec allows, or a broken server sends, that a client
        # must survive.
        self.stuck_cursor: set[str] = set()
        """List routes that ignore `after` and always answer the first page, `has_more: true`."""
        self.ignore_metadata_filter = False
        """List routes skip `metadata[k]=v` filters (some compatible servers do)."""
        self.empty_choices = False
        """Chat answers `choices: []` (the spec's array has no minimum)."""
        self.upload_without_file = False
        """Completing an Upload answers `status: completed` with `file: null`."""
        self.reported_status: dict[str, str] = {}
        """Job id -> the status string every read of that job answers instead of its own (a
        status newer than the spec's enum, which the SDK passes through unvalidated)."""
        self._runs: dict[str, _Run] = {}
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        """Unexpected exceptions inside the fake's handlers (answered as 500s)."""
        self._faults: dict[str, deque[Fault]] = {}
        self._changed = asyncio.Condition()
        self._ids = itertools.count(first_id)
        """Ids are numbered from `first_id`: two fakes in one test give distinct job ids, as
        two real providers do."""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port = 0
        for base in ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"):
            self.add_model(base, owned_by="system", created=1_700_000_000)
            if azure:
                self.deployments[base] = base

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        for prefix in ("/v1", "/openai"):
            for route, handler in self._routes().items():
                method, path = route.split(" ", 1)
                app.router.add_route(method, prefix + path, handler, name=None)
        if self.azure:
            app.router.add_route(
                "POST", "/openai" + Route.AZURE_CHAT.split(" ", 1)[1], self._azure_chat
            )
            app.router.add_route(
                "PUT", Route.PUT_DEPLOYMENT.split(" ", 1)[1], self._put_deployment
            )
            app.router.add_route(
                "GET", Route.LIST_DEPLOYMENTS.split(" ", 1)[1], self._list_deployments
            )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
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
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """For `AsyncOpenAI(base_url=...)`."""
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For `AsyncAzureOpenAI(azure_endpoint=...)`; the SDK appends `/openai`."""
        return f"http://127.0.0.1:{self._port}"

    def deployment_url(self, name: str, account: str = "acme") -> str:
        """Azure mode: the management-plane URL that deploys a model under `name`."""
        return (
            f"http://127.0.0.1:{self._port}/subscriptions/sub-1/resourceGroups/rg-1/providers/"
            f"Microsoft.CognitiveServices/accounts/{account}/deployments/{name}"
        )

    def deploy(self, model: str, name: str | None = None) -> str:
        """Azure mode: deploy `model` (a fine-tuned one, once its job succeeded) under `name`
        (default: the model's own name), as the portal or the management API does."""
        if model not in self.models:
            raise ValueError(f"no model {model!r} to deploy")
        deployment = name or model
        self.deployments[deployment] = model
        return deployment

    # -- scripting --------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        """Queue `fault` for the next `times` requests to `route` (or "*" for any)."""
        self._faults.setdefault(route, deque()).extend([fault] * times)

    def pending_faults(self, route: str | None = None) -> int:
        if route is not None:
            return len(self._faults.get(route, ()))
        return sum(len(q) for q in self._faults.values())

    def clear_faults(self) -> None:
        self._faults.clear()

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def now(self) -> int:
        return int(self.clock())

    def add_file(
        self,
        filename: str = "train.jsonl",
        content: bytes = b"{}\n",
        *,
        purpose: str = "fine-tune",
    ) -> Json:
        file_id = self.new_id("file")
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": self.now(),
            "expires_at": None,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        self.file_contents[file_id] = content
        return self.files[file_id]

    def add_job(
        self,
        *,
        model: str = "gpt-4o-mini-2024-07-18",
        training_file: str = "file-train",
        status: str = "queued",
        method: Json | None = None,
        metadata: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> Json:
        """Add a job as the API would show it; `fields` override any key."""
        job_id = fields.pop("id", None) or self.new_id("ftjob")
        method = method or {
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": "auto",
                    "batch_size": "auto",
                    "learning_rate_multiplier": "auto",
                }
            },
        }
        hyperparameters = dict(method.get(method["type"], {}).get("hyperparameters", {}))
        job: Json = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": model,
            "created_at": self.now(),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hyperparameters if method["type"] == "supervised" else {},
            # Azure answers both as null (not in OpenAI's schema).
            "organization_id": None if self.azure else self.organization_id,
            "result_files": None if self.azure else [],
            "status": status,
            "trained_tokens": None,
            "training_file": training_file,
            "validation_file": None,
            "integrations": [],
            "seed": 42,
            "estimated_finish": None,
            "method": method,
            "metadata": dict(metadata) if metadata else None,
            "user_provided_suffix": None,
        }
        job.update(fields)
        self.jobs[job_id] = job
        self.events.setdefault(job_id, [])
        self.checkpoints.setdefault(job_id, [])
        return job

    def add_events(self, job_id: str, events: Iterable[str | Json]) -> list[Json]:
        """Append events (newest last); a string is an info message. Returns them with ids."""
        added = []
        for entry in events:
            spec: Json = {"message": entry} if isinstance(entry, str) else dict(entry)
            event: Json = {
                "object": "fine_tuning.job.event",
                "id": spec.pop("id", None) or self.new_id("ftevent"),
                "created_at": spec.pop("created_at", None) or self.now(),
                "level": spec.pop("level", "info"),
                "message": spec.pop("message", ""),
                "data": spec.pop("data", {}),
                "type": spec.pop("type", "message"),
            }
            event.update(spec)
            self.events.setdefault(job_id, []).append(event)
            added.append(event)
        return added

    def add_checkpoint(
        self, job_id: str, step: int, metrics: Mapping[str, float] | None = None
    ) -> Json:
        job = self.jobs[job_id]
        checkpoint = {
            "object": "fine_tuning.job.checkpoint",
            "id": self.new_id("ftckpt"),
            "created_at": self.now(),
            "fine_tuned_model_checkpoint": f"ft:{job['model']}:fake::{job_id}:ckpt-step-{step}",
            "fine_tuning_job_id": job_id,
            "step_number": step,
            "metrics": {"step": step, **(metrics or {})},
        }
        self.checkpoints.setdefault(job_id, []).append(checkpoint)
        return checkpoint

    def add_model(
        self, model_id: str, *, owned_by: str = "org-fake", created: int | None = None
    ) -> Json:
        self.models[model_id] = {
            "id": model_id,
            "object": "model",
            "created": created if created is not None else self.now(),
            "owned_by": owned_by,
        }
        return self.models[model_id]

    def set_status(self, job_id: str, status: str, **fields: Any) -> Json:
        """Move a job along; terminal states stamp `finished_at`, success names a model."""
        job = self.jobs[job_id]
        job["status"] = status
        if status in TERMINAL and job.get("finished_at") is None:
            job["finished_at"] = self.now()
        if status == "succeeded" and job.get("fine_tuned_model") is None:
            suffix = job.get("user_provided_suffix") or ""
            if self.azure:
                tail = hashlib.md5(job_id.encode(), usedforsecurity=False).hexdigest()
                name = f"{job['model']}.ft-{tail}" + (f"-{suffix}" if suffix else "")
            else:
                name = f"ft:{job['model']}:fake:{suffix}:{job_id[-6:]}"
            job["fine_tuned_model"] = name
            job["trained_tokens"] = job.get("trained_tokens") or 1000
            self.add_model(name, owned_by=self.organization_id if not self.azure else "user")
        if status == "failed" and job.get("error") is None:
            job["error"] = {
                "code": "invalid_training_file",
                "message": "Training failed.",
                "param": None,
            }
        job.update(fields)
        return job

    # -- a job's life, one tick at a time (what the real service does on its own) ---------

    def advance(self, ticks: int = 1) -> None:
        """Move every live job on by `ticks`: validating_files -> queued -> running, then one
        training step a tick (a metrics event; a checkpoint at each epoch's end, the last three
        kept), then succeeded. A training file that is not JSON lines fails at validation, as
        the real API does. Paused and finished jobs stay as they are."""
        for _ in range(ticks):
            for job_id, job in list(self.jobs.items()):
                self._tick(job_id, job)

    def finish_job(self, job_id: str, status: str, **fields: Any) -> Json:
        """End a live job now as "succeeded" or "failed", with the events the API writes
        (cancelling goes through the cancel route, as a client does it)."""
        if status not in {"succeeded", "failed"}:
            raise ValueError(f"finish_job ends a job as succeeded or failed, not {status!r}")
        job = self.set_status(job_id, status, **fields)
        if status == "succeeded":
            self.add_events(
                job_id,
                [
                    f"New fine-tuned model created: {job['fine_tuned_model']}",
                    "The job has successfully completed",
                ],
            )
        else:
            self.add_events(job_id, [{"level": "error", "message": job["error"]["message"]}])
        return job

    def _tick(self, job_id: str, job: Json) -> None:
        match job["status"]:
            case "validating_files":
                problem = self._file_problem(job["training_file"])
                if problem is not None:
                    error = {
                        "code": "invalid_training_file",
                        "message": f"The job failed due to an invalid training file. {problem}",
                        "param": "training_file",
                    }
                    self.finish_job(job_id, "failed", error=error)
                    return
                self.add_events(job_id, ["Files validated, moving job to queued state"])
                job["status"] = "pending" if self.azure else "queued"
            case "queued" | "pending":
                self.add_events(job_id, ["Fine-tuning job started"])
                job["status"] = "running"
            case "running":
                run = self._runs.setdefault(job_id, self._plan_run(job))
                run.step += 1
                loss = round(2.0 / (1 + run.step), 4)
                accuracy = round(1 - loss / 2, 4)
                metrics = {"train_loss": loss, "train_mean_token_accuracy": accuracy}
                self.add_events(
                    job_id,
                    [
                        {
                            "type": "metrics",
                            "message": f"Step {run.step}/{run.total}: training loss={loss}",
                            "data": {"step": run.step, "total_steps": run.total, **metrics},
                        }
                    ],
                )
                if run.step % run.per_epoch == 0:
                    self.add_checkpoint(job_id, run.step, metrics)
                    del self.checkpoints[job_id][:-3]  # the API keeps the last three epochs
                if run.step >= run.total:
                    self.finish_job(job_id, "succeeded")

    def _plan_run(self, job: Json) -> _Run:
        content = self.file_contents.get(job["training_file"], b"{}\n")
        examples = max(1, sum(1 for line in content.splitlines() if line.strip()))
        kind = (job.get("method") or {}).get("type", "supervised")
        given = ((job.get("method") or {}).get(kind) or {}).get("hyperparameters") or {}
        epochs = given.get("n_epochs")
        return _Run(per_epoch=min(examples, 20), epochs=epochs if isinstance(epochs, int) else 3)

    def _file_problem(self, file_id: str) -> str | None:
        """What validation finds wrong in an uploaded training file (None: usable)."""
        content = self.file_contents.get(file_id)
        if content is None:
            return None  # an outside file id ("file-ext..."): nothing to read
        lines = [line for line in content.splitlines() if line.strip()]
        if not lines:
            return "The file has no examples."
        for number, line in enumerate(lines, start=1):
            try:
                example = json.loads(line)
            except ValueError:
                return f"Line {number} is not valid JSON."
            if not isinstance(example, dict):
                return f"Line {number} is not a JSON object."
        return None

    def _shown(self, job: Json) -> Json:
        status = self.reported_status.get(job["id"])
        return job if status is None else {**job, "status": status}

    # -- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        return {
            Route.UPLOAD_FILE: self._upload_file,
            Route.LIST_FILES: self._list_files,
            Route.GET_FILE: self._get_file,
            Route.DELETE_FILE: self._delete_file,
            Route.CREATE_JOB: self._create_job,
            Route.LIST_JOBS: self._list_jobs,
            Route.GET_JOB: self._get_job,
            Route.CANCEL_JOB: self._cancel_job,
            Route.PAUSE_JOB: self._pause_job,
            Route.RESUME_JOB: self._resume_job,
            Route.LIST_EVENTS: self._list_events,
            Route.LIST_CHECKPOINTS: self._list_checkpoints,
            Route.LIST_MODELS: self._list_models,
            Route.GET_MODEL: self._get_model,
            Route.DELETE_MODEL: self._delete_model,
            Route.FILE_CONTENT: self._file_content,
            Route.CHAT: self._chat,
            Route.LIST_CHAT: self._list_chat,
            Route.CHAT_MESSAGES: self._chat_messages,
            Route.CREATE_UPLOAD: self._create_upload,
            Route.ADD_UPLOAD_PART: self._add_upload_part,
            Route.COMPLETE_UPLOAD: self._complete_upload,
            Route.CANCEL_UPLOAD: self._cancel_upload,
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        prefix = next((p for p in ("/v1", "/openai") if template.startswith(p)), "")
        route = f"{request.method} {template.removeprefix(prefix)}"
        path = request.path.removeprefix(prefix)
        request[_STUCK] = route in self.stuck_cursor
        fault = self._next_fault(route)
        record, body = await self._read(request, route, path, fault)
        self.requests.append(record)
        if not self._authorized(request):
            if self.azure:
                message = (
                    "Access denied due to invalid subscription key or wrong API endpoint. Make "
                    "sure to provide a valid key for an active subscription and use a correct "
                    "regional API endpoint for your resource."
                )
                return _json({"error": {"code": "401", "message": message}}, status=401)
            return _json(
                error_body("Incorrect API key provided.", code="invalid_api_key"), status=401
            )
        if self.azure and prefix == "/openai" and not request.query.get("api-version"):
            return _json(
                {
                    "error": {
                        "code": "404",
                        "message": "Resource not found",
                    }
                },
                status=404,
            )
        if fault is None:
            return await self._answer(handler, request, body)
        if fault.commit:
            answer = await self._answer(handler, request, body)
        match fault.kind:
            case "status":
                return _json(
                    fault.body or error_body("Injected"),
                    status=fault.status,
                    headers=fault.headers,
                )
            case "delay":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.seconds)
                if fault.commit:
                    return answer
                # The request timed out before the server acted on it: nothing was done.
                return _json(error_body("Request timed out.", type="server_error"), status=504)
            case "reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # nothing more is written on a dead connection
            case "malformed":
                return web.Response(
                    status=200,
                    text='{"object": "fine_tuning.job", "id": ',
                    content_type="application/json",
                )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Until `predicate()` is true, checked after every request the fake has handled."""

        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(check(), within)

    async def _answer(
        self, handler: Handler, request: web.Request, body: Any
    ) -> web.StreamResponse:
        request[_BODY] = body
        try:
            return await handler(request)
        except _ApiError as error:
            return _json(
                error_body(error.message, param=error.param, code=error.code), status=error.status
            )
        except Exception as error:  # a bug in the fake: keep it for the test to see
            self.errors.append(error)
            return _json(error_body(f"fake failed: {error!r}", type="server_error"), status=500)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _read(
        self, request: web.Request, route: str, path: str, fault: Fault | None
    ) -> tuple[RecordedRequest, Any]:
        headers = {
            k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v)
            for k, v in request.headers.items()
        }
        body: Any = None
        form: dict[str, str] = {}
        if request.content_type == "multipart/form-data":
            parts: dict[str, Any] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                name = part.name or ""
                if part.filename:
                    parts[name] = (part.filename, bytes(data))
                    form[name] = f"{part.filename} ({len(data)} bytes)"
                else:
                    parts[name] = bytes(data).decode()
                    form[name] = parts[name]
            body = parts
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        record = RecordedRequest(
            method=request.method,
            path=path,
            route=route,
            query=dict(request.query),
            headers=headers,
            json=body if not form else None,
            form=form,
            fault=fault.kind if fault else None,
        )
        return record, body

    def _metadata_filter(self, request: web.Request) -> dict[str, str]:
        if self.ignore_metadata_filter:
            return {}
        return {
            key[len("metadata[") : -1]: value
            for key, value in request.query.items()
            if key.startswith("metadata[") and key.endswith("]")
        }

    def _next_fault(self, route: str) -> Fault | None:
        for key in (route, Route.ANY):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _authorized(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        if self.azure:
            if self.ad_token is not None and bearer == f"Bearer {self.ad_token}":
                return True
            return self.api_key is None or request.headers.get("api-key") == self.api_key
        if self.api_key is None:
            return True
        return bearer == f"Bearer {self.api_key}" or request.headers.get("api-key") == self.api_key

    # -- handlers ---------------------------------------------------------------------------

    async def _upload_file(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY] or {}
        upload = body.get("file") if isinstance(body, dict) else None
        purpose = body.get("purpose") if isinstance(body, dict) else None
        if not isinstance(upload, tuple):
            raise _ApiError(400, "Missing required parameter: 'file'.", param="file")
        if not purpose:
            raise _ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        filename, content = upload
        return _json(self.add_file(filename, content, purpose=purpose))

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        purpose = request.query.get("purpose")
        files = [f for f in self.files.values() if purpose is None or f["purpose"] == purpose]
        if request.query.get("order", "desc") == "desc":
            files.reverse()
        page, has_more = _page(files, request, default_limit=10_000)
        return _json(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": has_more,
            }
        )

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        return _json(self._file(request))

    async def _file_content(self, request: web.Request) -> web.StreamResponse:
        file = self._file(request)
        return web.Response(
            body=self.file_contents.get(file["id"], b""), content_type="application/octet-stream"
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        """POST /chat/completions (CreateChatCompletionResponse); `store: true` keeps it."""
        body = request[_BODY]
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise _ApiError(400, "Missing required parameter: 'messages'.", param="messages")
        model = body.get("model")
        if not isinstance(model, str) or model not in self.models:
            raise _ApiError(404, f"The model `{model}` does not exist.", param="model")
        messages: list[Json] = body["messages"]
        content = self.answer(model, messages)
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 4 for m in messages)
        completion: Json = {
            "id": self.new_id("chatcmpl"),
            "object": "chat.completion",
            "created": self.now(),
            "model": model,
            "choices": []
            if self.empty_choices
            else [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4 + 1,
                "total_tokens": prompt_tokens + len(content) // 4 + 1,
            },
            "metadata": body.get("metadata") or {},
        }
        if body.get("store"):
            self.chat_completions[completion["id"]] = {**completion, "_messages": messages}
        return _json(completion)

    async def _list_chat(self, request: web.Request) -> web.StreamResponse:
        """GET /chat/completions: model, metadata[k]=v, after, limit (20), order (asc)."""
        wanted = self._metadata_filter(request)
        model = request.query.get("model")
        items = [
            {k: v for k, v in c.items() if not k.startswith("_")}
            for c in self.chat_completions.values()
            if (model is None or c["model"] == model)
            and all(c["metadata"].get(k) == v for k, v in wanted.items())
        ]
        if request.query.get("order", "asc") == "desc":
            items.reverse()
        page, has_more = _page(items, request, default_limit=20)
        return _json(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": has_more,
            }
        )

    async def _chat_messages(self, request: web.Request) -> web.StreamResponse:
        completion = self.chat_completions.get(request.match_info["completion_id"])
        if completion is None:
            raise _ApiError(404, "No chat completion found.", param="completion_id")
        data = [
            {"id": f"{completion['id']}-{i}", **message, "content_parts": None}
            for i, message in enumerate(completion["_messages"])
        ]
        page, has_more = _page(data, request, default_limit=20)
        return _json(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": has_more,
            }
        )

    async def _azure_chat(self, request: web.Request) -> web.StreamResponse:
        """Azure mode: chat at a deployment, which serves the model deployed under its name."""
        name = request.match_info["deployment"]
        model = self.deployments.get(name)
        if model is None:
            return _json(
                {
                    "error": {
                        "code": "DeploymentNotFound",
                        "message": (
                            "The API deployment for this resource does not exist. If you "
                            "created the deployment within the last 5 minutes, please wait a "
                            "moment and try again."
                        ),
                    }
                },
                status=404,
            )
        body = request[_BODY]
        if isinstance(body, dict):
            request[_BODY] = {**body, "model": model}
        return await self._chat(request)

    async def _put_deployment(self, request: web.Request) -> web.StreamResponse:
        """Azure mode: ARM's Deployments - Create Or Update, for a model of this resource."""
        body = request[_BODY]
        model = (
            ((body.get("properties") or {}).get("model") or {}).get("name")
            if isinstance(body, dict)
            else None
        )
        if not isinstance(model, str) or model not in self.models:
            raise _ApiError(400, f"The model '{model}' is not available to deploy.")
        name = request.match_info["deployment"]
        self.deployments[name] = model
        return _json(_deployment(name, model), status=201)

    async def _list_deployments(self, request: web.Request) -> web.StreamResponse:
        return _json({"value": [_deployment(n, m) for n, m in self.deployments.items()]})

    async def _delete_file(self, request: web.Request) -> web.StreamResponse:
        file = self._file(request)
        del self.files[file["id"]]
        self.file_contents.pop(file["id"], None)
        return _json({"id": file["id"], "object": "file", "deleted": True})

    async def _create_job(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY]
        if not isinstance(body, dict):
            raise _ApiError(400, "Request body must be a JSON object.")
        for name in ("model", "training_file"):
            if not isinstance(body.get(name), str):
                raise _ApiError(400, f"Missing required parameter: '{name}'.", param=name)
        if body["training_file"] not in self.files and not body["training_file"].startswith(
            "file-ext"
        ):
            raise _ApiError(
                400,
                f"invalid training_file: {body['training_file']}",
                param="training_file",
                code="invalid_training_file",
            )
        method = body.get("method") or {
            "type": "supervised",
            "supervised": {"hyperparameters": body.get("hyperparameters") or {}},
        }
        kind = method.get("type")
        if kind not in {"supervised", "dpo", "reinforcement"}:
            raise _ApiError(400, f"Invalid method type: {kind!r}", param="method.type")
        given = (method.get(kind) or {}).get("hyperparameters") or {}
        resolved = {
            "n_epochs": "auto",
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
            **({"beta": "auto"} if kind == "dpo" else {}),
            **given,
        }
        if self.azure and body.get("trainingType") is None:
            # What Azure answers a create without its training tier (misleadingly).
            raise _ApiError(
                400,
                "The specified base model does not support fine-tuning.",
                code="invalidPayload",
            )
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):
            raise _ApiError(
                400, "metadata must be an object of at most 16 pairs", param="metadata"
            )
        job = self.add_job(
            model=body["model"],
            training_file=body["training_file"],
            status="validating_files",
            method={"type": kind, kind: {**method.get(kind, {}), "hyperparameters": resolved}},
            metadata=metadata,
            validation_file=body.get("validation_file"),
            seed=body["seed"] if body.get("seed") is not None else 1234,
            user_provided_suffix=body.get("suffix"),
        )
        self.add_events(job["id"], [f"Created fine-tuning job: {job['id']}"])
        return _json(job)

    async def _list_jobs(self, request: web.Request) -> web.StreamResponse:
        wanted = self._metadata_filter(request)
        jobs = [
            j
            for j in reversed(self.jobs.values())
            if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())
        ]
        page, has_more = _page(jobs, request, default_limit=20)
        return _json(
            {"object": "list", "data": [self._shown(j) for j in page], "has_more": has_more}
        )

    async def _get_job(self, request: web.Request) -> web.StreamResponse:
        return _json(self._shown(self._job(request)))

    async def _cancel_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job["status"] in TERMINAL:
            raise _ApiError(
                400, f"Job {job['id']} has already {job['status']}; it cannot be cancelled."
            )
        self.set_status(job["id"], "cancelled")
        self.add_events(job["id"], ["Fine-tuning job cancelled"])
        return _json(self._shown(job))

    async def _pause_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job["status"] in TERMINAL or job["status"] == "paused":
            raise _ApiError(400, f"Job {job['id']} is {job['status']}; it cannot be paused.")
        self.set_status(job["id"], "paused")
        self.add_events(job["id"], ["Fine-tuning job paused"])
        return _json(self._shown(job))

    async def _resume_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job["status"] != "paused":
            raise _ApiError(400, f"Job {job['id']} is {job['status']}; only paused jobs resume.")
        self.set_status(job["id"], "running")
        self.add_events(job["id"], ["Fine-tuning job resumed"])
        return _json(self._shown(job))

    async def _list_events(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        events = list(reversed(self.events.get(job["id"], [])))
        page, has_more = _page(events, request, default_limit=20)
        return _json({"object": "list", "data": page, "has_more": has_more})

    async def _list_checkpoints(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        checkpoints = list(reversed(self.checkpoints.get(job["id"], [])))
        page, has_more = _page(checkpoints, request, default_limit=10)
        return _json(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": has_more,
            }
        )

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        body: Json = {"object": "list", "data": list(self.models.values())}
        if request[_STUCK]:
            body["has_more"] = True  # not in the spec: a server that claims a page follows
        return _json(body)

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        return _json(self._model(request))

    async def _delete_model(self, request: web.Request) -> web.StreamResponse:
        model = self._model(request)
        if model["owned_by"] == "system":
            raise _ApiError(403, "You have insufficient permissions for this operation.")
        del self.models[model["id"]]
        return _json({"id": model["id"], "object": "model", "deleted": True})

    # -- uploads (the Uploads API: create, parts, complete, cancel) ---------------------------

    async def _create_upload(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY]
        if not isinstance(body, dict):
            raise _ApiError(400, "Request body must be a JSON object.")
        for name in ("filename", "purpose", "bytes", "mime_type"):
            if name not in body:
                raise _ApiError(400, f"Missing required parameter: '{name}'.", param=name)
        if not isinstance(body["bytes"], int) or not 0 < body["bytes"] <= 8 << 30:
            raise _ApiError(400, "bytes must be between 1 and 8 GB.", param="bytes")
        upload_id = self.new_id("upload")
        self.uploads[upload_id] = {
            "id": upload_id,
            "object": "upload",
            "bytes": body["bytes"],
            "created_at": self.now(),
            "expires_at": self.now() + 3600,
            "filename": body["filename"],
            "purpose": body["purpose"],
            "status": "pending",
            "file": None,
            "_parts": [],
        }
        return _json(_public(self.uploads[upload_id]))

    async def _add_upload_part(self, request: web.Request) -> web.StreamResponse:
        upload = self._upload(request)
        if upload["status"] != "pending":
            raise _ApiError(400, f"Upload {upload['id']} is {upload['status']}.")
        body = request[_BODY] or {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, tuple):
            raise _ApiError(400, "Missing required parameter: 'data'.", param="data")
        content: bytes = data[1]
        if len(content) > 64 << 20:
            raise _ApiError(400, "A part may hold at most 64 MB.", param="data")
        part_id = self.new_id("part")
        self.upload_parts[part_id] = content
        upload["_parts"].append(part_id)
        return _json(
            {
                "id": part_id,
                "object": "upload.part",
                "created_at": self.now(),
                "upload_id": upload["id"],
            }
        )

    async def _complete_upload(self, request: web.Request) -> web.StreamResponse:
        upload = self._upload(request)
        body = request[_BODY]
        if not isinstance(body, dict) or not isinstance(body.get("part_ids"), list):
            raise _ApiError(400, "Missing required parameter: 'part_ids'.", param="part_ids")
        if upload["status"] != "pending":
            raise _ApiError(400, f"Upload {upload['id']} is {upload['status']}.")
        ids = body["part_ids"]
        if any(part not in upload["_parts"] for part in ids):
            raise _ApiError(400, "Unknown part id.", param="part_ids")
        content = b"".join(self.upload_parts[part] for part in ids)
        if len(content) != upload["bytes"]:
            raise _ApiError(
                400,
                f"Upload has {len(content)} bytes, {upload['bytes']} were announced.",
                param="part_ids",
            )
        md5 = body.get("md5")
        if md5 is not None and md5 != hashlib.md5(content, usedforsecurity=False).hexdigest():
            raise _ApiError(400, "md5 does not match the uploaded bytes.", param="md5")
        upload["status"] = "completed"
        if not self.upload_without_file:
            upload["file"] = self.add_file(upload["filename"], content, purpose=upload["purpose"])
        return _json(_public(upload))

    async def _cancel_upload(self, request: web.Request) -> web.StreamResponse:
        upload = self._upload(request)
        if upload["status"] != "pending":
            raise _ApiError(400, f"Upload {upload['id']} is {upload['status']}.")
        upload["status"] = "cancelled"
        return _json(_public(upload))

    def _upload(self, request: web.Request) -> Json:
        upload_id = request.match_info["upload_id"]
        if upload_id not in self.uploads:
            raise _ApiError(404, f"No such Upload object: {upload_id}", param="upload_id")
        return self.uploads[upload_id]

    def _file(self, request: web.Request) -> Json:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            raise _ApiError(404, f"No such File object: {file_id}", param="id")
        return self.files[file_id]

    def _job(self, request: web.Request) -> Json:
        job_id = request.match_info["job_id"]
        if job_id not in self.jobs:
            raise _ApiError(404, f"Could not find fine-tune: {job_id}", code="fine_tune_not_found")
        return self.jobs[job_id]

    def _model(self, request: web.Request) -> Json:
        model_id = request.match_info["model"]
        if model_id not in self.models:
            raise _ApiError(404, f"The model '{model_id}' does not exist", code="model_not_found")
        return self.models[model_id]


@dataclass(slots=True, kw_only=True)
class _Run:
    """A running job's progress: `advance` adds one step a tick."""

    per_epoch: int
    epochs: int
    step: int = 0

    @property
    def total(self) -> int:
        return self.per_epoch * self.epochs


class _ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def _page(
    items: list[Json], request: web.Request, *, default_limit: int
) -> tuple[list[Json], bool]:
    """Cursor paging as the API does it: items after the one whose id is `after`."""
    try:
        limit = int(request.query.get("limit", default_limit))
    except ValueError:
        raise _ApiError(400, "limit must be an integer", param="limit") from None
    if request[_STUCK]:
        return items[:limit], True
    after = request.query.get("after")
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start : start + limit]
    return page, start + limit < len(items)


def _json(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={"x-request-id": f"req_{time.monotonic_ns()}", **(headers or {})},
    )


def _deployment(name: str, model: str) -> Json:
    return {
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/deployments",
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {
            "model": {"format": "OpenAI", "name": model, "version": "1"},
            "provisioningState": "Succeeded",
        },
    }


def _public(record: Json) -> Json:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
