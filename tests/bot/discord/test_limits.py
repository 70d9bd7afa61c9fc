"""Every reply kind and form the bot makes, rendered by the real Discord adapter, within the
API's documented limits (bot/chat/discord/limits.py). The gallery comes from the real core on
the sandbox world (tests/bot/reply_gallery.py); the forms, the autocomplete and a paged list
go through the real discord.py client to the fake Discord, which answers 50035 Invalid Form
Body to what Discord refuses (tests/bot/render_checks.py)."""

from __future__ import annotations

from pathlib import Path

from bot.chat.discord.render import page_count
from handlers.model import Actor, Platform
from handlers.parse import parse
from handlers.replies import Reply, Table
from tests.bot.discord.harness import running_adapter
from tests.bot.render_checks import check_discord_limits, discord_pages
from tests.bot.reply_gallery import MODEL, Gallery
from tests.fakes.discord_api import GUILD_A, FakeDiscord
from tests.world import World, as_shared, world, write_dataset

USER = "500000000000000001"


def test_every_reply_kind_fits_discord(reply_gallery: Gallery) -> None:
    failures = {}
    for name, reply in reply_gallery.replies.items():
        try:
            check_discord_limits(reply)
        except AssertionError as error:
            failures[name] = str(error)[:300]
    assert not failures, failures


def test_the_100_job_list_keeps_every_model_id_whole(reply_gallery: Gallery) -> None:
    listing = reply_gallery.replies["list"]
    assert listing.table is not None
    models = [str(row[4]) for row in listing.table.rows if str(row[4]).startswith("ft:")]
    assert models
    assert len(models[0]) > 40  # the length Discord's table used to clip cells to
    lines = [
        line
        for body in discord_pages(listing)
        for e in body["embeds"]
        for line in (e.get("description") or "").splitlines()
    ]
    for model in models:
        assert sum(model in line for line in lines) == 1, model


def test_a_long_table_is_paged_not_dropped() -> None:
    rows = tuple((f"ftjob-{i:030d}", "succeeded", "x" * 80) for i in range(300))
    reply = Reply(title="jobs", table=Table(headers=("job", "status", "note"), rows=rows))
    assert page_count(reply) > 1
    check_discord_limits(reply)


def _actor(w: World) -> Actor:
    del w
    return Actor(
        platform=Platform.DISCORD,
        workspace_id=GUILD_A.id,
        channel_id=GUILD_A.channel_id,
        user_id=USER,
        is_workspace_admin=True,
    )


async def test_the_setup_form_opens_with_every_provider_family(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path),
    ):
        assert len(w.service.governance.accounts) >= 4  # every registered family's kinds
        opened = await fake.command("team setup", {})
        callback = await fake.wait_callback(opened)
        assert fake.refused == []
        assert callback.json["type"] == 9, callback.json


async def test_the_start_form_opens_with_a_long_typed_option_and_keeps_it(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path),
    ):
        long_model = "m" * 300  # Discord lets a string option hold 6000
        opened = await fake.command("start", {"model": long_model})
        callback = await fake.wait_callback(opened)
        assert fake.refused == []
        assert callback.json["type"] == 9, callback.json
        inputs = {
            c["custom_id"]: c
            for row in callback.json["data"]["components"]
            for c in (row.get("components") or [row.get("component", {})])
        }
        assert inputs["start:model"]["value"] == long_model
        assert inputs["start:model"]["max_length"] >= len(long_model)


async def test_model_autocomplete_never_echoes_more_than_a_choice_holds(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path),
    ):
        for typed in ("gpt-4.1", "g" * 100, "g" * 101, "g" * 400):
            asked = await fake.autocomplete("start", {"model": typed}, "model")
            callback = await fake.wait_callback(asked)
            assert callback.json["type"] == 8
            choices = callback.json["data"]["choices"]
            assert [c["value"] for c in choices] == ([typed] if len(typed) <= 100 else [])
        assert fake.refused == []


async def test_a_100_job_list_is_answered_in_pages_through_more(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path),
    ):
        who = _actor(w)
        train = write_dataset(tmp_path / "train.jsonl")
        await w.service.handle(as_shared(parse(f"/finetune upload {train} alias=train")), who)
        for i in range(100):
            line = f"/finetune start file=train model={MODEL} suffix=j{i}"
            await w.service.handle(parse(line), who)
        await w.settle(seconds=200)
        asked = await fake.command("list", {"limit": 100})
        first = await fake.wait_followup(asked)
        assert fake.refused == []
        more = [
            b["custom_id"]
            for row in first["components"]
            for b in row["components"]
            if b["custom_id"].startswith("ftbot:more:")
        ]
        assert len(more) == 1
        seen = "\n".join(e.get("description") or "" for e in first["embeds"])
        pages = 1
        while more:
            pressed = await fake.press(first, more[0])
            callback = await fake.wait_callback(pressed)
            assert fake.refused == []
            page = callback.json["data"]
            seen += "\n".join(e.get("description") or "" for e in page["embeds"])
            more = [
                b["custom_id"]
                for row in page.get("components") or []
                for b in row["components"]
                if b["custom_id"].startswith("ftbot:more:")
            ]
            first = fake.response_message(pressed)
            pages += 1
        assert pages > 1
        jobs = await w.store.list_jobs(who.team_id, limit=100)
        assert len(jobs) == 100
        assert [j.id for j in jobs if j.id not in seen] == []
        assert all(str(j.state.fine_tuned_model) in seen for j in jobs)
