"""Every reply kind the bot makes, rendered by the real Slack adapter, within Block Kit's
documented limits (bot/chat/slack/limits.py): the gallery comes from the real core on the
sandbox world (tests/bot/reply_gallery.py), the checks from tests/bot/render_checks.py."""

from __future__ import annotations

from dataclasses import replace

from bot.chat.slack.blocks import MORE_ACTION, reply_blocks, reply_pages, table_chunks
from bot.chat.slack.modal import start_view
from bot.chat.slack.setup_modal import setup_view
from handlers.replies import Button, Reply, Table
from tests.bot.render_checks import (
    check_slack_limits,
    slack_blocks_problems,
    slack_pages,
    slack_view_problems,
)
from tests.bot.reply_gallery import JOBS, Gallery


def test_the_gallery_holds_every_reply_kind(reply_gallery: Gallery) -> None:
    replies = reply_gallery.replies
    assert len(replies["list"].table.rows) == JOBS  # type: ignore[union-attr]
    for name in (
        "help",
        "audit",
        "compare",
        "long error",
        "validate broken",
        "approval wait",
        "confirm start",
        "shared list",
    ):
        assert name in replies
    keys = " ".join(replies)
    for kind in (
        ":card:queued:",
        ":card:succeeded:",
        ":status:succeeded:",
        ":status:failed:",
        "approval:",
        ":metric:",
    ):
        assert kind in keys, kind


def test_every_reply_kind_fits_slack(reply_gallery: Gallery) -> None:
    failures = {}
    for name, reply in reply_gallery.replies.items():
        try:
            check_slack_limits(reply)
        except AssertionError as error:
            failures[name] = str(error)[:300]
    assert not failures, failures


def test_the_100_job_list_is_paged_by_whole_rows_with_a_more_button(
    reply_gallery: Gallery,
) -> None:
    listing = reply_gallery.replies["list"]
    pages = slack_pages(listing)
    assert len(pages) > 1
    tables = [[b for b in blocks if b["type"] == "table"] for blocks in pages]
    # One table block a page (Slack takes one a message), each headed by the column names.
    assert [len(t) for t in tables] == [1] * len(pages)
    heads = {tuple(c["text"] for c in t[0]["rows"][0]) for t in tables}
    assert heads == {listing.table.headers}  # type: ignore[union-attr]
    shown = [row[0]["text"] for t in tables for row in t[0]["rows"][1:]]
    ids = [str(row[0]) for row in listing.table.rows]  # type: ignore[union-attr]
    assert shown == ids, "every job once, whole, in order"
    more = [e for b in pages[0] if b["type"] == "actions" for e in b["elements"]]
    assert [e["value"] for e in more if e["action_id"] == MORE_ACTION] == ["t0:1"]


def test_the_audit_table_is_never_split_inside_its_code_block(reply_gallery: Gallery) -> None:
    audit = reply_gallery.replies["audit"]
    assert audit.table is not None
    assert len(audit.table.rows) > 100
    for chunk in table_chunks(audit.table):
        assert chunk.count("```") == 2, chunk[:200]
    check_slack_limits(audit)


def test_a_reply_of_empty_lines_makes_no_empty_section() -> None:
    reply = Reply(title="Answer", lines=("", "  ", "\n", ""))
    assert slack_blocks_problems(reply_blocks(reply)) == []
    assert [b["type"] for b in reply_blocks(reply)] == ["section"]


def test_buttons_survive_a_reply_longer_than_fifty_blocks() -> None:
    buttons = (
        Button(label="Inspect", action="inspect", value="ftjob-1"),
        Button(label="Cancel", action="cancel", value="ftjob-1"),
    )
    reply = Reply(title="Long", lines=tuple("y" * 2900 for _ in range(80)), buttons=buttons)
    first = reply_blocks(reply)
    assert slack_blocks_problems(first) == []
    actions = [e["action_id"] for b in first if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["ftbot_inspect", "ftbot_cancel"]
    paged = reply_blocks(reply, more_token="t0")
    actions = [e["action_id"] for b in paged if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["ftbot_inspect", "ftbot_cancel", MORE_ACTION]
    check_slack_limits(reply)


def test_a_row_is_never_cut_between_sections() -> None:
    model = "ft:gpt-4.1-mini-2025-04-14:an-organization-name:a-long-suffix:AbCdEf12"
    rows = tuple((f"ftjob-{i:030d}", "succeeded", model, "x" * 60) for i in range(400))
    reply = Reply(
        title="jobs", table=Table(headers=("job", "status", "result", "note"), rows=rows)
    )
    assert reply_pages(reply) > 1
    check_slack_limits(reply)


def test_the_forms_fit_slack(reply_gallery: Gallery) -> None:
    start = start_view(
        channel_id="C1",
        files=reply_gallery.files,
        fields=reply_gallery.fields,
        providers=reply_gallery.providers,
    )
    assert slack_view_problems(start) == []
    setup = setup_view(channel_id="C1", accounts=reply_gallery.accounts)
    assert slack_view_problems(setup) == []


def test_a_select_never_offers_a_cut_value(reply_gallery: Gallery) -> None:
    (first, *_) = reply_gallery.files
    long_alias = replace(first, alias="a" * 151)
    view = start_view(
        channel_id="C1", files=[*reply_gallery.files, long_alias], fields=reply_gallery.fields
    )
    assert slack_view_problems(view) == []
    values = [
        o["value"] for b in view["blocks"] for o in (b.get("element") or {}).get("options", [])
    ]
    assert first.alias in values
    assert not any(v.startswith("a" * 150) for v in values)
