"""Provider adapter: SandboxTogetherProvider, the sandbox's engine in Together AI's shape: no
pause or resume, no stored completions, and a price estimate of its own."""

from __future__ import annotations

from pathlib import Path

from bot.providers.sandbox.engine import SandboxEngine
from bot.providers.sandbox.timing import DEFAULT_TIMING, SandboxTiming
from bot.providers.sandbox_together.shape import TOGETHER_SHAPE
from handlers.model import JobSpec
from handlers.ports import Clock, ProviderEstimate
from handlers.pricing import PriceTable


class SandboxTogetherProvider(SandboxEngine):
    """A simulated Together AI account (see the engine): Together's statuses, ids, model
    names, options and metrics rows; its estimate prices a job from its own price table."""

    def __init__(
        self,
        clock: Clock,
        *,
        prices: PriceTable,
        state_path: Path | None = None,
        timing: SandboxTiming = DEFAULT_TIMING,
    ) -> None:
        super().__init__(clock, shape=TOGETHER_SHAPE, state_path=state_path, timing=timing)
        self._prices = prices

    async def estimate_price(self, spec: JobSpec) -> ProviderEstimate:
        """Like POST /fine-tunes/estimate-price: the training file's tokens times the epochs,
        plus the validation file's once, at the table's price; a simulation never refuses."""
        state = self._store.read()
        _, base = self._resolve_model(state, spec.model, self._now_us())
        training = self._file(state, spec.training_file)
        validation = (
            self._file(state, spec.validation_file) if spec.validation_file is not None else None
        )
        self._shape.check_spec(spec)
        epochs = spec.hyperparameters.n_epochs or self._shape.default_epochs
        train_tokens = training.tokens * epochs
        eval_tokens = validation.tokens if validation is not None else 0
        found = self._prices.lookup(base)
        rate = found.training_per_million if found is not None else None
        return ProviderEstimate(
            price=None if rate is None else round((train_tokens + eval_tokens) * rate / 1e6, 6),
            train_tokens=train_tokens,
            eval_tokens=eval_tokens,
            allowed_to_proceed=True,
            user_limit=None,
        )
