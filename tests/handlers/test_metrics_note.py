"""A family whose metrics come only when a job ends says so on the card, and a succeeded job
whose metrics cannot be read says why its notice has no chart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.profile import ProviderProfile
from tests.handlers.test_metric_files import FileAtTheEnd, _started
from tests.world import actor, world

NOTE = "This family shows no live loss: its per-step metrics arrive when the job completes."


class NotedAtTheEnd(FileAtTheEnd):
    @property
    def profile(self) -> ProviderProfile:
        return replace(super().profile, metrics_note=NOTE)


async def test_the_card_says_there_is_no_live_loss_until_the_points_come(tmp_path: Path) -> None:
    async with world(tmp_path, provider_type=NotedAtTheEnd) as w:
        job_id = await _started(w, tmp_path)
        await w.settle(seconds=40)
        running = [p for p in w.notifier.posts if f"{job_id}:card:running" in p.dedupe_key]
        inspected = await w.run(f"/finetune inspect {job_id}", actor())
        await w.settle(seconds=120)
        done = [p for p in w.notifier.posts if f"{job_id}:card:succeeded" in p.dedupe_key]

    assert running
    assert any(f.name == "Metrics" and f.value == NOTE for f in running[-1].reply.fields)
    assert any(f.name == "Metrics" and f.value == NOTE for f in inspected.fields)
    assert done
    assert all(f.name != "Metrics" for f in done[-1].reply.fields)


async def test_a_metrics_file_it_cannot_read_leaves_the_status_and_says_why_no_chart(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, provider_type=NotedAtTheEnd) as w:
        await _started(w, tmp_path)
        w.provider.inject_fault(
            ProviderError(
                ProviderErrorKind.PERMISSION, "the output location s3://b/p/ is not readable"
            ),
            operation="metric_points",
            times=1000,
        )
        await w.settle(seconds=160)
        [job] = await w.store.list_jobs(actor().team_id)
        (notice,) = [p for p in w.notifier.posts if ":status:succeeded" in p.dedupe_key]

    assert job.state.status == "succeeded"
    assert not notice.reply.attachments
    (missing,) = [f for f in notice.reply.fields if f.name == "Loss chart"]
    assert missing.value == "missing: the output location s3://b/p/ is not readable"
