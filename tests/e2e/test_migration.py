"""Moving a fine-tune off OpenAI, end to end: a job trained at OpenAI (the real openai SDK
against the fake OpenAI server), its recipe replayed at Together with one command (the real
together SDK against the fake Together server, reached with the team's own key), and the new
model compared with the old one across the two providers, through the core as every chat
adapter drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.openai.provider import OpenAIProvider
from bot.providers.together.factory import TeamProviderBuilder, TogetherKeyChecker
from handlers.actions import button_request
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Tone
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.e2e.migration_steps import TEAM, admin, text_of, trained_at_openai, until_finished
from tests.fakes.clock import ManualClock
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.together_server import BASE_MODELS, FakeTogether
from tests.world import actor, world

pytestmark = pytest.mark.e2e
OPENAI_KEY = "sk-proj-" + "Mig1" * 10
TOGETHER_KEY = "tgp_v1_" + "migration0123456" * 2
LLAMA = BASE_MODELS[0]


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeTogether]]:
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeTogether(api_key=TOGETHER_KEY, clock=lambda: 1_800_000_000.0) as together,
    ):
        yield openai, together


async def test_an_openai_job_replayed_at_together_and_compared_across_providers(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeTogether]
) -> None:
    openai, together = fakes
    deployment = OpenAIProvider.openai(api_key=OPENAI_KEY, base_url=openai.base_url)
    teams = TeamProviderBuilder(base_url=together.base_url)

    built: list[TeamProviderDirectory] = []

    def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        built.append(TeamProviderDirectory(store=store, fallback=deployment, factory=teams))
        return built[0]

    async with world(tmp_path, directory=directory, keys=TogetherKeyChecker(teams)) as w:
        try:
            # The team trains at OpenAI, as before the end date.
            old = await trained_at_openai(w, openai, tmp_path, "epochs=2 suffix=support")
            old_model = old.state.fine_tuned_model
            assert old_model is not None
            assert old_model.startswith("ft:")

            # An admin sets up Together (the key is checked against it), OpenAI stays default.
            saved = await w.service.handle(
                SetupRequest(provider="together", api_key=Secret(TOGETHER_KEY)), admin()
            )
            assert saved.tone is Tone.SUCCESS, saved
            assert (await w.run("setup default=openai", admin())).tone is Tone.SUCCESS

            # One command: the same data, options and suffix, at Together.
            replayed = await w.run(f"start like={old.id} provider=together model={LLAMA}", actor())
            assert replayed.tone is Tone.SUCCESS, replayed
            text = text_of(replayed)
            assert f"Recipe of {old.id} (OpenAI) on Together AI, as it was asked." in text
            assert "Carried: epochs=2, suffix=support." in text
            assert "Sent 'train' to together as 'train-together'" in text
            assert len(together.files) == 2  # training and validation, once each
            [new_id] = together.jobs
            sent = together.jobs[new_id]
            assert (sent["model"], sent["n_epochs"]) == (LLAMA, 2)
            assert "support" in str(sent.get("suffix") or sent.get("model_output_name"))
            new = await w.store.get_job(TEAM, new_id)
            assert new is not None
            assert (new.provider, new.origin) == ("together", old.id)

            await until_finished(w, together, new_id)
            notices = [
                p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
            ]
            assert notices, "the replay's completion notice"
            buttons = {b.label: b for b in notices[-1].buttons}
            compare = buttons[f"Compare with {old_model}"]

            # The comparison: the new model at Together, the old one still serving at OpenAI,
            # on the original validation set.
            result = await w.service.handle(button_request(compare.action, compare.value), actor())
            assert result.tone is Tone.SUCCESS, result
            shown = text_of(result)
            assert f"B = {old_model} (OpenAI)" in shown
            assert "(Together AI)" in shown
            assert "of 'held-together'" in shown
            assert result.table is not None
            rows = {row[0]: row[1:] for row in result.table.rows}
            assert rows["errors"] == ("0", "0")  # both answered every example, each at its own
        finally:
            await built[0].aclose()  # the team's Together client
            await deployment.aclose()
