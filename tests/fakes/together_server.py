"""Test fake: a local Together AI fine-tuning API on aiohttp, shaped by together-openapi.yaml.

Usage::

    async with FakeTogether(api_key=KEY) as fake:
        provider = TogetherProvider.connect(KEY, base_url=fake.base_url, max_retries=0)
        fake.inject(Route.GET_JOB, Fault.server_error())
        fake.advance()  # every live job one phase or training step on

Routes, shapes, statuses and error bodies (`{"error": {"message", "type", "param", "code"}}`)
follow the OpenAPI description; where the pinned SDK (together 3.1.1) does something the
description does not say, the fake does what the SDK needs:

- upload: `POST /v1/files` (multipart `purpose`, `file_name`, `file_type`, `checksum`) answers
  302 with `Location` (a pre-signed URL, here `PUT /presigned/{id}` on this server) and
  `X-Together-File-Id`; the SDK PUTs the bytes there (expects 200), then
  `POST /v1/files/{id}/preprocess` answers the FileResponse.
- `/fine-tunes/models/limits` answers the SDK's FinetuneModelLimits (default_rank,
  max_num_checkpoints, ... beyond the description's required fields): its create reads them.
- the SDK sends the metrics filters as query parameters; a JSON body (the description's GET
  body) is read too.
- the status `user_error` (the SDK's enum, not the description's) can be reported.

Faults (`Fault`, shared with tests/fakes/openai_server.py): an error status and body, a held
answer (timeout), a reset connection, or a 200 with broken JSON; `commit=True` lets the request
act first. Jobs move only when `advance()` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import BodyPartReader, web

from tests.fakes.openai_server import Fault, RecordedRequest, error_body

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TERMINAL = frozenset({"completed", "error", "user_error", "cancelled"})
BASE_MODELS = (
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    "Qwen/Qwen3-8B",
)
_BODY = web.RequestKey("fake_together_body", object)

__all__ = ["BASE_MODELS", "FakeTogether", "Fault", "Route", "error_body"]


class Route:
    """Route names for `inject` and `requests_to` (paths below /v1)."""

    ANY = "*"
    UPLOAD_FILE = "POST /files"
    PRESIGNED_PUT = "PUT /presigned/{file_id}"
    PREPROCESS_FILE = "POST /files/{file_id}/preprocess"
    LIST_FILES = "GET /files"
    GET_FILE = "GET /files/{file_id}"
    DELETE_FILE = "DELETE /files/{file_id}"
    FILE_CONTENT = "GET /files/{file_id}/content"
    CREATE_JOB = "POST /fine-tunes"
    LIST_JOBS = "GET /fine-tunes"
    GET_JOB = "GET /fine-tunes/{job_id}"
    CANCEL_JOB = "POST /fine-tunes/{job_id}/cancel"
    LIST_EVENTS = "GET /fine-tunes/{job_id}/events"
    LIST_CHECKPOINTS = "GET /fine-tunes/{job_id}/checkpoints"
    METRICS = "GET /fine-tunes/{job_id}/metrics"
    ESTIMATE_PRICE = "POST /fine-tunes/estimate-price"
    SUPPORTED_MODELS = "GET /fine-tunes/models/supported"
    MODEL_LIMITS = "GET /fine-tunes/models/limits"
    CHAT = "POST /chat/completions"


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass(slots=True, kw_only=True)
class _Run:
    step: int = 0
    total: int = 1


def limits_for(model: str, *, max_rank: int = 64) -> Json:
    """The SDK's FinetuneModelLimits for a base model (a superset of the description's)."""
    return {
        "model_name": model,
        "max_num_epochs": 20,
        "max_num_evals": 100,
        "max_num_checkpoints": 20,
        "max_learning_rate": 1.0,
        "min_learning_rate": 1e-7,
        "max_seq_length_sft": 8192,
        "max_seq_length_dpo": 8192,
        "min_max_seq_length": 512,
        "default_gradient_accumulation_steps": 1,
        "merge_output_lora": False,
        "supports_vision": False,
        "supports_tools": True,
        "supports_reasoning": False,
        "supports_full_training": True,
        "lora_training": {
            "default_rank": 8,
            "max_rank": max_rank,
            "max_batch_size": 64,
            "max_batch_size_dpo": 32,
            "min_batch_size": 1,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        },
        "full_training": {"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 1},
    }


class FakeTogether:
    """An in-memory Together API on 127.0.0.1 with an ephemeral port; see the module docstring."""

    def __init__(self, *, api_key: str | None = None, clock: Callable[[], float]) -> None:
        self.api_key = api_key
        self.clock = clock
        self.files: dict[str, Json] = {}
        self.file_contents: dict[str, bytes] = {}
        self.jobs: dict[str, Json] = {}
        self.events: dict[str, list[Json]] = {}
        self.checkpoints: dict[str, list[Json]] = {}
        self.metrics: dict[str, list[Json]] = {}
        self.limits: dict[str, Json] = {m: limits_for(m) for m in BASE_MODELS}
        self.serverless_tuned = True
        """Fine-tuned models answer chat at once (older serverless LoRA); False: they need a
        dedicated endpoint first, as Together's current docs say."""
        self.user_limit = 100.0
        self.price_per_token = 0.000_000_5
        self.reported_status: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []
        self._pending_uploads: dict[str, Json] = {}
        self._runs: dict[str, _Run] = {}
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
            prefix = "" if route == Route.PRESIGNED_PUT else "/v1"
            app.router.add_route(method, prefix + path, handler)
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
        """For `AsyncTogether(base_url=...)`: the SDK's paths carry /v1 themselves."""
        return f"http://127.0.0.1:{self._port}"

    # -- scripting --------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.setdefault(route, deque()).extend([fault] * times)

    def pending_faults(self) -> int:
        return sum(len(q) for q in self._faults.values())

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _id(self, prefix: str) -> str:
        number = next(self._ids)
        digest = hashlib.sha256(f"{prefix}{number}".encode()).hexdigest()
        return f"{prefix}-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{number:012d}"

    def _iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def _event(
        self, job_id: str, kind: str, message: str, *, level: str = "info", **more: Any
    ) -> None:
        job = self.jobs[job_id]
        number = next(self._ids)
        event: Json = {
            "object": "fine-tune-event",
            "created_at": self._iso(),
            "level": level,
            "message": message,
            "type": kind,
            "param_count": 0,
            "token_count": 0,
            "total_steps": self._runs[job_id].total,
            "wandb_url": "",
            "step": more.pop("step", 0),
            "checkpoint_path": more.pop("checkpoint_path", ""),
            "model_path": "",
            "training_offset": 0,
            "hash": hashlib.sha256(f"{job_id}:{number}".encode()).hexdigest()[:32],
        }
        self.events[job_id].append(event)
        job["updated_at"] = event["created_at"]

    def _set(self, job_id: str, status: str) -> None:
        job = self.jobs[job_id]
        job["status"] = status
        job["updated_at"] = self._iso()

    # -- a job's life, one tick at a time -----------------------------------------------------

    def advance(self, ticks: int = 1) -> None:
        """pending -> queued -> running (one training step a tick: a metrics row; checkpoints
        as n_checkpoints asks, the last at the final step) -> compressing -> uploading ->
        completed. A training file that is not JSON lines fails the job while pending."""
        for _ in range(ticks):
            for job_id, job in list(self.jobs.items()):
                self._tick(job_id, job)

    def finish_job(self, job_id: str, status: str) -> Json:
        """End a live job now as "succeeded" (completed) or "failed" (error)."""
        if status == "succeeded":
            self._set(job_id, "completed")
            self._event(job_id, "job_complete", "Fine-tuning job completed")
        elif status == "failed":
            self._set(job_id, "error")
            self._event(job_id, "job_error", "Training failed.", level="error")
        else:
            raise ValueError(f"finish_job ends a job as succeeded or failed, not {status!r}")
        return self.jobs[job_id]

    def _tick(self, job_id: str, job: Json) -> None:
        run = self._runs[job_id]
        match job["status"]:
            case "pending":
                problem = self._file_problem(job["training_file"])
                if problem is not None:
                    self._set(job_id, "error")
                    self._event(
                        job_id, "job_error", f"Invalid training file: {problem}", level="error"
                    )
                    return
                self._set(job_id, "queued")
                self._event(job_id, "job_pending", "Job is queued")
            case "queued":
                self._set(job_id, "running")
                self._event(job_id, "job_start", "Job started")
                self._event(job_id, "training_start", "Training started")
            case "running":
                run.step += 1
                loss = round(2.0 / (1 + run.step), 4)
                self.metrics[job_id].append(
                    {
                        "train/global_step": run.step,
                        "train/loss": loss,
                        "train/learning_rate": job.get("learning_rate") or 1e-5,
                        "_timestamp": self.clock(),
                    }
                )
                if run.step in self._checkpoint_steps(job, run):
                    final = run.step == run.total
                    self.checkpoints[job_id].append(
                        {
                            "step": run.step,
                            "path": f"s3://fake/{job_id}/checkpoint-{run.step}",
                            "created_at": self._iso(),
                            "checkpoint_type": "final" if final else "intermediate",
                        }
                    )
                    self._event(
                        job_id,
                        "checkpoint_save",
                        f"Checkpoint saved at step {run.step}",
                        step=run.step,
                    )
                if run.step >= run.total:
                    self._set(job_id, "compressing")
                    self._event(job_id, "training_complete", "Training completed", step=run.step)
            case "compressing":
                self._set(job_id, "uploading")
                self._event(job_id, "model_uploading", "Uploading the model")
            case "uploading":
                self._set(job_id, "completed")
                job["token_count"] = run.total * 100
                self._event(job_id, "job_complete", "Fine-tuning job completed")
            case "cancel_requested":
                self._set(job_id, "cancelled")
                self._event(job_id, "job_stopped", "Job cancelled")

    @staticmethod
    def _checkpoint_steps(job: Json, run: _Run) -> set[int]:
        count = max(1, min(int(job.get("n_checkpoints") or 1), run.total))
        return {max(1, run.total * k // count) for k in range(1, count + 1)}

    def _file_problem(self, file_id: str) -> str | None:
        lines = [
            line for line in self.file_contents.get(file_id, b"").splitlines() if line.strip()
        ]
        if not lines:
            return "the file has no examples."
        for number, line in enumerate(lines, start=1):
            try:
                json.loads(line)
            except ValueError:
                return f"line {number} is not valid JSON."
        return None

    def _shown(self, job: Json, *, truncated: bool) -> Json:
        shown = dict(job)
        if not truncated:
            # The description's FinetuneResponse (GET /fine-tunes/{id}) has no suffix or seed.
            shown.pop("suffix", None)
            shown.pop("random_seed", None)
        status = self.reported_status.get(job["id"])
        return shown if status is None else {**shown, "status": status}

    # -- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        return {
            Route.UPLOAD_FILE: self._upload_file,
            Route.PRESIGNED_PUT: self._presigned_put,
            Route.PREPROCESS_FILE: self._preprocess,
            Route.LIST_FILES: self._list_files,
            Route.GET_FILE: self._get_file,
            Route.DELETE_FILE: self._delete_file,
            Route.FILE_CONTENT: self._file_content,
            Route.ESTIMATE_PRICE: self._estimate_price,
            Route.SUPPORTED_MODELS: self._supported,
            Route.MODEL_LIMITS: self._model_limits,
            Route.CREATE_JOB: self._create_job,
            Route.LIST_JOBS: self._list_jobs,
            Route.GET_JOB: self._get_job,
            Route.CANCEL_JOB: self._cancel_job,
            Route.LIST_EVENTS: self._list_events,
            Route.LIST_CHECKPOINTS: self._list_checkpoints,
            Route.METRICS: self._metrics,
            Route.CHAT: self._chat,
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        route = f"{request.method} {template.removeprefix('/v1')}"
        fault = self._next_fault(route)
        body, form = await self._read(request)
        headers = {
            k.lower(): ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path.removeprefix("/v1"),
                route=route,
                query=dict(request.query),
                headers=headers,
                json=body,
                form=form,
                fault=fault.kind if fault else None,
            )
        )
        if route != Route.PRESIGNED_PUT and not self._authorized(request):
            return _json(
                error_body(
                    "Invalid API key provided",
                    type="invalid_request_error",
                    code="invalid_api_key",
                ),
                status=401,
            )
        if fault is None:
            return await self._answer(handler, request, body)
        answer: web.StreamResponse | None = None
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
                if answer is not None:
                    return answer
                return _json(error_body("Request timed out.", type="server_error"), status=504)
            case "reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            case "malformed":
                return web.Response(
                    status=200, text='{"id": "ft-', content_type="application/json"
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
                    form[str(part.name)] = await part.text()
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
            return await handler(request)
        except _ApiError as error:
            return _json(error_body(error.message, code=error.code), status=error.status)
        except Exception as error:  # a bug in the fake: keep it for the test to see
            self.errors.append(error)
            return _json(error_body(f"fake failed: {error!r}", type="server_error"), status=500)

    # -- files ------------------------------------------------------------------------------

    async def _upload_file(self, request: web.Request) -> web.StreamResponse:
        form = self.requests[-1].form
        if form.get("purpose") != "fine-tune" or not form.get("file_name"):
            raise _ApiError(400, "purpose and file_name are required")
        file_id = self._id("file")
        self._pending_uploads[file_id] = dict(form)
        location = f"http://127.0.0.1:{self._port}/presigned/{file_id}?X-Amz-Signature=fake"
        return web.Response(
            status=302, headers={"Location": location, "X-Together-File-Id": file_id}
        )

    async def _presigned_put(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if file_id not in self._pending_uploads:
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        self.file_contents[file_id] = _body(request)
        return web.Response(status=200)

    async def _preprocess(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        form = self._pending_uploads.pop(file_id, None)
        if form is None or file_id not in self.file_contents:
            raise _ApiError(404, f"File {file_id} not found", code="file_not_found")
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "created_at": int(self.clock()),
            "filename": form["file_name"],
            "bytes": len(self.file_contents[file_id]),
            "purpose": "fine-tune",
            "FileType": form.get("file_type", "jsonl"),
            "Processed": True,
        }
        return _json(self.files[file_id])

    def _file(self, request: web.Request) -> Json:
        found = self.files.get(request.match_info["file_id"])
        if found is None:
            raise _ApiError(404, "File not found", code="file_not_found")
        return found

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        return _json({"data": list(self.files.values())})

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        return _json(self._file(request))

    async def _delete_file(self, request: web.Request) -> web.StreamResponse:
        found = self._file(request)
        del self.files[found["id"]]
        return _json({"id": found["id"], "deleted": True})

    async def _file_content(self, request: web.Request) -> web.StreamResponse:
        found = self._file(request)
        return web.Response(body=self.file_contents[found["id"]], content_type="text/plain")

    # -- models, limits, price ----------------------------------------------------------------

    async def _supported(self, request: web.Request) -> web.StreamResponse:
        return _json({"models": sorted(self.limits)})

    async def _model_limits(self, request: web.Request) -> web.StreamResponse:
        found = self.limits.get(request.query.get("model_name", ""))
        if found is None:
            return _json(
                {"message": "Model not found or not supported for fine-tuning"}, status=404
            )
        return _json(found)

    async def _estimate_price(self, request: web.Request) -> web.StreamResponse:
        body = _body(request) or {}
        content = self.file_contents.get(str(body.get("training_file")))
        if content is None:
            raise _ApiError(400, "training_file not found", code="invalid_training_file")
        train = len(content) // 4 * int(body.get("n_epochs") or 1)
        evals = len(self.file_contents.get(str(body.get("validation_file")), b"")) // 4
        evals *= int(body.get("n_evals") or 0)
        price = round((train + evals) * self.price_per_token, 6)
        return _json(
            {
                "estimated_total_price": price,
                "allowed_to_proceed": price <= self.user_limit,
                "user_limit": self.user_limit,
                "estimated_train_token_count": train,
                "estimated_eval_token_count": evals,
            }
        )

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, request: web.Request) -> Json:
        found = self.jobs.get(request.match_info["job_id"])
        if found is None:
            raise _ApiError(404, "Fine-tune job not found", code="not_found")
        return found

    async def _create_job(self, request: web.Request) -> web.StreamResponse:
        body: Json = _body(request) or {}
        model = str(body.get("model") or "")
        limits = self.limits.get(model)
        if limits is None:
            raise _ApiError(400, f"Model {model} is not supported for fine-tuning")
        if body.get("training_file") not in self.files:
            raise _ApiError(400, "training_file not found", code="invalid_training_file")
        kind = body.get("training_type") or {"type": "Lora", "lora_r": 8, "lora_alpha": 16}
        if (
            kind.get("type") == "Lora"
            and int(kind.get("lora_r") or 0) > limits["lora_training"]["max_rank"]
        ):
            raise _ApiError(400, "lora_r is above the model's max_rank")
        suffix = str(body.get("suffix") or "")
        if len(suffix) > 40:
            raise _ApiError(400, "suffix must be at most 40 characters")
        job_id = self._id("ft")
        now = self._iso()
        output = hashlib.sha256(job_id.encode()).hexdigest()[:8]
        base = model.rsplit("/", 1)[-1]
        job: Json = {
            "id": job_id,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "model": model,
            "model_output_name": "-".join(p for p in (f"fakeuser/{base}", suffix, output) if p),
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file") or "",
            "n_epochs": body.get("n_epochs", 1),
            "n_checkpoints": body.get("n_checkpoints", 1),
            "n_evals": body.get("n_evals", 0),
            "batch_size": body.get("batch_size", "max"),
            "learning_rate": body.get("learning_rate", 1e-5),
            "warmup_ratio": body.get("warmup_ratio", 0.0),
            "training_method": body.get("training_method")
            or {"method": "sft", "train_on_inputs": "auto"},
            "training_type": kind,
            "suffix": suffix,
            "random_seed": body.get("random_seed"),
            "token_count": 0,
            "total_price": 0,
            "user_id": "user-fake",
            "owner_address": "fake@example.com",
            "events": [],
        }
        self.jobs[job_id] = job
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self.metrics[job_id] = []
        examples = sum(
            1 for line in self.file_contents[body["training_file"]].splitlines() if line.strip()
        )
        self._runs[job_id] = _Run(total=max(1, min(examples, 20)) * int(job["n_epochs"] or 1))
        self._event(job_id, "job_pending", "Fine-tune request created")
        return _json(self._shown(job, truncated=True))

    async def _list_jobs(self, request: web.Request) -> web.StreamResponse:
        return _json({"data": [self._shown(j, truncated=True) for j in self.jobs.values()]})

    async def _get_job(self, request: web.Request) -> web.StreamResponse:
        return _json(self._shown(self._job(request), truncated=False))

    async def _cancel_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job["status"] in TERMINAL or job["status"] == "cancel_requested":
            raise _ApiError(400, f"Job is {job['status']} and cannot be cancelled")
        self._set(job["id"], "cancel_requested")
        self._event(job["id"], "cancel_requested", "Cancel requested")
        return _json(self._shown(job, truncated=True))

    async def _list_events(self, request: web.Request) -> web.StreamResponse:
        return _json({"data": self.events[self._job(request)["id"]]})

    async def _list_checkpoints(self, request: web.Request) -> web.StreamResponse:
        return _json({"data": list(reversed(self.checkpoints[self._job(request)["id"]]))})

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        rows = self.metrics[self._job(request)["id"]]
        given = {**(_body(request) if isinstance(_body(request), dict) else {}), **request.query}
        low = int(given.get("global_step_from", 0))
        high = int(given.get("global_step_to", 2**62))
        return _json({"metrics": [r for r in rows if low <= r["train/global_step"] <= high]})

    # -- chat -------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body: Json = _body(request) or {}
        model = str(body.get("model") or "")
        tuned = {j["model_output_name"] for j in self.jobs.values() if j["status"] == "completed"}
        if model not in self.limits and model not in tuned:
            raise _ApiError(404, f"Unable to access model {model}.", code="model_not_found")
        if model in tuned and not self.serverless_tuned:
            raise _ApiError(
                400,
                f"Unable to access non-serverless model {model}. Please visit "
                f"https://api.together.ai/models/{model} to create and start a new dedicated "
                "endpoint for the model.",
                code="model_not_available",
            )
        messages = body.get("messages") or []
        question = str(messages[-1].get("content", "")) if messages else ""
        answer = f"echo: {question}"
        return _json(
            {
                "id": self._id("chat"),
                "object": "chat.completion",
                "created": int(self.clock()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": max(1, len(question.split())),
                    "completion_tokens": len(answer.split()),
                    "total_tokens": max(1, len(question.split())) + len(answer.split()),
                },
            }
        )


def _json(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=dict(headers or {}))


def _body(request: web.Request) -> Any:
    """The request's parsed JSON (raw bytes for the pre-signed PUT), read by the middleware."""
    value: Any = request[_BODY]
    return value
