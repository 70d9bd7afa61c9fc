"""Discord rendering: Reply -> embed, files, persistent buttons and mentions (pure)."""

from __future__ import annotations

import re
from datetime import timedelta

import discord

from bot.chat.discord.buttons import JobButton, custom_id
from bot.chat.discord.render import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    STATUS_COLOURS,
    TONE_COLOURS,
    page_count,
    render,
    render_embed,
    render_view,
)
from handlers.cards import completion_notice, job_card
from handlers.model import ChannelAddress, Job, JobState, MetricPoint, Platform
from handlers.profile import Capability, JobStatus
from handlers.replies import Attachment, Button, ButtonStyle, Field, Reply, Table, Tone
from tests.fakes.clock import T0

EVERY = frozenset(Capability)


def _job(status: str = "running", requester: str | None = "42") -> Job:
    state = JobState(
        id="ftjob-abc123",
        model="gpt-4.1-mini-2025-04-14",
        status=JobStatus(status),
        created_at=T0,
        training_file="file-1",
        fine_tuned_model="ft:gpt-4.1-mini:acme::x1" if status == "succeeded" else None,
        trained_tokens=1234 if status == "succeeded" else None,
    )
    return Job(
        team_id="discord:1",
        state=state,
        channel=ChannelAddress(platform=Platform.DISCORD, workspace_id="1", channel_id="2"),
        requester_id=requester,
    )


def test_job_card_embed_has_status_colour_fields_and_footer_mention_in_small_print() -> None:
    point = MetricPoint(step=6, total_steps=12, train_loss=0.5, train_accuracy=0.8)
    reply = job_card(_job(), point, T0 + timedelta(minutes=3), capabilities=EVERY)
    embed = render_embed(reply)
    # The human name leads (training file, base model); the id is a field of its own.
    assert embed.title == "file-1 on gpt-4.1-mini-2025-04-14 · running"
    assert embed.colour == STATUS_COLOURS["running"]
    names = [f.name for f in embed.fields]
    assert names[:5] == ["Status", "Job", "Model", "Progress", "Train loss"]
    assert embed.fields[1].value == "ftjob-abc123"
    progress = embed.fields[3]
    assert progress.inline is False
    assert "50%" in (progress.value or "")
    assert embed.fields[0].inline is True
    # A footer shows <@id> raw, so a footer with a mention moves to the description.
    assert embed.footer.text is None
    assert embed.description is not None
    assert embed.description.startswith("-# base ")
    assert "<@42>" in embed.description


def test_cancelled_is_grey_and_errors_are_red() -> None:
    cancelled = job_card(_job("cancelled", requester=None), None, T0, capabilities=EVERY)
    assert render_embed(cancelled).colour == STATUS_COLOURS["cancelled"]
    assert render_embed(cancelled).footer.text == "base gpt-4.1-mini-2025-04-14"
    assert render_embed(Reply(title="x", tone=Tone.ERROR)).colour == TONE_COLOURS[Tone.ERROR]
    assert render_embed(Reply(title="x", tone=Tone.SUCCESS)).colour == discord.Colour.green()


def test_card_buttons_are_persistent_dynamic_items_carrying_action_and_job() -> None:
    reply = job_card(_job(), None, T0, capabilities=EVERY)
    view = render_view(reply.buttons)
    assert view is not None
    assert view.timeout is None
    items = [c for c in view.children if isinstance(c, JobButton)]
    assert [(b.action, b.value) for b in items] == [
        ("cancel", "ftjob-abc123"),
        ("pause", "ftjob-abc123"),
        ("inspect", "ftjob-abc123"),
        ("chart", "ftjob-abc123"),
    ]
    payload = view.to_components()
    buttons = payload[0]["components"]
    assert buttons[0]["custom_id"] == "ftbot:cancel:ftjob-abc123"
    assert buttons[0]["style"] == discord.ButtonStyle.danger.value
    assert [b["label"] for b in buttons] == ["Cancel", "Pause", "Refresh", "Chart"]
    assert custom_id("cancel", "ftjob-abc123", confirmed=True) == "ftbot:cancel!:ftjob-abc123"


