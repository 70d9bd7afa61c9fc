"""Through the real Bolt app with signed requests: a prompt, a model's answer and a shared
file's name that read `<!channel>`, `<!here>`, `<@U…>` or `<!subteam^…>` reach the channel as
words; the only mentions Slack gets are the ones the core made (the requester)."""

from __future__ import annotations

from tests.bot.markup import assert_slack_inert, assert_slack_mrkdwn_blocks_verbatim, mrkdwn_texts
from tests.e2e.test_slack_http import MODEL, Harness, _dataset, harness
from tests.fakes.slack_requests import event_body

__all__ = ["harness"]

HOSTILE = "<!channel> <!here|here> <@U999> <!subteam^S1|@team> <#C9> @here *x* `y`"


def _texts(message: dict[str, object]) -> list[str]:
    return [*mrkdwn_texts(message.get("blocks") or []), str(message.get("text", ""))]


async def test_try_with_a_hostile_prompt_and_answer_posts_no_live_mention(
    harness: Harness,
) -> None:
    slack = harness.slack
    status, _, _ = await harness.command(f"try {MODEL} {HOSTILE}")
    assert status == 200
    await slack.wait_for(lambda: bool(harness.responses_containing(" answered")), what="try")
    (answered,) = harness.responses_containing(" answered")
    assert answered["response_type"] == "in_channel"
    texts = _texts(answered)
    # The prompt is shown, and the sandbox's base model repeats it in its answer: both as words.
    assert any("Prompt: &lt;!channel&gt; &lt;!here|here&gt; &lt;@U999&gt;" in t for t in texts)
    assert any("about '&lt;!channel&gt;" in t for t in texts), "the answer carries it too"
    assert_slack_inert(texts)
    assert_slack_mrkdwn_blocks_verbatim(answered["blocks"])


async def test_a_shared_file_named_like_a_mention_is_offered_and_reported_as_words(
    harness: Harness,
) -> None:
    slack = harness.slack
    name = "<!channel> *now*.jsonl"
    file = slack.share_file(name=name, content=_dataset(), user="U1", channel="C1")
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
    assert "Use *&lt;!channel&gt; ∗now∗.jsonl* for fine-tuning?" in _texts(offer)[0]
    assert_slack_inert(_texts(offer))

    await harness.command("upload alias=hostile")
    await slack.wait_for(
        lambda: any(
            c.args.get("thread_ts") == file.share_ts for c in slack.of("chat.postMessage")
        ),
        what="the upload report in the file's thread",
    )
    (report,) = [
        c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == file.share_ts
    ]
    assert "Uploaded &lt;!channel&gt; " in report.args["text"]
    assert_slack_inert(_texts(report.args))
    assert_slack_mrkdwn_blocks_verbatim(report.args["blocks"])
