"""The deployment's watcher settings reach the watcher: poll intervals, lease and claim size."""

from __future__ import annotations

import pytest

from bot.app.config import Settings
from bot.app.runtime import watch_settings_of


def test_the_environment_sets_the_claim_size_and_the_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINETUNE_BOT_CLAIM_LIMIT", "50")
    monkeypatch.setenv("FINETUNE_BOT_RUNNING_POLL_SECONDS", "7")
    monkeypatch.setenv("FINETUNE_BOT_LEASE_SECONDS", "90")
    watch = watch_settings_of(Settings(provider="sandbox"))
    assert (watch.claim_limit, watch.running_poll_seconds, watch.lease_seconds) == (50, 7, 90)
    assert watch_settings_of(Settings(provider="sandbox", claim_limit=200)).claim_limit == 200


def test_a_claim_size_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINETUNE_BOT_CLAIM_LIMIT", "0")
    with pytest.raises(ValueError, match="claim_limit"):
        Settings(provider="sandbox")
