"""Core tests: a Reply survives the trip through JSON that the outbox stores it in."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from handlers.codec import reply_from_dict, reply_to_dict
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    ChannelRef,
    Field,
    Reply,
    Table,
    Tone,
    UserRef,
    Visibility,
    rich,
)

FULL = Reply(
    title="Job ftjob-1 succeeded",
    lines=("Model: ft:gpt-4o-mini:acme", "Took 12 min"),
    fields=(
        Field(name="Status", value="succeeded"),
        Field(name="Tokens", value="1,234", inline=False),
    ),
    table=Table(headers=("step", "loss"), rows=(("1", "2.0"), ("2", "1.5"))),
    tone=Tone.SUCCESS,
    visibility=Visibility.EPHEMERAL,
    buttons=(
        Button(
            label="Cancel",
            action="cancel",
            value="ftjob-1",
            style=ButtonStyle.DANGER,
            confirm="Really?",
        ),
        Button(label="Status", action="status", value="ftjob-1"),
    ),
    attachments=(
        Attachment(
            filename="loss.png", content=b"\x89PNG\x00\xff", mime_type="image/png", title="Loss"
        ),
    ),
    mentions=("U1",),
    footer="sandbox",
)


def test_full_reply_round_trips_through_json() -> None:
    encoded = json.dumps(reply_to_dict(FULL))
    assert reply_from_dict(json.loads(encoded)) == FULL


def test_minimal_dict_takes_defaults() -> None:
    assert reply_from_dict({"title": "hi"}) == Reply(title="hi")


@given(
    title=st.text(),
    lines=st.lists(st.text(), max_size=3).map(tuple),
    content=st.binary(max_size=64),
)
def test_any_text_and_bytes_round_trip(title: str, lines: tuple[str, ...], content: bytes) -> None:
    reply = Reply(
        title=title,
        lines=lines,
        attachments=(Attachment(filename="f", content=content, mime_type="application/x"),),
    )
    assert reply_from_dict(json.loads(json.dumps(reply_to_dict(reply)))) == reply


MENTIONING = Reply(
    title=rich(UserRef(user_id="U1"), " ftjob-1 succeeded"),
    lines=(rich("Cancelled by ", UserRef(user_id="U2"), "."), "<@U3> is text"),
    fields=(Field(name="Set by", value=rich(UserRef(user_id="U2"))),),
    table=Table(headers=("channel",), rows=((rich(ChannelRef(channel_id="C1")),), ("x",))),
    mentions=("U1",),
    footer=rich("base m · started by ", UserRef(user_id="U1")),
)


def test_structured_mentions_round_trip_and_text_stays_text() -> None:
    encoded = reply_to_dict(MENTIONING)
    assert encoded["v"] == 2
    assert reply_from_dict(json.loads(json.dumps(encoded))) == MENTIONING
    assert reply_from_dict(json.loads(json.dumps(encoded))).lines[1] == "<@U3> is text"


def test_a_version_1_row_mentions_only_the_members_it_notified() -> None:
    """Rows written before mentions were structured still wait in the outbox after an
    upgrade: their notified members become mentions, any other markup is text."""
    row = {
        "v": 1,
        "title": "<@U1> ftjob-1 failed: <@U9> <!channel>",
        "lines": ["no mention"],
        "mentions": ["U1"],
    }
    reply = reply_from_dict(row)
    assert reply.title == rich(UserRef(user_id="U1"), " ftjob-1 failed: <@U9> <!channel>")
    assert reply.lines == ("no mention",)
    assert reply_from_dict({**row, "mentions": []}).title == row["title"]
