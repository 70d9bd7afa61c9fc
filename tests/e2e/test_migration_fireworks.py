"""Moving a fine-tune off OpenAI onto Fireworks AI, end to end: a job trained at OpenAI (the
real openai SDK against the fake OpenAI server), its recipe replayed at Fireworks with one
command (the real fireworks-ai SDK against the fake Fireworks server, reached with the team's
own key on the account that key belongs to), and the new model compared with the old one
across the two providers, through the core as every chat adapter drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.directory import TeamProviderDirectory
from bot.providers.fireworks.factory import FireworksKeyChecker, TeamProviderBuilder
from bot.providers.openai.provider import OpenAIProvider
from handlers.actions import button_request
from handlers.ports import FineTuning, ProviderDirectory
from handlers.replies import Tone
from handlers.requests import SetupRequest
from handlers.secrets import Secret
from storage import crypto
from tests.dbutil import AnyStore
from tests.e2e.migration_steps import TEAM, admin, text_of, trained_at_openai, until_finished
from tests.fakes.clock import ManualClock
from tests.fakes.fireworks_server import BASE_MODELS, FakeFireworks
from tests.fakes.openai_server import FakeOpenAI
from tests.world import actor, world

pytestmark = pytest.mark.e2e
OPENAI_KEY = "sk-proj-" + "Mig2" * 10
FIREWORKS_KEY = "fw_" + "migration0123456" * 2
LLAMA = BASE_MODELS[0]


@pytest.fixture(autouse=True)
def ring() -> Iterator[None]:
    crypto.use_keys([crypto.generate_key()])
    yield
    crypto.use_keys(None)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeFireworks]]:
    async with (
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        FakeFireworks(api_key=FIREWORKS_KEY, account="acme", clock=lambda: 1.8e9) as fireworks,
    ):
        yield openai, fireworks


async def test_an_openai_job_replayed_at_fireworks_and_compared_across_providers(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeFireworks]
) -> None:
    openai, fireworks = fakes
    deployment = OpenAIProvider.openai(api_key=OPENAI_KEY, base_url=openai.base_url)
    teams = TeamProviderBuilder(base_url=fireworks.base_url)

    built: list[TeamProviderDirectory] = []

    def directory(_: FineTuning, store: AnyStore, clock: ManualClock) -> ProviderDirectory:
        built.append(TeamProviderDirectory(store=store, fallback=deployment, factory=teams))
        return built[0]

    async with world(tmp_path, directory=directory, keys=FireworksKeyChecker(teams)) as w:
        try:
            old = await trained_at_openai(w, openai, tmp_path, "epochs=2 seed=7 suffix=support")
            old_model = old.state.fine_tuned_model

            # An admin sets up Fireworks (the key is checked there), OpenAI stays default.
            saved = await w.service.handle(
                SetupRequest(provider="fireworks", api_key=Secret(FIREWORKS_KEY)), admin()
            )
            assert saved.tone is Tone.SUCCESS, saved
            assert (await w.run("setup default=openai", admin())).tone is Tone.SUCCESS

            # One command. The seed, which Fireworks takes none of, is listed first, with
            # nothing sent or created until the team says to go on without it.
            asked = await w.run(f"start like={old.id} provider=fireworks model={LLAMA}", actor())
            assert asked.tone is Tone.WARNING, asked
            assert "seed=7: Fireworks AI has no seed option" in text_of(asked)
            assert (fireworks.jobs, fireworks.datasets) == ({}, {})
            (go,) = [b for b in asked.buttons if b.value.endswith(":yes")]
            replayed = await w.service.handle(button_request(go.action, go.value), actor())
            assert replayed.tone is Tone.SUCCESS, replayed
            text = text_of(replayed)
            assert f"Recipe of {old.id} (OpenAI) on Fireworks AI, as it was asked." in text
            assert "epochs=2" in text
            assert "Sent 'train' to fireworks as 'train-fireworks'" in text
            assert len(fireworks.datasets) == 2  # training and validation, once each
            [new_id] = fireworks.jobs
            sent = fireworks.jobs[new_id]
            assert (sent["baseModel"], sent["epochs"]) == (LLAMA, 2)
            assert "seed" not in sent
            assert sent["evaluationDataset"].endswith(
                next(d for d in fireworks.datasets if d != sent["dataset"].rsplit("/", 1)[-1])
            )
            new = await w.store.get_job(TEAM, new_id)
            assert new is not None
            assert (new.provider, new.origin) == ("fireworks", old.id)
            assert "Fireworks AI's own, on the job" in text  # its estimatedCost

            await until_finished(w, fireworks, new_id)
            points = await w.store.list_metric_points(TEAM, new_id)
            assert [p.step for p in points] == list(range(1, 11))  # from its metrics file
            notices = [
                p.reply for p in w.notifier.posts if p.dedupe_key.startswith(f"{new_id}:status:")
            ]
            assert notices, "the replay's completion notice"
            buttons = {b.label: b for b in notices[-1].buttons}
            compare = buttons[f"Compare with {old_model}"]

            # The new model at Fireworks' chat endpoint, the old one still at OpenAI, on the
            # original validation set as it was sent to Fireworks.
            result = await w.service.handle(button_request(compare.action, compare.value), actor())
            assert result.tone is Tone.SUCCESS, result
            shown = text_of(result)
            assert f"B = {old_model} (OpenAI)" in shown
            assert "(Fireworks AI)" in shown
            assert "of 'held-fireworks'" in shown
            assert result.table is not None
            rows = {row[0]: row[1:] for row in result.table.rows}
            assert rows["errors"] == ("0", "0")
            assert fireworks.requests_to("POST /v1/chat/completions")
        finally:
            await built[0].aclose()
            await deployment.aclose()
