"""Contract suite fixtures: the providers it runs on, one entry each (a new family adds one).

This is the only module of the suite that imports provider classes or fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from bot.providers.azure.profile import PROFILE as AZURE
from bot.providers.azure.provider import AzureOpenAIProvider
from bot.providers.bedrock.profile import PROFILE as BEDROCK
from bot.providers.bedrock.provider import BedrockProvider
from bot.providers.fireworks.profile import PROFILE as FIREWORKS
from bot.providers.fireworks.provider import FireworksProvider
from bot.providers.nebius.profile import PROFILE as NEBIUS
from bot.providers.nebius.provider import NebiusProvider
from bot.providers.openai.profile import PROFILE as OPENAI
from bot.providers.openai.provider import OpenAIProvider
from bot.providers.prices import family_prices
from bot.providers.registry import family
from bot.providers.sandbox.profile import PROFILE as SANDBOX
from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from bot.providers.sandbox_together.profile import PROFILE as SANDBOX_TOGETHER
from bot.providers.sandbox_together.provider import SandboxTogetherProvider
from bot.providers.together.profile import PROFILE as TOGETHER
from bot.providers.together.provider import TogetherProvider
from bot.providers.vertex.profile import PROFILE as VERTEX
from bot.providers.vertex.provider import VertexProvider
from bot.providers.vertex.staging import Bucket, Staging
from handlers.errors import ProviderErrorKind
from tests.contracts.harness import ProviderEntry, ProviderUnderTest
from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.bedrock_server import Route as BedrockRoute
from tests.fakes.clock import ManualClock
from tests.fakes.faulty_provider import FaultyProvider
from tests.fakes.fireworks_server import BASE_MODELS as FIREWORKS_MODELS
from tests.fakes.fireworks_server import FakeFireworks
from tests.fakes.fireworks_server import Route as FireworksRoute
from tests.fakes.gcs_emulator import gcs_client, gcs_emulator, gcs_reader
from tests.fakes.google_accounts import static_token
from tests.fakes.memory_provider import BASE_MODEL as MEMORY_BASE_MODEL
from tests.fakes.memory_provider import PROFILE as MEMORY
from tests.fakes.memory_provider import MemoryProvider
from tests.fakes.openai_server import FakeOpenAI, Fault, Route
from tests.fakes.together_server import BASE_MODELS as TOGETHER_MODELS
from tests.fakes.together_server import FakeTogether
from tests.fakes.together_server import Route as TogetherRoute
from tests.fakes.vertex_server import BASE_MODELS as VERTEX_MODELS
from tests.fakes.vertex_server import FakeVertex
from tests.fakes.vertex_server import Route as VertexRoute

BEDROCK_MODEL = "amazon.nova-micro-v1:0:128k"
TICK_S = 5.0
"""One tick of a fake's world, in its clock's seconds."""

# -- the sandbox: a manual clock, and a test-side wrapper for faults --------------------------

SANDBOX_TIMING = SandboxTiming(
    validating_s=2 * TICK_S, queued_s=4 * TICK_S, step_s=TICK_S, max_steps=60, eval_every=10
)


@asynccontextmanager
async def sandbox(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    faulty = FaultyProvider(SandboxProvider(clock, timing=SANDBOX_TIMING))

    def advance() -> None:
        clock.advance(TICK_S)

    def finish(job_id: str, *, as_: str) -> None:
        # The sandbox decides how a job ends from its file; running the clock out ends it.
        clock.advance(86_400)

    def report_status(job_id: str, status: str | None) -> None:
        if status is None:
            faulty.reported_status.pop(job_id, None)
        else:
            faulty.reported_status[job_id] = status

    async def jobs_at_provider() -> int:
        return len(await faulty.inner.list_jobs(limit=1_000_000))

    yield ProviderUnderTest(
        name="sandbox",
        provider=faulty,
        advance=advance,
        fail_next=faulty.fail_next,
        finish=finish,
        report_status=report_status,
        jobs_at_provider=jobs_at_provider,
        base_model="gpt-4o-mini-2024-07-18",
    )
    assert faulty.pending() == 0, "a planned fault was never reached"


@asynccontextmanager
async def sandbox_together(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    """The Together-shaped sandbox: the same engine and wrapper, in Together's shape."""
    clock = ManualClock()
    provider = SandboxTogetherProvider(
        clock, prices=family_prices(family(SANDBOX_TOGETHER.name)), timing=SANDBOX_TIMING
    )
    faulty = FaultyProvider(provider)  # type: ignore[arg-type]  # no pause, no stored log

    def report_status(job_id: str, status: str | None) -> None:
        if status is None:
            faulty.reported_status.pop(job_id, None)
        else:
            faulty.reported_status[job_id] = status

    async def jobs_at_provider() -> int:
        return len(await provider.list_jobs(limit=1_000_000))

    def advance() -> None:
        clock.advance(TICK_S)

    def finish(job_id: str, *, as_: str) -> None:
        clock.advance(86_400)  # its outcome follows from the file, as the sandbox's does

    yield ProviderUnderTest(
        name="sandbox-together",
        provider=faulty,
        advance=advance,
        fail_next=faulty.fail_next,
        finish=finish,
        report_status=report_status,
        jobs_at_provider=jobs_at_provider,
        base_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    )
    assert faulty.pending() == 0, "a planned fault was never reached"


