"""A notice a stopped process posted but never marked is found in Slack's history and adopted:
the real SlackNotifier (slack_sdk) against the fake Slack Web API, the dispatcher on SQLite."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.notifier import SlackNotifier
from bot.infra.dispatcher import Dispatcher
from handlers.model import Platform
from handlers.ports import OutboxItem
from storage.store import SqlStore
from tests.dbutil import open_store
from tests.fakes.clock import ManualClock
from tests.fakes.slack_api import FakeSlack
from tests.storage import factories as f

LEASE = 30.0


def _notifier(slack: FakeSlack) -> SlackNotifier:
    async def client_for(workspace: str) -> AsyncWebClient:
        return AsyncWebClient(token="xoxb-test", base_url=slack.base_url)

    return SlackNotifier(client_for)


def _dispatcher(store: SqlStore, slack: FakeSlack, clock: ManualClock) -> Dispatcher:
    return Dispatcher(
        watch_store=store,
        notifiers={Platform.SLACK: _notifier(slack)},
        clock=clock,
        owner="after-restart",
        lease_seconds=LEASE,
        pace={Platform.SLACK: 0.0},
    )


async def _post_and_stop(
    store: SqlStore, slack: FakeSlack, clock: ManualClock, *, thread: str | None = None
) -> list[OutboxItem]:
    """What a process killed after Slack accepted its posts leaves: the posts, no marks."""
    items = await store.claim_outbox(
        owner="killed", now=clock.now(), lease_seconds=LEASE, limit=10
    )
    for item in items:
        await _notifier(slack).post(
            item.message.target,
            item.message.reply,
            dedupe_key=item.message.dedupe_key,
            thread_message_id=thread if item.message.job_id else None,
            card_key=item.message.card_key,
        )
    return list(items)


async def test_a_posted_notice_and_a_posted_card_are_adopted_not_posted_again(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    async with FakeSlack() as slack, open_store(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}") as s:
        card = "card:j1"
        await s.enqueue(
            [f.message("notice-1"), f.message("j1:card:queued", card_key=card, kind="card")],
            now=clock.now(),
        )
        await _post_and_stop(s, slack, clock)
        # The job moves on while the killed process's lease runs out.
        await s.enqueue(
            [f.message("j1:card:running", title="running", card_key=card, kind="card")],
            now=clock.now(),
        )
        assert len(slack.of("chat.postMessage")) == 2
        clock.advance(LEASE + 1)

        stats = await _dispatcher(s, slack, clock).tick()

        assert len(slack.of("chat.postMessage")) == 2, "nothing is posted a second time"
        assert stats.adopted == 2
        history = slack.of("conversations.history")
        assert history, "the channel's history was read"
        assert all(c.args.get("include_all_metadata") in ("1", "true", True) for c in history)
        (edit,) = slack.of("chat.update")  # the card shows its newest state, in place
        first_card = slack.of("chat.postMessage")[1].args
        assert first_card["metadata"]["event_payload"]["card_key"] == card
        assert str(edit.args["text"]).startswith("running")
        posted = slack.channel_messages[f.channel().channel_id]
        assert edit.args["ts"] == posted[1]["ts"]
        assert await s.card_message_id(card) == posted[1]["ts"]
        assert await s.outbox_stats(now=clock.now()) == (0, 0.0)


async def test_a_thread_reply_is_looked_up_in_its_thread(tmp_path: Path) -> None:
    clock = ManualClock()
    async with FakeSlack() as slack, open_store(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}") as s:
        card = "card:j1"
        await s.enqueue(
            [f.message("j1:card:running", job_id="j1", card_key=card, kind="card")],
            now=clock.now(),
        )
        await _dispatcher(s, slack, clock).tick()
        card_ts = await s.card_message_id(card)
        assert card_ts is not None
        assert slack.of("conversations.history") == [], "a first post looks nothing up"
        await s.enqueue([f.message("j1:ev-1", job_id="j1")], now=clock.now())
        await _post_and_stop(s, slack, clock, thread=card_ts)
        assert len(slack.of("chat.postMessage")) == 2
        clock.advance(LEASE + 1)

        stats = await _dispatcher(s, slack, clock).tick()

        assert (stats.adopted, len(slack.of("chat.postMessage"))) == (1, 2)
        (replies,) = slack.of("conversations.replies")
        assert replies.args["ts"] == card_ts
        assert await s.outbox_stats(now=clock.now()) == (0, 0.0)


async def test_a_row_never_posted_is_posted_once_after_the_lookup(tmp_path: Path) -> None:
    """The process stopped before its post reached Slack: the lookup finds nothing."""
    clock = ManualClock()
    async with FakeSlack() as slack, open_store(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}") as s:
        await s.enqueue([f.message("notice-1")], now=clock.now())
        await s.claim_outbox(owner="killed", now=clock.now(), lease_seconds=LEASE, limit=10)
        clock.advance(LEASE + 1)

        stats = await _dispatcher(s, slack, clock).tick()

        assert (stats.adopted, stats.sent) == (0, 1)
        assert len(slack.of("conversations.history")) == 1
        assert len(slack.of("chat.postMessage")) == 1
        assert await s.outbox_stats(now=clock.now()) == (0, 0.0)