def test_buttons_wrap_rows_and_unfit_ids_are_dropped() -> None:
    buttons = [Button(label=f"b{i}", action="inspect", value=f"ftjob-{i}") for i in range(7)]
    buttons.append(Button(label="long", action="inspect", value="x" * 120))
    buttons.append(Button(label="odd", action="inspect", value="has space"))
    view = render_view(buttons)
    assert view is not None
    rows = view.to_components()
    assert [len(r["components"]) for r in rows] == [5, 2]
    assert render_view([]) is None
    assert render_view([Button(label="x", action="inspect", value="bad id")]) is None
    assert Button(label="x", action="a", value="b", style=ButtonStyle.PRIMARY).style


def test_a_small_table_is_a_monospace_block_at_the_end_of_the_description() -> None:
    rows = tuple((f"ftjob-{i:04d}", "running", "gpt-4.1-mini") for i in range(5))
    reply = Reply(
        title="5 jobs",
        lines=("newest first",),
        table=Table(headers=("id", "status", "model"), rows=rows),
    )
    text = render(reply).embed.description or ""
    assert text.startswith("newest first\n```\nid")
    assert text.endswith("```")
    assert "ftjob-0000  running" in text


def test_a_long_table_continues_in_embeds_and_pages_of_whole_rows() -> None:
    rows = tuple((f"ftjob-{i:04d}", "running", "gpt-4.1-mini") for i in range(500))
    reply = Reply(
        title="500 jobs",
        lines=("newest first",),
        table=Table(headers=("id", "status", "model"), rows=rows),
    )
    pages = page_count(reply)
    assert pages > 1
    shown = []
    for page in range(pages):
        message = render(reply, page=page, more_token="t0")
        assert sum(len(e) for e in message.embeds) <= EMBED_TOTAL_MAX
        for embed in message.embeds:
            assert len(embed.description or "") <= DESCRIPTION_MAX
            shown += re.findall(
                r"^ftjob-\d{4}  running  gpt-4\.1-mini$", embed.description or "", re.M
            )
        more = [c for c in (message.view.children if message.view else [])]
        assert len(more) == (1 if page + 1 < pages else 0)
    assert shown == [f"ftjob-{i:04d}  running  gpt-4.1-mini" for i in range(500)]


def test_attachment_becomes_file_and_embed_image() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    reply = Reply(
        title="chart",
        attachments=(Attachment(filename="ftjob-1 loss.png", content=png, mime_type="image/png"),),
    )
    rendered = render(reply)
    assert rendered.embed.image.url == "attachment://ftjob-1_loss.png"
    assert [f.filename for f in rendered.files] == ["ftjob-1_loss.png"]
    assert rendered.files[0].fp.read() == png


def test_completion_mentions_the_requester_and_only_them() -> None:
    reply = completion_notice(
        _job("succeeded"),
        [MetricPoint(step=12, total_steps=12, train_loss=0.3)],
        b"png",
        capabilities=EVERY,
    )
    rendered = render(reply)
    assert rendered.content == "<@42>"
    assert rendered.embed.title is not None
    assert "<@" not in rendered.embed.title
    assert rendered.embed.title.startswith("file-1 on gpt-4.1-mini-2025-04-14 succeeded")
    allowed = rendered.allowed_mentions.to_dict()
    assert allowed["users"] == [42]
    assert allowed["parse"] == []
    plain = render(Reply(title="hi"))
    assert plain.content is None
    assert plain.allowed_mentions.to_dict()["parse"] == []


def test_limits_are_respected() -> None:
    fields = tuple(Field(name="n" * 300, value="v" * 2000) for _ in range(40))
    reply = Reply(title="t" * 400, lines=("l" * 5000,), fields=fields, footer="f" * 3000)
    embed = render_embed(reply)
    assert len(embed.title or "") == 256
    assert len(embed.fields) <= 25
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    assert len(embed) <= EMBED_TOTAL_MAX
