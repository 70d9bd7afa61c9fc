"""Test fake: the sandbox provider whose chat calls wait at a gate the test opens."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from bot.providers.sandbox.provider import SandboxProvider
from bot.providers.sandbox.timing import SandboxTiming
from handlers.chat import ChatMessage, ChatResult
from handlers.ports import Clock


class GatedProvider(SandboxProvider):
    """The sandbox, but every chat call waits at a gate the test opens."""

    def __init__(self, clock: Clock, *, timing: SandboxTiming) -> None:
        super().__init__(clock, timing=timing)
        self.gate = asyncio.Event()
        self.waiting = 0
        self._arrived = asyncio.Condition()

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        async with self._arrived:
            self.waiting += 1
            self._arrived.notify_all()
        await self.gate.wait()
        return await super().chat(
            model, messages, max_tokens=max_tokens, store=store, metadata=metadata
        )

    async def until_waiting(self, n: int, *, within: float = 30.0) -> None:
        """Until `n` calls wait at the gate; the deadline only turns a hang into a failure."""

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: self.waiting >= n)

        try:
            await asyncio.wait_for(arrived(), within)
        except TimeoutError:
            raise AssertionError(f"{self.waiting} chat call(s) at the gate, not {n}") from None
