"""The watcher and dispatcher: what the channel sees, once, as a job moves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import ChannelAddress, Platform, Team
from handlers.ports import OutboxMessage
from handlers.replies import Reply, plain
from handlers.watch import WatchSettings, card_key, jittered, poll_delay
from tests.world import World, actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
async def w(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with world(tmp_path) as built:
        yield built


async def _start(w: World, tmp_path: Path, **who: str) -> str:
    person = actor(**who)
    path = write_dataset(tmp_path / f"train-{person.workspace_id}.jsonl")
    await w.run(f"upload {path} alias=train", person)
    await w.run(f"start file=train model={MODEL} epochs=2", person)
    return (await w.store.list_jobs(person.team_id))[0].id


async def test_card_thread_and_completion(w: World, tmp_path: Path) -> None:
    job_id = await _start(w, tmp_path)
    await w.settle(seconds=200)
    posts = w.notifier.posts
    cards = [p for p in posts if p.dedupe_key.startswith(f"{job_id}:card:")]
    assert cards, "the job card was posted"
    first = cards[0]
    assert first.edit_of is None
    assert all(p.edit_of == first.message_id for p in cards[1:]), "later states edit the card"
    assert plain(cards[-1].reply.title).endswith("succeeded")
    thread = [p for p in posts if p.thread_of is not None]
    assert thread, "metric and event updates go in the card's thread"
    assert all(p.thread_of == first.message_id for p in thread)
    metric_posts = [p for p in thread if ":metric:" in p.dedupe_key]
    assert metric_posts
    assert "train loss" in metric_posts[0].reply.title
    done = [p for p in posts if ":status:succeeded" in p.dedupe_key]
    assert len(done) == 1
    notice = done[0].reply
    assert notice.mentions == ("U1",)
    assert "ft:" in notice.title
    assert notice.attachments[0].mime_type == "image/png"
    assert done[0].edit_of is None, "the completion is a new message, so people are notified"
    keys = Counter(w.notifier.dedupe_keys())
    assert all(n == 1 for key, n in keys.items() if not key.startswith(f"{job_id}:card:"))
    job = await w.store.get_job(actor().team_id, job_id)
    assert job is not None
    assert job.card_message_id == first.message_id


async def test_terminal_jobs_are_never_polled_again(w: World, tmp_path: Path) -> None:
    await _start(w, tmp_path)
    await w.settle(seconds=200)
    before = sum(w.provider.calls.values())
    await w.settle(seconds=100)
    assert sum(w.provider.calls.values()) == before


async def test_metric_updates_are_throttled_per_team(w: World, tmp_path: Path) -> None:
    job_id = await _start(w, tmp_path)
    await w.store.set_metric_interval(actor().team_id, 3600)
    await w.settle(seconds=200)
    metric_posts = [k for k in w.notifier.dedupe_keys() if k.startswith(f"{job_id}:metric:")]
    assert len(metric_posts) == 1


async def test_subscriptions_get_the_notices_they_asked_for(w: World, tmp_path: Path) -> None:
    await w.run("subscribe completions", actor(channel="C-done"))
    await w.run("subscribe failures", actor(channel="C-fail"))
    await w.run("subscribe all", actor(channel="C-all"))
    job_id = await _start(w, tmp_path)
    await w.settle(seconds=200)
    by_channel = Counter(p.target.channel_id for p in w.notifier.posts)
    assert by_channel["C-done"] == 1
    assert by_channel["C-fail"] == 0
    assert by_channel["C-all"] >= 2  # status changes and the completion
    done = next(p for p in w.notifier.posts if p.target.channel_id == "C-done")
    assert job_id in done.reply.title


async def test_a_failed_post_is_retried_and_nothing_lost(w: World, tmp_path: Path) -> None:
    await _start(w, tmp_path)
    w.notifier.fail_next = 3
    await w.settle(seconds=300)
    keys = w.notifier.dedupe_keys()
    assert any(":status:succeeded" in k for k in keys)
    depth, _ = await w.store.outbox_stats(now=w.clock.now())
    assert depth == 0


async def test_a_stale_watcher_writes_nothing(w: World, tmp_path: Path) -> None:
    await _start(w, tmp_path)
    claims = await w.store.claim_due_jobs(
        owner="old", now=w.clock.now(), lease_seconds=1, limit=10
    )
    assert len(claims) == 1
    w.clock.advance(30)
    await w.watcher.sweep()  # takes the expired lease over and bumps the fence
    job = claims[0].job
    ok = await w.store.commit_poll(
        claims[0],
        owner="old",
        state=job.state,
        cursor="x",
        messages=[],
        metric_points=[],
        next_poll_at=None,
        polls_without_news=0,
        last_notified_metric_at=None,
    )
    assert not ok


async def test_a_job_the_provider_forgot_is_closed_with_a_notice(w: World, tmp_path: Path) -> None:
    job_id = await _start(w, tmp_path)
    w.provider.inject_fault(
        ProviderError(ProviderErrorKind.NOT_FOUND), times=1, operation="get_job"
    )
    await w.settle(seconds=5)
    assert f"{job_id}:gone" in w.notifier.dedupe_keys()
    calls = sum(w.provider.calls.values())
    await w.settle(seconds=100)
    assert sum(w.provider.calls.values()) == calls


async def test_rate_limits_back_off_and_tell_the_channel_once(w: World, tmp_path: Path) -> None:
    await _start(w, tmp_path)
    w.provider.inject_fault(
        ProviderError(ProviderErrorKind.RATE_LIMITED, retry_after=120),
        times=3,
        operation="get_job",
    )
    await w.settle(seconds=5)
    calls = sum(w.provider.calls.values())
    await w.settle(seconds=100)  # inside the Retry-After window: no calls at all
    assert sum(w.provider.calls.values()) == calls
    await w.settle(seconds=600)
    notices = [k for k in w.notifier.dedupe_keys() if ":backoff:" in k]
    assert len(notices) == 1
    assert any(":status:succeeded" in k for k in w.notifier.dedupe_keys())
    assert await w.store.team_backoff_until(actor().team_id) is None


async def test_one_list_call_per_team_for_many_jobs(w: World, tmp_path: Path) -> None:
    person = actor()
    path = write_dataset(tmp_path / "t.jsonl")
    await w.run(f"upload {path} alias=t", person)
    for seed in range(5):
        await w.run(f"start file=t model={MODEL} seed={seed}", person)
    w.provider.calls.clear()
    w.clock.advance(5)
    await w.watcher.sweep()
    assert w.provider.calls["list_jobs"] == 1
    assert w.provider.calls["get_job"] == 0


def test_poll_delays_adapt_to_the_state() -> None:
    s = WatchSettings()
    assert poll_delay("running", 0, s) == s.running_poll_seconds
    assert poll_delay("queued", 0, s) == s.slow_poll_seconds
    assert poll_delay("queued", 20, s) == s.slow_poll_max_seconds
    assert poll_delay("running", 20, s) == s.running_poll_max_seconds
    assert poll_delay("paused", 0, s) == s.paused_poll_seconds
    spread = {round(jittered(10, f"job{i}", 1, 0.2), 3) for i in range(50)}
    assert len(spread) > 40
    assert all(8 <= x <= 12 for x in spread)


async def test_unknown_platform_rows_are_dead_lettered(w: World, tmp_path: Path) -> None:
    from handlers.model import Actor

    person = Actor(platform=Platform.DISCORD, workspace_id="G1", channel_id="C1", user_id="U")
    path = write_dataset(tmp_path / "d.jsonl")
    await w.run(f"upload {path} alias=d", person)
    await w.run(f"start file=d model={MODEL}", person)
    await w.settle(seconds=30)
    assert w.notifier.posts == []
    depth, _ = await w.store.outbox_stats(now=w.clock.now())
    assert depth == 0


async def test_one_tick_marks_every_channel_and_threads_under_the_card_it_posted(
    w: World,
) -> None:
    await w.store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))
    messages: list[OutboxMessage] = []
    for n in range(3):
        target = ChannelAddress(platform=Platform.SLACK, workspace_id="T1", channel_id=f"C{n}")
        job = f"job-{n}"
        for kind, key in (("card", card_key(job)), ("event", None)):
            messages.append(
                OutboxMessage(
                    dedupe_key=f"{job}:{kind}:1",
                    team_id="slack:T1",
                    target=target,
                    kind=kind,
                    reply=Reply(title=kind),
                    job_id=job,
                    card_key=key,
                )
            )
    now = w.clock.now()
    await w.store.enqueue(messages, now=now)
    stats = await w.dispatcher.tick()
    assert (stats.sent, stats.deferred, stats.failed) == (6, 0, 0)
    assert await w.store.outbox_stats(now=now) == (0, 0.0), "every post is marked sent"
    posted = {p.dedupe_key: p for p in w.notifier.posts}
    for n in range(3):
        card = posted[f"job-{n}:card:1"]
        assert posted[f"job-{n}:event:1"].thread_of == card.message_id
    keys = [card_key(f"job-{n}") for n in range(3)]
    assert await w.store.card_message_ids(keys) == {
        card_key(f"job-{n}"): posted[f"job-{n}:card:1"].message_id for n in range(3)
    }
