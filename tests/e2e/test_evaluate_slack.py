"""Evaluate and try through Slack over loopback: the completion notice's Try and Compare
buttons, the comparison's CSV upload, `dataset from-logs` and its Confirm button."""

from __future__ import annotations

import csv
import io
import json

from handlers.chat import ChatMessage
from handlers.ports import Inference
from handlers.scope import TEAM_KEY
from tests.e2e.test_slack_http import MODEL, Harness, _dataset, harness
from tests.fakes.slack_requests import action_body

__all__ = ["harness"]


def _notice_key(call: object) -> str:
    metadata = getattr(call, "args", {}).get("metadata") or {}
    return str(metadata.get("event_payload", {}).get("dedupe_key", ""))


async def test_try_compare_and_dataset_from_logs_through_slack(harness: Harness) -> None:
    slack = harness.slack
    slack.share_file(name="train.jsonl", content=_dataset(12), user="U1", channel="C1")
    await harness.command("upload alias=train")
    await slack.wait_for(lambda: "Uploaded train.jsonl" in str(slack.of("chat.postMessage")))
    slack.share_file(name="valid.jsonl", content=_dataset(11), user="U1", channel="C1")
    await harness.command("upload alias=valid")
    await slack.wait_for(lambda: "Uploaded valid.jsonl" in str(slack.of("chat.postMessage")))
    await harness.command(f"start file=train validation=valid model={MODEL} epochs=1")
    await slack.wait_for(
        lambda: any(":status:succeeded" in _notice_key(c) for c in slack.of("chat.postMessage")),
        within=60,
        what="the completion notice",
    )
    notice = next(c for c in slack.of("chat.postMessage") if ":status:succeeded" in _notice_key(c))
    actions = {
        element["action_id"]: element["value"]
        for block in notice.args["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
    }
    assert {"ftbot_try", "ftbot_compare"} <= set(actions)
    job_id = actions["ftbot_try"]

    await harness.post(action_body("ftbot_try", job_id, response_url=slack.response_url()))
    await slack.wait_for(lambda: bool(harness.responses_containing(" answered")), what="try")
    answered = harness.responses_containing(" answered")[0]
    assert "Reference answer:" in json.dumps(answered)

    uploads = len(slack.of("files.completeUploadExternal"))
    await harness.post(action_body("ftbot_compare", job_id, response_url=slack.response_url()))
    await slack.wait_for(
        lambda: len(slack.of("files.completeUploadExternal")) > uploads,
        within=30,
        what="the comparison's CSV",
    )
    (table,) = [
        data
        for data in slack.uploads.values()
        # UTF-8 with a byte-order mark, so a spreadsheet reads it as UTF-8.
        if data.startswith(b"\xef\xbb\xbfline,prompt,reference")
    ]
    rows = list(csv.DictReader(io.StringIO(table.decode("utf-8-sig"))))
    assert len(rows) == 22, "11 validation examples, two models"
    summary = " ".join(str(c.args) for c in slack.of("chat.postMessage"))
    summary += json.dumps(slack.responses)
    assert "examples of 'valid'" in summary
    cards = [c for c in slack.of("chat.postMessage") if _notice_key(c).startswith("compare:")]
    assert len(cards) <= 1, "the progress card is one message, edited in place"
    assert "Scores: exact match: the answer is the reference" in summary
    assert "scores higher on normalized match: " in summary or "tie on normalized" in summary

    provider = harness.bot.runtime.provider
    assert isinstance(provider, Inference)
    for i in range(12):
        await provider.chat(
            MODEL,
            (ChatMessage(role="user", content=f"Where is parcel {i}?"),),
            store=True,
            # The shared account's logs: only what carries the team's tag is its own.
            metadata={"app": "support", TEAM_KEY: "slack:T1"},
        )
    await harness.command(f"dataset from-logs model={MODEL} meta=app=support")
    await slack.wait_for(lambda: bool(harness.responses_containing("Draft ds-")), what="draft")
    draft = harness.responses_containing("Draft ds-")[0]
    draft_id = str(draft["text"]).split()[1].rstrip(":")
    assert "ftbot_dataset" in json.dumps(draft)
    await harness.post(action_body("ftbot_dataset", draft_id, response_url=slack.response_url()))
    await slack.wait_for(
        lambda: bool(harness.responses_containing("Uploaded from-logs-")), what="the upload"
    )
