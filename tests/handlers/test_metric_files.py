"""The core reads a family's metric points from its metrics file (Capability.METRICS) where the
family has no events: points that come late or all at once are stored as event metrics are, and
the card, the completion notice and `chart` show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.providers.sandbox.provider import SandboxProvider
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import JobEvent, MetricPoint
from handlers.profile import Capability, ProviderProfile
from handlers.replies import Tone, plain
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


class FileAtTheEnd(SandboxProvider):
    """The sandbox as a family with no events whose metrics file is written once the job has
    ended (as Bedrock's per-step CSV is): every point arrives at once."""

    @property
    def profile(self) -> ProviderProfile:
        base = super().profile
        return replace(
            base,
            capabilities=(base.capabilities - {Capability.EVENTS, Capability.LIVE_METRICS})
            | {Capability.METRICS},
        )

    async def list_events_after(
        self, job_id: str, cursor: str | None, *, limit: int = 100
    ) -> Sequence[JobEvent]:
        return []

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        if not (await self.get_job(job_id)).terminal:
            return []
        events = await super().list_events_after(job_id, None, limit=10_000)
        return [p for e in events if (p := MetricPoint.from_event(e)) is not None]


class FileAsItGoes(FileAtTheEnd):
    """The same family, its file growing with the job (as Fireworks' does)."""

    async def metric_points(self, job_id: str) -> Sequence[MetricPoint]:
        events = await super(FileAtTheEnd, self).list_events_after(job_id, None, limit=10_000)
        return [p for e in events if (p := MetricPoint.from_event(e)) is not None]


async def _started(w: World, tmp_path: Path) -> str:
    path = write_dataset(tmp_path / "train.jsonl")
    assert (await w.run(f"/finetune upload {path} alias=train", actor())).tone is Tone.SUCCESS
    started = await w.run(f"/finetune start file=train model={MODEL}", actor())
    assert started.tone is Tone.SUCCESS, started
    [job] = await w.store.list_jobs(actor().team_id)
    return job.id


async def test_points_that_come_only_at_the_end_are_stored_charted_and_in_the_notice(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, provider_type=FileAtTheEnd) as w:
        job_id = await _started(w, tmp_path)
        await w.settle(seconds=40)  # running, a few steps trained: no file yet
        assert await w.store.list_metric_points(actor().team_id, job_id) == []
        assert not any(":metric:" in k for k in w.notifier.dedupe_keys())
        await w.settle(seconds=120)

        stored = await w.store.list_metric_points(actor().team_id, job_id)
        assert [p.step for p in stored] == list(range(1, 13))
        (notice,) = [p for p in w.notifier.posts if ":status:succeeded" in p.dedupe_key]
        assert any(f.name == "Final train loss" for f in notice.reply.fields)
        assert notice.reply.attachments, "the loss chart went with the notice"
        assert w.charts.calls[-1][1] == 12
        chart = await w.run(f"/finetune chart {job_id}", actor())
        assert plain(chart.lines[0]).startswith("12 steps; last")
        assert w.provider.calls["metric_points"] >= 1


async def test_a_growing_file_is_news_each_new_step_and_stored_once(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=FileAsItGoes) as w:
        job_id = await _started(w, tmp_path)
        await w.settle(seconds=160)
        stored = await w.store.list_metric_points(actor().team_id, job_id)
        assert [p.step for p in stored] == list(range(1, 13))
        keys = w.notifier.dedupe_keys()
        assert any(k.startswith(f"{job_id}:metric:") for k in keys)
        assert len(keys) == len(set(keys))
        assert any(":card:running:" in k and not k.endswith(":0") for k in keys)


async def test_an_unreadable_file_is_no_news_and_the_status_still_moves(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=FileAsItGoes) as w:
        job_id = await _started(w, tmp_path)
        w.provider.inject_fault(
            ProviderError(ProviderErrorKind.SERVER), operation="metric_points", times=1000
        )
        await w.settle(seconds=160)
        [job] = await w.store.list_jobs(actor().team_id)
        assert job.state.status == "succeeded"
        assert await w.store.list_metric_points(actor().team_id, job_id) == []
        assert any(":status:succeeded" in k for k in w.notifier.dedupe_keys())
