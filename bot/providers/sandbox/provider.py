"""Provider adapter: SandboxProvider, the sandbox family: the engine in OpenAI's shape, with
what that shape adds (pause and resume, stored completions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from bot.providers.sandbox.engine import SandboxEngine
from bot.providers.sandbox.profile import PROFILE
from bot.providers.sandbox.shape import OPENAI_SHAPE
from bot.providers.sandbox.timing import DEFAULT_TIMING, SandboxTiming
from handlers.chat import StoredCompletion
from handlers.model import JobState
from handlers.ports import Clock

LABEL: Final = PROFILE.label


class SandboxProvider(SandboxEngine):
    """The sandbox family: OpenAI's statuses, names and options, simulated (see the engine)."""

    def __init__(
        self,
        clock: Clock,
        *,
        state_path: Path | None = None,
        timing: SandboxTiming = DEFAULT_TIMING,
    ) -> None:
        super().__init__(clock, shape=OPENAI_SHAPE, state_path=state_path, timing=timing)

    async def pause_job(self, job_id: str) -> JobState:
        return self._act(job_id, "pause")

    async def resume_job(self, job_id: str) -> JobState:
        return self._act(job_id, "resume")

    async def list_stored_completions(
        self,
        *,
        model: str | None = None,
        metadata: Mapping[str, str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[StoredCompletion]:
        """Completions made with `store=True` in this process, newest first."""
        return self._chat.stored(model=model, metadata=metadata, since=since, limit=limit)
