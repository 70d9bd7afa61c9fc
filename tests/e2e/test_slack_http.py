"""Slack in HTTP mode end to end: the real Bolt app on the bot's web server, signed requests,
a local fake Slack Web API, the sandbox provider and the watcher, all over loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app.config import load_settings
from bot.app.runtime import RunningBot, start_bot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SIGNING_SECRET,
    action_body,
    command_body,
    event_body,
    signed_headers,
    suggestion_body,
    view_action_body,
    view_submission_body,
)
from tests.world import chat_example

pytestmark = pytest.mark.e2e
MODEL = "gpt-4.1-mini-2025-04-14"


@dataclass
class Harness:
    slack: FakeSlack
    bot: RunningBot
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bot.web.port}/slack/events"

    async def post(
        self,
        body: str,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> tuple[int, str, float]:
        started = time.perf_counter()
        async with self.http.post(
            self.url,
            data=body.encode(),
            headers=headers
            if headers is not None
            else signed_headers(body, content_type=content_type),
        ) as response:
            text = await response.text()
            return response.status, text, time.perf_counter() - started

    async def command(self, text: str, **kw: str) -> tuple[int, str, float]:
        return await self.post(command_body(text, response_url=self.slack.response_url(), **kw))

    def responses_containing(self, needle: str) -> list[dict[str, object]]:
        return [r for r in self.slack.responses if needle in str(r.get("text", ""))]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            provider="sandbox",
            sandbox_speed=40.0,
            slack_mode="http",
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.base_url,
            http_host="127.0.0.1",
            http_port=0,
            sweep_seconds=0.2,
            dispatch_seconds=0.1,
            running_poll_seconds=0.3,
            queued_poll_seconds=0.3,
            metric_interval_seconds=0.5,
        )
        bot = await start_bot(settings, stack)
        async with aiohttp.ClientSession() as http:
            yield Harness(slack=slack, bot=bot, http=http)


def _dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


async def test_full_job_life_through_slack(harness: Harness) -> None:
    slack = harness.slack
    shared = slack.share_file(name="train.jsonl", content=_dataset(), user="U1", channel="C1")
    status, _body, elapsed = await harness.command("upload alias=train")
    assert status == 200
    assert elapsed < 3.0
    await slack.wait_for(
        lambda: any(
            c.args.get("thread_ts") == shared.share_ts for c in slack.of("chat.postMessage")
        ),
        what="the upload report in the file's thread",
    )
    report = next(
        c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == shared.share_ts
    )
    assert "Uploaded train.jsonl as 'train'" in report.args["text"]
    assert report.token == "xoxb-test"

    status, _, _ = await harness.command(f"start file=train model={MODEL} epochs=1 suffix=e2e")
    assert status == 200
    await slack.wait_for(
        lambda: bool(harness.responses_containing("Started ftjob-")), what="the start reply"
    )
    started = harness.responses_containing("Started ftjob-")[0]
    # The requester's receipt; the channel's message about the job is its card.
    assert started["response_type"] == "ephemeral"
    job_id = str(started["text"]).split()[1]

    def notices() -> list[str]:
        return [
            str(c.args["metadata"]["event_payload"]["dedupe_key"])
            for c in slack.of("chat.postMessage")
            if c.args.get("metadata")
        ]

    await slack.wait_for(
        lambda: any(":status:succeeded" in k for k in notices()),
        within=60,
        what="the completion notice",
    )
    cards = [
        c
        for c in slack.of("chat.postMessage")
        if str(
            c.args.get("metadata", {}).get("event_payload", {}).get("dedupe_key", "")
        ).startswith(f"{job_id}:card:")
    ]
    assert len(cards) == 1, "one card message; later states are edits"
    card_ts = None
    for call in slack.of("chat.postMessage"):
        if call in cards:
            card_ts = call.args.get("ts")
    assert slack.of("chat.update"), "the card is edited in place"
    completion = next(
        c
        for c in slack.of("chat.postMessage")
        if ":status:succeeded" in str(c.args.get("metadata"))
    )
    assert "<@U1>" in completion.args["text"]
    assert "ft:" in completion.args["text"]
    assert completion.args.get("thread_ts") is None
    threaded = [
        c
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") and ":metric:" in str(c.args.get("metadata"))
    ]
    assert threaded, "metric updates go in the card's thread"
    await slack.wait_for(
        lambda: bool(slack.of("files.completeUploadExternal")), what="the loss chart upload"
    )
    assert any(data.startswith(b"\x89PNG") for data in slack.uploads.values())
    del card_ts

    uploads_before = len(slack.of("files.completeUploadExternal"))
    status, _, _ = await harness.post(
        action_body("ftbot_chart", job_id, response_url=slack.response_url())
    )
    assert status == 200
    await slack.wait_for(
        lambda: len(slack.of("files.completeUploadExternal")) > uploads_before,
        what="the chart from the button",
    )

    status, _, _ = await harness.command("list")
    await slack.wait_for(lambda: bool(harness.responses_containing("newest first")))


async def test_forged_stale_and_unsigned_requests_get_401(harness: Harness) -> None:
    body = command_body("list", response_url=harness.slack.response_url())
    forged = signed_headers(body, secret="wrong-secret")
    stale = signed_headers(body, at=time.time() - 400)
    for headers in (forged, stale, {"Content-Type": "application/x-www-form-urlencoded"}):
        status, _, _ = await harness.post(body, headers=headers)
        assert status == 401
    await harness.command("help")
    await harness.slack.wait_for(lambda: len(harness.slack.responses) >= 1)
    assert len(harness.slack.responses) == 1, "nothing ran for the rejected requests"


async def test_workspace_b_cannot_see_or_touch_workspace_a(harness: Harness) -> None:
    slack = harness.slack
    slack.admins.add("U2")  # an admin of workspace B: roles must not be what stops them
    slack.share_file(name="a.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=a")
    await slack.wait_for(lambda: bool(slack.of("chat.postMessage")))
    await harness.command(f"start file=a model={MODEL}")
    await slack.wait_for(lambda: bool(harness.responses_containing("Started ftjob-")))
    job_id = str(harness.responses_containing("Started ftjob-")[0]["text"]).split()[1]
    for text in (f"inspect {job_id}", f"cancel {job_id}", "files", "list"):
        await harness.command(text, team="T2", channel="C2", user="U2")
    await harness.post(
        action_body(
            "ftbot_cancel",
            job_id,
            team="T2",
            channel="C2",
            user="U2",
            response_url=slack.response_url(),
        )
    )
    await slack.wait_for(lambda: len(slack.responses) >= 6, what="answers to workspace B")
    answers = [str(r.get("text")) for r in slack.responses[-5:]]
    assert sum(f"No job '{job_id}' in this team" in a for a in answers) == 3
    assert "No files yet." in answers
    assert "No jobs." in answers
    assert job_id not in " ".join(
        str(r.get("text")) for r in slack.responses[-5:] if "No job" not in str(r.get("text"))
    )
    job = await harness.bot.runtime.store.get_job("slack:T1", job_id)
    assert job is not None
    assert job.state.status != "cancelled"


async def test_start_modal_suggestions_and_inline_errors(harness: Harness) -> None:
    slack = harness.slack
    status, _, _ = await harness.command("start")
    assert status == 200
    await slack.wait_for(lambda: bool(slack.of("views.open")), what="the modal")
    view = slack.of("views.open")[0].args
    assert str(view["trigger_id"]).startswith("trig-")
    blocks = {b.get("block_id") for b in view["view"]["blocks"]}
    assert {"file", "model", "method", "epochs", "lr", "batch_size", "suffix"} <= blocks

    status, text, _ = await harness.post(suggestion_body("ftbot_models", "mini"))
    assert status == 200
    assert "gpt-4.1-mini-2025-04-14" in text
    assert "gpt-4o-2024" not in text

    bad = {
        "file": {"file": {"type": "plain_text_input", "value": "train"}},
        "model": {
            "ftbot_models": {"type": "external_select", "selected_option": {"value": MODEL}}
        },
        "epochs": {"epochs": {"type": "plain_text_input", "value": "abc"}},
        "suffix": {"suffix": {"type": "plain_text_input", "value": "x" * 70}},
    }
    status, text, _ = await harness.post(view_submission_body(bad))
    assert status == 200
    assert '"response_action":"errors"' in text.replace(" ", "")
    assert "epochs=abc is not a whole number" in text
    assert "longer than 64 characters" in text


async def test_sharing_a_jsonl_offers_to_take_it(harness: Harness) -> None:
    slack = harness.slack
    file = slack.share_file(name="offer.jsonl", content=_dataset(), user="U1", channel="C1")
    body = event_body(
        {
            "type": "file_shared",
            "file_id": file.id,
            "user_id": "U1",
            "channel_id": "C1",
            "event_ts": "1.0",
        }
    )
    status, _, _ = await harness.post(body, content_type="application/json")
    assert status == 200
    await slack.wait_for(lambda: bool(slack.of("chat.postEphemeral")), what="the offer")
    offer = slack.of("chat.postEphemeral")[0].args
    assert offer["user"] == "U1"
    assert "offer.jsonl" in offer["text"]
    status, _, _ = await harness.post(
        action_body("ftbot_take_file", file.id, response_url=slack.response_url())
    )
    await slack.wait_for(
        lambda: any(
            "Uploaded offer.jsonl" in str(c.args.get("text")) for c in slack.of("chat.postMessage")
        ),
        what="the upload",
    )


async def test_a_slack_429_is_retried_after_retry_after(harness: Harness) -> None:
    slack = harness.slack
    slack.rate_limit_next["chat.postMessage"] = 1
    slack.share_file(name="r.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=r")
    await slack.wait_for(
        lambda: any(
            "Uploaded r.jsonl" in str(c.args.get("text")) for c in slack.of("chat.postMessage")
        ),
        within=15,
        what="the post after the 429",
    )
    assert slack.of("chat.postMessage#429"), "the first attempt was rate limited"


async def test_approval_and_budget_flow_through_slack_on_the_sandbox(harness: Harness) -> None:
    slack = harness.slack
    slack.admins.add("U4")
    slack.share_file(name="big.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=big")
    await slack.wait_for(lambda: bool(slack.of("chat.postMessage")), what="the upload report")
    await harness.command("budget approve_over=0.000001")
    await slack.wait_for(lambda: bool(harness.responses_containing("Budget updated")))

    await harness.command(f"start file=big model={MODEL} epochs=1")
    await slack.wait_for(lambda: bool(harness.responses_containing("Waiting for an admin")))
    assert not await harness.bot.runtime.store.list_jobs("slack:T1")

    def approval_posts() -> list[dict[str, object]]:
        return [
            c.args
            for c in slack.of("chat.postMessage")
            if "Approval needed" in str(c.args.get("text"))
        ]

    await slack.wait_for(lambda: bool(approval_posts()), what="the approval post")
    blocks = str(approval_posts()[0]["blocks"])
    assert "ftbot_approve" in blocks
    assert "ftbot_reject" in blocks
    approval_id = next(
        word.strip("()")
        for word in str(approval_posts()[0]["text"]).split()
        if word.strip("()").startswith("apr-")
    )

    async def press(user: str) -> None:
        await harness.post(
            action_body("ftbot_approve", approval_id, user=user, response_url=slack.response_url())
        )

    await press("U1")  # the requester
    await slack.wait_for(lambda: bool(harness.responses_containing("another team admin")))
    await press("U5")  # a member, not an admin
    await slack.wait_for(lambda: bool(harness.responses_containing("needs the admin role")))
    assert not await harness.bot.runtime.store.list_jobs("slack:T1")
    await press("U4")
    await slack.wait_for(lambda: bool(harness.responses_containing("Started ftjob-")))
    await press("U4")
    await slack.wait_for(lambda: bool(harness.responses_containing("already approved by <@U4>")))
    (job,) = await harness.bot.runtime.store.list_jobs("slack:T1")
    assert job.requester_id == "U1"
    await slack.wait_for(
        lambda: any(
            "Approved by <@U4>" in str(c.args.get("text")) for c in slack.of("chat.update")
        ),
        what="the approval post edited in place",
    )

    await harness.command("budget cap=0.000001 approve_over=0")
    await slack.wait_for(lambda: len(harness.responses_containing("Budget updated")) >= 2)
    # Another job: the same start again within minutes would be answered with the first.
    await harness.command(f"start file=big model={MODEL} epochs=1 seed=2")
    await slack.wait_for(lambda: bool(harness.responses_containing("Not started")))
    refusal = harness.responses_containing("Not started")[0]["text"]
    assert "spent $" in str(refusal)
    assert "this job $" in str(refusal)
    assert "cap $" in str(refusal)
    assert len(await harness.bot.runtime.store.list_jobs("slack:T1")) == 1


async def test_start_form_shows_the_cost_before_submission(harness: Harness) -> None:
    slack = harness.slack
    slack.share_file(name="cost.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=cost")
    await slack.wait_for(lambda: bool(slack.of("chat.postMessage")), what="the upload")
    await harness.command("start")
    await slack.wait_for(lambda: bool(slack.of("views.open")), what="the modal")
    opened = slack.of("views.open")[0].args["view"]
    assert "Pick a training file and a model" in str(opened["blocks"][-1])
    values = {
        "file": {
            "ftbot_start_file": {"type": "static_select", "selected_option": {"value": "cost"}}
        },
        "model": {
            "ftbot_models": {"type": "external_select", "selected_option": {"value": MODEL}}
        },
        "epochs": {"epochs": {"type": "plain_text_input", "value": "2"}},
    }
    status, _, _ = await harness.post(view_action_body("ftbot_models", values))
    assert status == 200
    await slack.wait_for(lambda: bool(slack.of("views.update")), what="the estimate")
    update = slack.of("views.update")[0].args
    assert update["view_id"] == "V1"
    estimate = str(update["view"]["blocks"][-1])
    assert "Billed tokens" in estimate
    assert "2 epochs" in estimate
    assert "Estimated training cost on gpt-4.1-mini-2025-04-14: $" in estimate


async def _jobs_at_provider(harness: Harness) -> int:
    return len(await harness.bot.runtime.provider.list_jobs(limit=100))


async def test_the_same_signed_start_posted_three_times_starts_one_job(harness: Harness) -> None:
    slack = harness.slack
    slack.share_file(name="train.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=train")
    await slack.wait_for(
        lambda: any("Uploaded" in str(c.args.get("text")) for c in slack.of("chat.postMessage")),
        what="the upload",
    )
    body = command_body(
        f"start file=train model={MODEL} epochs=1", response_url=slack.response_url()
    )
    headers = signed_headers(body)
    for _ in range(3):  # a captured request replayed inside Slack's 5-minute window
        status, _, _ = await harness.post(body, headers=headers)
        assert status == 200
    await slack.wait_for(
        lambda: bool(harness.responses_containing("Started ftjob-")), what="the start reply"
    )
    # A later command's answer: every replay would have been queued before it.
    await harness.command("help")
    await slack.wait_for(
        lambda: bool(harness.responses_containing("finetune-bot commands")), what="help"
    )
    assert await _jobs_at_provider(harness) == 1
    assert len(harness.responses_containing("Started ftjob-")) == 1
    assert not harness.responses_containing("Already started"), "a replay gets nothing"


async def test_a_retried_file_shared_event_offers_once(harness: Harness) -> None:
    slack = harness.slack
    first = slack.share_file(name="once.jsonl", content=_dataset(), user="U1", channel="C1")
    body = event_body(
        {
            "type": "file_shared",
            "file_id": first.id,
            "user_id": "U1",
            "channel_id": "C1",
            "event_ts": "1.0",
        }
    )
    for retry in range(3):  # Slack retries an event it thinks was not acked, same event_id
        headers = signed_headers(body, content_type="application/json")
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"}
        status, _, _ = await harness.post(body, headers=headers)
        assert status == 200
    later = slack.share_file(name="later.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.post(
        event_body(
            {
                "type": "file_shared",
                "file_id": later.id,
                "user_id": "U1",
                "channel_id": "C1",
                "event_ts": "2.0",
            }
        ),
        content_type="application/json",
    )
    await slack.wait_for(
        lambda: any("later.jsonl" in str(c.args["text"]) for c in slack.of("chat.postEphemeral")),
        what="the later offer",
    )
    offers = [c for c in slack.of("chat.postEphemeral") if "once.jsonl" in str(c.args["text"])]
    assert len(offers) == 1


async def test_the_requester_withdraws_with_the_reject_button(harness: Harness) -> None:
    """A team with one admin is not stuck on its operators' requests: whoever asked presses
    Reject on the request's message and it is withdrawn, shown as such in place."""
    slack = harness.slack
    slack.share_file(name="w.jsonl", content=_dataset(), user="U1", channel="C1")
    await harness.command("upload alias=w")
    await slack.wait_for(lambda: bool(slack.of("chat.postMessage")), what="the upload report")
    await harness.command("access grant <@U7> operator")
    await slack.wait_for(lambda: bool(harness.responses_containing("is now an operator")))
    await harness.command("budget approve_over=0.000001")
    await slack.wait_for(lambda: bool(harness.responses_containing("Budget updated")))
    await harness.command(f"start file=w model={MODEL} epochs=1", user="U7")
    await slack.wait_for(lambda: bool(harness.responses_containing("Waiting for an admin")))
    await slack.wait_for(
        lambda: any(
            "Approval needed" in str(c.args.get("text")) for c in slack.of("chat.postMessage")
        ),
        what="the approval post",
    )
    post = next(
        c for c in slack.of("chat.postMessage") if "Approval needed" in str(c.args.get("text"))
    )
    approval_id = next(
        w.strip("()") for w in str(post.args["text"]).split() if w.strip("()").startswith("apr-")
    )
    await harness.post(
        action_body("ftbot_reject", approval_id, user="U7", response_url=slack.response_url())
    )
    await slack.wait_for(lambda: bool(harness.responses_containing(f"Withdrew {approval_id}")))
    await slack.wait_for(
        lambda: any(
            "Withdrawn by <@U7>" in str(c.args.get("text")) for c in slack.of("chat.update")
        ),
        what="the request's message edited in place",
    )
    assert not await harness.bot.runtime.store.list_jobs("slack:T1")
