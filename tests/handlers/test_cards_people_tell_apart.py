"""Cards people can tell apart: the human name leads, thread lines are plain and name files by
alias, times are tokens each platform renders in its readers' zones, a failed job's notice says
what failed and what to do next, and stopped or untrained jobs offer no chart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from handlers.cards import completion_notice, event_update, job_card, metric_update
from handlers.codec import reply_from_dict, reply_to_dict
from handlers.model import Hyperparameters, Job, JobEvent, JobState, MetricPoint
from handlers.profile import Capability, JobStatus
from handlers.replies import Text, TimeRef, TimeStyle, Tone, plain
from tests.fakes.clock import T0
from tests.handlers.test_data_commands import broken_dataset
from tests.world import actor, world

MODEL = "gpt-4.1-mini-2025-04-14"
EVERY = frozenset(Capability)


def _job(status: JobStatus = JobStatus.RUNNING, **state: object) -> Job:
    return Job(
        team_id="slack:T1",
        state=JobState(
            id="ftjob-abcdefghijklmnopqrstuvwx",
            model=MODEL,
            status=status,
            created_at=T0,
            training_file="file-9f8e7d",
            suffix="support",
            **state,  # type: ignore[arg-type]
        ),
        requester_id="U1",
        provider="sandbox",
        recipe={"training_file": "train-v2", "model": MODEL, "suffix": "support"},
    )


def test_the_card_leads_with_the_human_name_and_keeps_the_id_as_a_field() -> None:
    point = MetricPoint(step=3, total_steps=12, train_loss=0.9)
    card = job_card(_job(), point, T0 + timedelta(minutes=2), capabilities=EVERY)
    assert card.title == f"support · train-v2 on {MODEL} (sandbox) · running"
    assert "ftjob-" not in plain(card.title)
    assert [plain(f.value) for f in card.fields if f.name == "Job"] == [
        "ftjob-abcdefghijklmnopqrstuvwx"
    ]
    (eta,) = [f.value for f in card.fields if f.name == "ETA"]
    assert isinstance(eta, Text)
    times = [p for p in eta.parts if isinstance(p, TimeRef)]
    assert [t.style for t in times] == [TimeStyle.MOMENT, TimeStyle.RELATIVE]
    assert times[1].text.startswith("in ")
    assert "UTC" in plain(eta), "plain text (console, logs) reads the moment in UTC"
    # The outbox keeps times as times.
    assert reply_from_dict(reply_to_dict(card)) == card


def test_the_progress_names_the_epoch_where_the_provider_says_it() -> None:
    trained = _job(hyperparameters=Hyperparameters(n_epochs=3))
    now = T0 + timedelta(minutes=2)
    said = job_card(trained, MetricPoint(step=4, total_steps=12, epoch=2), now, capabilities=EVERY)
    (progress,) = [plain(f.value) for f in said.fields if f.name == "Progress"]
    assert progress.endswith(" (step 4/12) · epoch 2 of 3"), progress
    unsaid = job_card(trained, MetricPoint(step=4, total_steps=12), now, capabilities=EVERY)
    assert "epoch" not in " ".join(plain(f.value) for f in unsaid.fields)


def test_thread_lines_do_not_repeat_the_id_and_name_files_by_alias() -> None:
    metric = metric_update("ftjob-abc", MetricPoint(step=3, total_steps=12, train_loss=0.9))
    assert "ftjob-abc" not in plain(metric.title)
    assert plain(metric.title).startswith("[")
    event = JobEvent(
        id="e1", job_id="ftjob-abc", created_at=T0, message="Validating training file: file-9f8e7d"
    )
    said = event_update("ftjob-abc", event, aliases={"file-9f8e7d": "train-v2"})
    assert plain(said.title) == "Validating training file: train-v2"


def test_a_failed_notice_says_what_failed_nothing_billed_and_what_next() -> None:
    failed = _job(JobStatus.FAILED, error="Training file has 3 invalid lines", finished_at=T0)
    notice = completion_notice(failed, [], None, capabilities=EVERY, price_per_million=3.0)
    assert "failed: Training file has 3 invalid lines" in plain(notice.title)
    fields = {f.name: plain(f.value) for f in notice.fields}
    assert fields["Cost"].startswith("nothing billed")
    assert "Duration" in fields
    (step,) = notice.lines
    assert "/finetune validate" in plain(step)
    assert "train-v2" in plain(step)
    assert "start like=ftjob-abcdefghijklmnopqrstuvwx" in plain(step)
    actions = {b.action: b for b in notice.buttons}
    assert "chart" not in actions, "it never trained: nothing to chart"
    assert actions["replay"].label == "Start again"
    assert actions["replay"].value == "ftjob-abcdefghijklmnopqrstuvwx:sandbox"
    # A job that trained before failing still has its chart.
    point = MetricPoint(step=3, total_steps=12, train_loss=0.9)
    trained = completion_notice(failed, [point], b"png", capabilities=EVERY)
    assert "chart" in {b.action for b in trained.buttons}
    card = job_card(failed, None, T0, capabilities=EVERY)
    assert card.buttons == ()


def test_cancelled_cards_and_notices_offer_no_chart() -> None:
    cancelled = _job(JobStatus.CANCELLED, finished_at=T0)
    point = MetricPoint(step=3, total_steps=12, train_loss=0.9)
    assert job_card(cancelled, point, T0, capabilities=EVERY).buttons == ()
    notice = completion_notice(cancelled, [point], None, capabilities=EVERY)
    assert "chart" not in {b.action for b in notice.buttons}


async def test_a_failed_job_through_the_watcher_and_its_start_again(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        who = actor()
        bad = broken_dataset(tmp_path / "bad.jsonl")
        await w.run(f"/finetune upload {bad} alias=bad force=yes", who)
        started = await w.run(f"/finetune start file=bad model={MODEL} suffix=oops", who)
        job_id = plain(started.title).split()[-1]
        await w.settle(seconds=120)
        job = await w.store.get_job(who.team_id, job_id)
        assert job is not None
        assert job.state.status == JobStatus.FAILED
        posts = [p for p in w.notifier.posts if p.dedupe_key.startswith(job_id)]
        events = [p.reply for p in posts if ":event:" in p.dedupe_key]
        assert events
        # The bot adds no id to the provider's words (the thread says which job).
        said = [plain(e.title) for e in events]
        assert all(not line.startswith(job_id) for line in said), said
        validating = [line for line in said if "Validating training file" in line]
        assert validating
        assert validating[0].endswith(": bad")
        notice = next(p.reply for p in posts if ":status:failed" in p.dedupe_key)
        assert notice.tone is Tone.ERROR
        assert "chart" not in {b.action for b in notice.buttons}
        again = next(b for b in notice.buttons if b.action == "replay")
        from handlers.actions import button_request

        replayed = await w.service.handle(button_request(again.action, again.value), who)
        assert "Started" in plain(replayed.title), replayed
        jobs = await w.store.list_jobs(who.team_id)
        assert len(jobs) == 2
        assert jobs[0].origin == job_id
