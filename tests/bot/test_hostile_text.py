"""Rendering hostile text: for any string in any slot of a Reply (and in the job, approval and
event fields the core's cards take from users, files and providers), Slack and Discord show it
as words. The only mentions are the core's UserRef/ChannelRef; bold and code stay balanced."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.console.render import render_table, render_text
from handlers.cards import completion_notice, event_update, job_card
from handlers.chat import ChatMessage
from handlers.compare import Answer, CompareRun, results_csv
from handlers.compare import TestCase as Case
from handlers.governance import approval_card, encode_start
from handlers.model import (
    Approval,
    ApprovalStatus,
    ChannelAddress,
    Job,
    JobEvent,
    JobState,
    MetricPoint,
    Platform,
)
from handlers.profile import Capability, JobStatus
from handlers.replies import (
    ChannelRef,
    Content,
    Field,
    Reply,
    Table,
    Tone,
    UserRef,
    plain,
    refs_of,
    rich,
)
from handlers.requests import StartRequest
from tests.bot.markup import hostile
from tests.bot.render_checks import (
    DISCORD_CHANNEL,
    DISCORD_USER,
    SLACK_CHANNEL,
    SLACK_USER,
    check_discord,
    check_slack,
)
from tests.fakes.clock import T0

REFS = (
    UserRef(user_id=SLACK_USER),
    ChannelRef(channel_id=SLACK_CHANNEL),
    UserRef(user_id=DISCORD_USER),
    ChannelRef(channel_id=DISCORD_CHANNEL),
    UserRef(user_id="not|an>id"),
)

contents: st.SearchStrategy[Content] = st.one_of(
    hostile,
    st.builds(lambda a, ref, b: rich(a, ref, b), hostile, st.sampled_from(REFS), hostile),
)
fields_ = st.builds(Field, name=hostile, value=contents, inline=st.booleans())
tables = st.builds(
    Table,
    headers=st.just(("job", "status", "who")),
    rows=st.lists(st.tuples(contents, contents, contents), max_size=4).map(tuple),
)
replies = st.builds(
    Reply,
    title=contents,
    lines=st.lists(contents, max_size=4).map(tuple),
    fields=st.lists(fields_, max_size=12).map(tuple),
    table=st.none() | tables,
    tone=st.sampled_from(Tone),
    footer=st.just("") | contents,
    mentions=st.sampled_from(((), (SLACK_USER,), (DISCORD_USER,))),
)


@settings(max_examples=150, deadline=None)
@given(reply=replies)
def test_any_text_in_any_slot_renders_inert_and_balanced(reply: Reply) -> None:
    check_slack(reply)
    check_discord(reply)


def _job(*, status: str, model: str, suffix: str, error: str, requester: str) -> Job:
    state = JobState(
        id="ftjob-1",
        model=model,
        status=JobStatus(status),
        created_at=T0,
        training_file="file-1",
        suffix=suffix,
        fine_tuned_model=f"ft:gpt-4.1-mini:acme:{suffix}:x1" if status == "succeeded" else None,
        error=error if status == "failed" else None,
        finished_at=T0 + timedelta(minutes=5) if status != "running" else None,
    )
    return Job(
        team_id="slack:T1",
        state=state,
        channel=ChannelAddress(platform=Platform.SLACK, workspace_id="T1", channel_id="C1"),
        requester_id=requester,
    )


@settings(max_examples=150, deadline=None)
@given(
    status=st.sampled_from(("running", "succeeded", "failed")),
    model=hostile,
    suffix=hostile,
    error=hostile,
    event=hostile,
    training_file=hostile,
    requester=st.sampled_from((SLACK_USER, DISCORD_USER)),
)
def test_cards_keep_provider_and_user_text_inert(
    status: str,
    model: str,
    suffix: str,
    error: str,
    event: str,
    training_file: str,
    requester: str,
) -> None:
    """The job card, the completion notice, a provider's event and the approval card carry a
    model name, a suffix, a provider's error and a file name: all words; only the requester
    (and the approver) are mentions, and only the requester is pinged."""
    job = _job(status=status, model=model, suffix=suffix, error=error, requester=requester)
    point = MetricPoint(step=3, total_steps=6, train_loss=0.5)
    start = StartRequest(training_file=training_file, model=model, suffix=suffix)
    approval = Approval(
        id="apr-1",
        team_id="slack:T1",
        requester_id=requester,
        channel=job.channel
        or ChannelAddress(platform=Platform.SLACK, workspace_id="T1", channel_id="C1"),
        request=encode_start(start),
        cost=12.5,
        created_at=T0,
        expires_at=T0 + timedelta(hours=1),
    )
    cards = [
        job_card(job, point, T0 + timedelta(minutes=1), capabilities=frozenset(Capability)),
        completion_notice(job, [point], None, capabilities=frozenset(Capability)),
        event_update(job.id, JobEvent(id="e1", job_id=job.id, created_at=T0, message=event)),
        approval_card(approval),
        approval_card(replace(approval, status=ApprovalStatus.APPROVED, decided_by=requester)),
    ]
    for card in cards:
        check_slack(card)
        check_discord(card)
    notice = cards[1]
    assert notice.mentions == (requester,)
    assert refs_of([notice.title]) == (UserRef(user_id=requester),)


def test_console_shows_a_mention_as_at_id_and_text_as_written() -> None:
    reply = Reply(
        title=rich(UserRef(user_id="U1"), " ftjob-1 succeeded"),
        lines=("<@U2> stays text",),
        table=Table(headers=("channel", "by"), rows=((rich(ChannelRef(channel_id="C1")), "x"),)),
        footer=rich("started by ", UserRef(user_id="U1")),
    )
    text = render_text(reply)
    assert text.splitlines()[0] == "• @U1 ftjob-1 succeeded"
    assert "<@U2> stays text" in text
    assert "— started by @U1" in text
    assert render_table(reply.table or Table(headers=(), rows=()))[2].split() == ["#C1", "x"]
    assert plain(reply.title) == "@U1 ftjob-1 succeeded"


FORMULA = ("=", "+", "-", "@", "\t", "\r")


@settings(max_examples=200, deadline=None)
@given(question=hostile, reference=hostile, answer=hostile, error=hostile)
def test_compare_csv_cells_never_start_a_formula(
    question: str, reference: str, answer: str, error: str
) -> None:
    """OWASP's rule: a text cell starting with = + - @ tab or CR gets a leading '."""
    model = "=cmd|' /C calc'!A0"
    case = Case(index=1, prompt=(ChatMessage(role="user", content=question),), reference=reference)
    run = CompareRun(
        id="cmp-1",
        model_a=model,
        model_b="gpt-4.1-mini",
        source="valid",
        cases=(case,),
        answers={
            (1, model): Answer(content=answer, error=error),
            (1, "gpt-4.1-mini"): Answer(content=answer, latency_s=0.5),
        },
    )
    rows = list(csv.reader(io.StringIO(results_csv(run).decode("utf-8-sig"), newline="")))
    assert len(rows) == 3
    for row, (model_name, shown_error) in zip(
        rows[1:], ((model, error), ("gpt-4.1-mini", "")), strict=True
    ):
        written = (question, reference, model_name, answer, shown_error)
        cells = (row[1], row[2], row[3], row[4], row[11])
        for cell, text in zip(cells, written, strict=True):
            assert cell == (f"'{text}" if text.startswith(FORMULA) else text), row
        assert row[0] == "1"
        assert row[10] == ("0.000" if model_name == model else "0.500")
