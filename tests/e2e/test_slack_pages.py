"""Through the real Bolt app with signed requests: a 100-job list comes back in pages of
whole rows, each within Block Kit's limits (the fake Slack refuses what Slack refuses), and
the More button shows the next page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.chat.slack.blocks import MORE_ACTION
from handlers.model import Actor, Platform
from handlers.parse import parse
from handlers.replies import Tone
from tests.e2e.test_slack_http import MODEL, Harness, harness
from tests.fakes.slack_requests import action_body
from tests.world import as_shared, write_dataset

__all__ = ["harness"]


def _grown(responses: list[dict[str, object]], count: int) -> Callable[[], bool]:
    return lambda: len(responses) > count


def _more(response: dict[str, object]) -> list[str]:
    blocks = response.get("blocks") or []
    assert isinstance(blocks, list)
    return [
        e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == MORE_ACTION
    ]


async def test_a_100_job_list_is_paged_and_more_shows_the_rest(
    harness: Harness, tmp_path: Path
) -> None:
    slack = harness.slack
    service = harness.bot.runtime.service
    who = Actor(
        platform=Platform.SLACK,
        workspace_id="T1",
        channel_id="C1",
        user_id="U1",
        is_workspace_admin=True,  # U1 is an admin of the fake workspace
    )
    train = write_dataset(tmp_path / "train.jsonl")
    uploaded = await service.handle(as_shared(parse(f"/finetune upload {train} alias=train")), who)
    assert uploaded.tone is Tone.SUCCESS, uploaded
    for i in range(100):
        line = f"/finetune start file=train model={MODEL} suffix=p{i}"
        started = await service.handle(parse(line), who)
        assert started.tone is Tone.SUCCESS, started
    status, _, _ = await harness.command("list limit=100")
    assert status == 200
    await slack.wait_for(lambda: bool(harness.responses_containing("100 job")), what="list")
    first = harness.responses_containing("100 job")[0]
    more = _more(first)
    assert len(more) == 1
    seen = [first]
    while more:
        body = action_body(MORE_ACTION, more[0], response_url=slack.response_url("more"))
        count = len(slack.responses)
        status, _, _ = await harness.post(body)
        assert status == 200
        await slack.wait_for(_grown(slack.responses, count), what="the next page")
        page = slack.responses[-1]
        assert page["response_type"] == first["response_type"]
        seen.append(page)
        more = _more(page)
    assert slack.refused == []
    text = " ".join(str(r.get("blocks")) for r in seen)
    jobs = await harness.bot.runtime.store.list_jobs(who.team_id, limit=100)
    assert len(jobs) == 100
    assert [j.id for j in jobs if text.count(j.id) != 1] == []


async def test_more_on_a_list_no_longer_kept_says_to_run_it_again(harness: Harness) -> None:
    slack = harness.slack
    body = action_body(MORE_ACTION, "0123456789abcdef:1", response_url=slack.response_url("x"))
    status, _, _ = await harness.post(body)
    assert status == 200
    await slack.wait_for(lambda: bool(harness.responses_containing("no longer kept")), what="gone")