# -- the in-memory fake the core tests can use: ticks move it, no bot/ -----------------------


@asynccontextmanager
async def memory(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    fake = MemoryProvider(clock)
    faulty = FaultyProvider(fake)

    def advance() -> None:
        clock.advance(TICK_S)
        fake.tick()

    def report_status(job_id: str, status: str | None) -> None:
        if status is None:
            faulty.reported_status.pop(job_id, None)
        else:
            faulty.reported_status[job_id] = status

    async def jobs_at_provider() -> int:
        return len(fake.jobs)

    yield ProviderUnderTest(
        name="memory",
        provider=faulty,
        advance=advance,
        fail_next=faulty.fail_next,
        finish=fake.finish,
        report_status=report_status,
        jobs_at_provider=jobs_at_provider,
        base_model=MEMORY_BASE_MODEL,
    )
    assert faulty.pending() == 0, "a planned fault was never reached"


# -- OpenAI: the real SDK against the fake server ---------------------------------------------

API_KEY = "sk-contract-0123456789abcdef"
TIMEOUT_S = 3.0  # generous: a loaded CI machine must not turn a normal call into a timeout

_ROUTES = {
    "upload_file": Route.UPLOAD_FILE,
    "list_files": Route.LIST_FILES,
    "get_file": Route.GET_FILE,
    "delete_file": Route.DELETE_FILE,
    "create_job": Route.CREATE_JOB,
    "get_job": Route.GET_JOB,
    "list_jobs": Route.LIST_JOBS,
    "cancel_job": Route.CANCEL_JOB,
    "pause_job": Route.PAUSE_JOB,
    "resume_job": Route.RESUME_JOB,
    "list_events_after": Route.LIST_EVENTS,
    "list_checkpoints": Route.LIST_CHECKPOINTS,
    "list_models": Route.LIST_MODELS,
    "file_content": Route.FILE_CONTENT,
    "chat": Route.CHAT,
}


def _fault(kind: ProviderErrorKind, *, took_effect: bool, retry_after: float | None) -> Fault:
    match kind:
        case ProviderErrorKind.SERVER:
            return Fault.server_error(500, commit=took_effect)
        case ProviderErrorKind.TIMEOUT:
            return Fault.delay(TIMEOUT_S * 4, commit=took_effect)
        case ProviderErrorKind.CONNECTION:
            return Fault.reset(commit=took_effect)
        case ProviderErrorKind.RATE_LIMITED:
            return replace(Fault.rate_limit(retry_after), commit=took_effect)
        case ProviderErrorKind.AUTH:
            return Fault.error(
                401, "Incorrect API key provided.", code="invalid_api_key", commit=took_effect
            )
    raise ValueError(f"the fake OpenAI server has no switch for {kind}")


@asynccontextmanager
async def openai(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with (
        FakeOpenAI(api_key=API_KEY, clock=lambda: clock.now().timestamp()) as fake,
        OpenAIProvider.openai(
            API_KEY,
            base_url=fake.base_url,
            timeout=TIMEOUT_S,
            max_retries=0,
            create_retry_delay=0,
        ) as provider,
    ):

        def advance() -> None:
            clock.advance(TICK_S)
            fake.advance()

        def fail_next(
            kind: ProviderErrorKind,
            *,
            operation: str,
            took_effect: bool = False,
            retry_after: float | None = None,
        ) -> None:
            fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
            fake.inject(_ROUTES[operation], fault)

        def finish(job_id: str, *, as_: str) -> None:
            fake.finish_job(job_id, as_)

        def report_status(job_id: str, status: str | None) -> None:
            if status is None:
                fake.reported_status.pop(job_id, None)
            else:
                fake.reported_status[job_id] = status

        async def jobs_at_provider() -> int:
            return len(fake.jobs)

        yield ProviderUnderTest(
            name="openai",
            provider=provider,
            advance=advance,
            fail_next=fail_next,
            finish=finish,
            report_status=report_status,
            jobs_at_provider=jobs_at_provider,
            base_model="gpt-4o-mini-2024-07-18",
        )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Azure OpenAI: the real AsyncAzureOpenAI against the fake server in Azure mode --------------

AZURE_KEY = "0123456789abcdef" * 2


@asynccontextmanager
async def azure(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with (
        FakeOpenAI(api_key=AZURE_KEY, azure=True, clock=lambda: clock.now().timestamp()) as fake,
        AzureOpenAIProvider.connect(
            fake.azure_endpoint,
            AZURE_KEY,
            timeout=TIMEOUT_S,
            max_retries=0,
            create_retry_delay=0,
        ) as provider,
    ):

        def deploy_new_models() -> None:
            # The operator's step after a job succeeds at Azure: deploy its model (named as
            # the model) so that it answers chat, as the profile's deploy note asks.
            for job in fake.jobs.values():
                model = job.get("fine_tuned_model")
                if model and model not in fake.deployments:
                    fake.deploy(model)

        def advance() -> None:
            clock.advance(TICK_S)
            fake.advance()
            deploy_new_models()

        def fail_next(
            kind: ProviderErrorKind,
            *,
            operation: str,
            took_effect: bool = False,
            retry_after: float | None = None,
        ) -> None:
            fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
            fake.inject(Route.AZURE_CHAT if operation == "chat" else _ROUTES[operation], fault)

        def finish(job_id: str, *, as_: str) -> None:
            fake.finish_job(job_id, as_)
            deploy_new_models()

        def report_status(job_id: str, status: str | None) -> None:
            if status is None:
                fake.reported_status.pop(job_id, None)
            else:
                fake.reported_status[job_id] = status

        async def jobs_at_provider() -> int:
            return len(fake.jobs)

        yield ProviderUnderTest(
            name="azure",
            provider=provider,
            advance=advance,
            fail_next=fail_next,
            finish=finish,
            report_status=report_status,
            jobs_at_provider=jobs_at_provider,
            base_model="gpt-4o-mini-2024-07-18",
        )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Nebius Token Factory: the real openai SDK against the fake server (OpenAI's shape) ----------

NEBIUS_KEY = "nebius-contract-0123456789abcdef"
NEBIUS_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"


@asynccontextmanager
async def nebius(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with (
        FakeOpenAI(api_key=NEBIUS_KEY, clock=lambda: clock.now().timestamp()) as fake,
        NebiusProvider.connect(
            NEBIUS_KEY,
            base_url=fake.base_url,
            timeout=TIMEOUT_S,
            max_retries=0,
            create_retry_delay=0,
        ) as provider,
    ):
        fake.add_model(NEBIUS_MODEL, owned_by="system")

        def advance() -> None:
            clock.advance(TICK_S)
            fake.advance()

        def fail_next(
            kind: ProviderErrorKind,
            *,
            operation: str,
            took_effect: bool = False,
            retry_after: float | None = None,
        ) -> None:
            fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
            fake.inject(_ROUTES[operation], fault)

        def finish(job_id: str, *, as_: str) -> None:
            fake.finish_job(job_id, as_)

        def report_status(job_id: str, status: str | None) -> None:
            if status is None:
                fake.reported_status.pop(job_id, None)
            else:
                fake.reported_status[job_id] = status

        async def jobs_at_provider() -> int:
            return len(fake.jobs)

        yield ProviderUnderTest(
            name="nebius",
            provider=provider,  # type: ignore[arg-type]  # no pause, no stored completions
            advance=advance,
            fail_next=fail_next,
            finish=finish,
            report_status=report_status,
            jobs_at_provider=jobs_at_provider,
            base_model=NEBIUS_MODEL,
        )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Together AI: the real together SDK against the fake server ---------------------------------

TOGETHER_KEY = "tgp_v1_contract0123456789abcdef"

_TOGETHER_ROUTES = {
    "upload_file": TogetherRoute.UPLOAD_FILE,
    "get_file": TogetherRoute.GET_FILE,
    "delete_file": TogetherRoute.DELETE_FILE,
    "create_job": TogetherRoute.CREATE_JOB,
    "get_job": TogetherRoute.GET_JOB,
    "list_jobs": TogetherRoute.LIST_JOBS,
    "cancel_job": TogetherRoute.CANCEL_JOB,
    "list_events_after": TogetherRoute.LIST_EVENTS,
    "list_checkpoints": TogetherRoute.LIST_CHECKPOINTS,
    "list_models": TogetherRoute.SUPPORTED_MODELS,
    "file_content": TogetherRoute.FILE_CONTENT,
    "chat": TogetherRoute.CHAT,
}


@asynccontextmanager
async def together(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with (
        FakeTogether(api_key=TOGETHER_KEY, clock=lambda: clock.now().timestamp()) as fake,
        TogetherProvider.connect(
            TOGETHER_KEY, base_url=fake.base_url, timeout=TIMEOUT_S, max_retries=0
        ) as provider,
    ):

        def advance() -> None:
            clock.advance(TICK_S)
            fake.advance()

        def fail_next(
            kind: ProviderErrorKind,
            *,
            operation: str,
            took_effect: bool = False,
            retry_after: float | None = None,
        ) -> None:
            fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
            fake.inject(_TOGETHER_ROUTES[operation], fault)

        def finish(job_id: str, *, as_: str) -> None:
            fake.finish_job(job_id, as_)

        def report_status(job_id: str, status: str | None) -> None:
            if status is None:
                fake.reported_status.pop(job_id, None)
            else:
                fake.reported_status[job_id] = status

        async def jobs_at_provider() -> int:
            return len(fake.jobs)

        yield ProviderUnderTest(
            name="together",
            provider=provider,  # type: ignore[arg-type]  # no pause, no stored completions
            advance=advance,
            fail_next=fail_next,
            finish=finish,
            report_status=report_status,
            jobs_at_provider=jobs_at_provider,
            base_model=TOGETHER_MODELS[0],
        )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Fireworks AI: the real fireworks-ai SDK against the fake server ---------------------------

FIREWORKS_KEY = "fw_contract0123456789abcdef"

_FIREWORKS_ROUTES = {
    "upload_file": FireworksRoute.UPLOAD_DATASET,
    "get_file": FireworksRoute.GET_DATASET,
    "delete_file": FireworksRoute.DELETE_DATASET,
    "create_job": FireworksRoute.CREATE_JOB,
    "get_job": FireworksRoute.GET_JOB,
    "list_jobs": FireworksRoute.LIST_JOBS,
    "cancel_job": FireworksRoute.CANCEL_JOB,
    "list_models": FireworksRoute.LIST_MODELS,
    "file_content": FireworksRoute.DOWNLOAD_ENDPOINT,
    "chat": FireworksRoute.CHAT,
}


@asynccontextmanager
async def fireworks(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with (
        FakeFireworks(
            api_key=FIREWORKS_KEY, account="contract", clock=lambda: clock.now().timestamp()
        ) as fake,
        FireworksProvider.connect(
            FIREWORKS_KEY,
            account_id="contract",
            base_url=fake.base_url,
            timeout=TIMEOUT_S,
            max_retries=0,
            ready_delay_s=0,
        ) as provider,
    ):

        def advance() -> None:
            clock.advance(TICK_S)
            fake.advance()

        def fail_next(
            kind: ProviderErrorKind,
            *,
            operation: str,
            took_effect: bool = False,
            retry_after: float | None = None,
        ) -> None:
            fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
            fake.inject(_FIREWORKS_ROUTES[operation], fault)

        def finish(job_id: str, *, as_: str) -> None:
            fake.finish_job(job_id, as_)

        def report_status(job_id: str, status: str | None) -> None:
            if status is None:
                fake.reported_status.pop(job_id, None)
            else:
                fake.reported_status[job_id] = status

        async def jobs_at_provider() -> int:
            return len(fake.jobs)

        yield ProviderUnderTest(
            name="fireworks",
            provider=provider,  # type: ignore[arg-type]  # no pause, events or checkpoints
            advance=advance,
            fail_next=fail_next,
            finish=finish,
            report_status=report_status,
            jobs_at_provider=jobs_at_provider,
            base_model=FIREWORKS_MODELS[0],
        )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Vertex AI: google-genai in Vertex mode against the fake service, GCS on the emulator -------

VERTEX_TOKEN = "ya29.contract-0123456789abcdefghij"

_VERTEX_ROUTES = {
    "create_job": VertexRoute.CREATE_JOB,
    "get_job": VertexRoute.GET_JOB,
    "list_jobs": VertexRoute.LIST_JOBS,
    "cancel_job": VertexRoute.CANCEL_JOB,
    "chat": VertexRoute.GENERATE_BASE,
}


@asynccontextmanager
async def vertex(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    with gcs_emulator("contract-bucket") as storage_url:
        storage = gcs_client(storage_url, project="contract")
        staging = Staging(storage, Bucket(name="contract-bucket", prefix="ftbot/"))
        async with (
            FakeVertex(
                token=VERTEX_TOKEN,
                read=gcs_reader(storage),
                clock=lambda: clock.now().timestamp(),
            ) as fake,
            VertexProvider.connect(
                credentials=static_token(VERTEX_TOKEN),
                project="contract",
                location="us-central1",
                staging=staging,
                base_url=fake.base_url,
                timeout=TIMEOUT_S,
            ) as provider,
        ):

            def advance() -> None:
                clock.advance(TICK_S)
                fake.advance()

            def fail_next(
                kind: ProviderErrorKind,
                *,
                operation: str,
                took_effect: bool = False,
                retry_after: float | None = None,
            ) -> None:
                fault = _fault(kind, took_effect=took_effect, retry_after=retry_after)
                fake.inject(_VERTEX_ROUTES[operation], fault)

            def finish(job_id: str, *, as_: str) -> None:
                fake.finish_job(job_id, as_)

            def report_status(job_id: str, status: str | None) -> None:
                if status is None:
                    fake.reported_status.pop(job_id, None)
                else:
                    fake.reported_status[job_id] = status

            async def jobs_at_provider() -> int:
                return len(fake.jobs)

            yield ProviderUnderTest(
                name="vertex",
                provider=provider,  # type: ignore[arg-type]  # no pause, events or checkpoints
                advance=advance,
                fail_next=fail_next,
                finish=finish,
                report_status=report_status,
                jobs_at_provider=jobs_at_provider,
                base_model=VERTEX_MODELS[0],
            )
            assert fake.errors == []
            assert fake.pending_faults() == 0, "a planned fault was never reached"


# -- Amazon Bedrock: the real aiobotocore clients against moto's S3 and the Bedrock fake --------


def _bedrock_fault(
    kind: ProviderErrorKind, *, took_effect: bool, retry_after: float | None
) -> Fault:
    if kind is ProviderErrorKind.AUTH:
        return Fault(
            kind="status",
            status=403,
            body={
                "code": "UnrecognizedClientException",
                "message": "The security token included in the request is invalid.",
            },
            commit=took_effect,
        )
    if kind is ProviderErrorKind.RATE_LIMITED:
        return Fault(
            kind="status",
            status=429,
            body={"code": "ThrottlingException", "message": "Too many requests"},
            headers={"retry-after": str(int(retry_after))} if retry_after is not None else {},
            commit=took_effect,
        )
    return _fault(kind, took_effect=took_effect, retry_after=retry_after)


_BEDROCK_ROUTES = {
    "create_job": BedrockRoute.CREATE_JOB,
    "get_job": BedrockRoute.GET_JOB,
    "list_jobs": BedrockRoute.LIST_JOBS,
    "cancel_job": BedrockRoute.STOP_JOB,
    "chat": BedrockRoute.CONVERSE,
}


@asynccontextmanager
async def bedrock(tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    clock = ManualClock()
    async with FakeBedrock(clock=lambda: clock.now().timestamp()) as fake:
        # Twice the others' timeout (still half the injected delay): moto's S3 runs in a
        # thread of this process, sharing the GIL with the loop, and one port call here is
        # several AWS calls (S3 and Bedrock, a job's tags), each of which must beat it.
        provider = BedrockProvider(
            fake.account(), endpoints=fake.endpoints(), timeout=2 * TIMEOUT_S, max_attempts=1
        )
        async with provider:

            def advance() -> None:
                clock.advance(TICK_S)
                fake.advance()

            def fail_next(
                kind: ProviderErrorKind,
                *,
                operation: str,
                took_effect: bool = False,
                retry_after: float | None = None,
            ) -> None:
                fault = _bedrock_fault(kind, took_effect=took_effect, retry_after=retry_after)
                # aiohttp (aiobotocore's transport) resends an idempotent GET once, unseen,
                # when a reused connection drops: a read fails as CONNECTION only when the
                # connection drops twice.
                reads = operation in ("get_job", "list_jobs")
                times = 2 if kind is ProviderErrorKind.CONNECTION and reads else 1
                fake.inject(_BEDROCK_ROUTES[operation], fault, times=times)

            def finish(job_id: str, *, as_: str) -> None:
                fake.finish_job(job_id, as_)

            def report_status(job_id: str, status: str | None) -> None:
                if status is None:
                    fake.reported_status.pop(job_id, None)
                else:
                    fake.reported_status[job_id] = status

            async def jobs_at_provider() -> int:
                return len(fake.jobs)

            yield ProviderUnderTest(
                name="bedrock",
                provider=provider,  # type: ignore[arg-type]  # no pause, events or checkpoints
                advance=advance,
                fail_next=fail_next,
                finish=finish,
                report_status=report_status,
                jobs_at_provider=jobs_at_provider,
                base_model=BEDROCK_MODEL,
            )
        assert fake.errors == []
        assert fake.pending_faults() == 0, "a planned fault was never reached"


PROVIDERS: tuple[ProviderEntry, ...] = (
    # What each entry is tested for is what its profile declares, so a family that claims a
    # capability passes that part of the suite, and one that lacks it is never asked.
    ProviderEntry(name="sandbox", capabilities=SANDBOX.capabilities, open=sandbox),
    ProviderEntry(name="openai", capabilities=OPENAI.capabilities, open=openai),
    ProviderEntry(name="memory", capabilities=MEMORY.capabilities, open=memory),
    ProviderEntry(name="together", capabilities=TOGETHER.capabilities, open=together),
    ProviderEntry(
        name="sandbox-together", capabilities=SANDBOX_TOGETHER.capabilities, open=sandbox_together
    ),
    ProviderEntry(name="fireworks", capabilities=FIREWORKS.capabilities, open=fireworks),
    ProviderEntry(name="azure", capabilities=AZURE.capabilities, open=azure),
    ProviderEntry(name="nebius", capabilities=NEBIUS.capabilities, open=nebius),
    ProviderEntry(name="vertex", capabilities=VERTEX.capabilities, open=vertex),
    ProviderEntry(name="bedrock", capabilities=BEDROCK.capabilities, open=bedrock),
)
