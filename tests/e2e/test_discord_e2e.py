"""A whole job life on Discord: the real discord.py client, the fake gateway, the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.infra.dispatcher import Dispatcher
from tests.bot.discord.harness import discord_dispatcher, running_adapter
from tests.e2e.job_messages import is_card, is_notice
from tests.fakes.discord_api import EPHEMERAL, GUILD_A, GUILD_B, Attachment, FakeDiscord
from tests.world import World, chat_example, world

pytestmark = [pytest.mark.e2e]
MODEL = "gpt-4.1-mini-2025-04-14"
USER = "500000000000000001"
Json = dict[str, Any]


async def settle(w: World, dispatcher: Dispatcher, seconds: float, step: float = 5.0) -> None:
    """Move the manual clock; the watcher sweeps and the dispatcher posts through Discord."""
    elapsed = 0.0
    while elapsed < seconds:
        w.clock.advance(step)
        elapsed += step
        await w.watcher.sweep()
        while (await dispatcher.tick()).sent:
            pass


def title(message: Json) -> str:
    return str(message["embeds"][0]["title"])


def card_of(fake: FakeDiscord, job_id: str) -> Json:
    (card,) = [m for m in fake.channel_messages(GUILD_A.channel_id) if is_card(m, job_id)]
    return card


async def start_job(fake: FakeDiscord, seed: int = 1) -> str:
    # Distinct seeds: an identical start within minutes is answered with the first job.
    options = {"file": "support", "model": MODEL, "epochs": 1, "seed": seed}
    iid = await fake.command("start", options)
    answer = await fake.wait_followup(iid)
    assert answer["flags"] & EPHEMERAL, "the start's answer is the requester's receipt"
    started = title(answer)
    assert started.startswith("Started ftjob-")
    return started.removeprefix("Started ")


async def confirm_cancel(fake: FakeDiscord, card: Json, job_id: str, guild: Any = GUILD_A) -> Json:
    iid = await fake.press(card, f"ftbot:cancel:{job_id}", guild=guild)
    await fake.wait_callback(iid)
    prompt = fake.response_message(iid)
    iid = await fake.press(prompt, f"ftbot:cancel!:{job_id}", guild=guild)
    return await fake.wait_followup(iid)


async def test_job_life_on_discord_with_a_restart(tmp_path: Path) -> None:
    data = ("\n".join(chat_example(i) for i in range(20)) + "\n").encode()
    async with FakeDiscord() as fake, world(tmp_path) as w:
        async with running_adapter(fake, w, tmp_path) as first:
            dispatcher = discord_dispatcher(w, first)
            iid = await fake.command(
                "upload", {"file": Attachment("support.jsonl", data), "alias": "support"}
            )
            assert title(await fake.wait_followup(iid)) == "Uploaded support.jsonl as 'support'"
            assert fake.requests  # the attachment came from the fake's CDN route

            done = await start_job(fake)
            # The card comes with the job: one dispatch, no sweep and no poll yet, and it is
            # in the channel with Cancel on it; the start's answer was the requester's only.
            await dispatcher.tick()
            opened = card_of(fake, done)
            assert opened["components"][0]["components"][0]["custom_id"] == f"ftbot:cancel:{done}"
            await settle(w, dispatcher, 150)

            # One card, edited in place as the job moved, now succeeded.
            card = card_of(fake, done)
            assert card["_edits"] >= 2
            # The card leads with the job's human name (its file, base model and provider).
            assert title(card) == f"support on {MODEL} (sandbox) · succeeded"
            assert card["components"][0]["components"][0]["custom_id"] == f"ftbot:chart:{done}"
            # Metric updates went to the card's thread (its id is the card's id).
            assert fake.threads[card["id"]]["parent_id"] == GUILD_A.channel_id
            in_thread = fake.channel_messages(card["id"])
            assert any("train loss" in title(m) for m in in_thread)
            # The completion is a new message that mentions the requester, with the chart.
            (completion,) = [
                m
                for m in fake.channel_messages(GUILD_A.channel_id)
                if is_notice(m, done, "succeeded")
            ]
            assert completion["content"] == f"<@{USER}>"
            assert completion["_allowed_mentions"]["users"] == [int(USER)]
            assert completion["embeds"][0]["image"]["url"].startswith("attachment://")
            assert list(completion["_files"]) == [f"{done}-loss.png"]

            # Chart by button, answered privately with the PNG.
            iid = await fake.press(card, f"ftbot:chart:{done}")
            chart = await fake.wait_followup(iid)
            assert chart["flags"] & EPHEMERAL
            assert list(chart["_files"]) == [f"{done}-loss.png"]

            running = await start_job(fake, seed=2)
            await settle(w, dispatcher, 30)
            live = card_of(fake, running)
            assert live["components"][0]["components"][0]["custom_id"] == f"ftbot:cancel:{running}"

        # A new client instance: the card's persistent button still works.
        async with running_adapter(fake, w, tmp_path) as second:
            assert not second.synced  # same command payload: no sync after a restart
            dispatcher = discord_dispatcher(w, second)

            # Guild B cannot touch guild A's job, by button or by command.
            refused = await confirm_cancel(fake, live, running, guild=GUILD_B)
            assert title(refused).startswith("No job")
            iid = await fake.command("inspect", {"job": running}, guild=GUILD_B)
            assert title(await fake.wait_followup(iid)).startswith("No job")

            cancelled = await confirm_cancel(fake, live, running)
            assert title(cancelled).startswith(f"Cancelling {running}")
            await settle(w, dispatcher, 20)
            assert title(fake.messages[live["id"]]).endswith(" · cancelled")

        # No message was posted twice and nothing is left open (filterwarnings=error).
        nonces = [m["nonce"] for m in fake.messages.values() if m.get("nonce")]
        assert len(nonces) == len(set(nonces))


async def test_another_guild_learns_nothing_and_members_need_roles(tmp_path: Path) -> None:
    from handlers.model import Role
    from tests.fakes.discord_api import MEMBER_PERMS

    data = ("\n".join(chat_example(i) for i in range(20)) + "\n").encode()
    async with (
        FakeDiscord() as fake,
        world(tmp_path, default_role=Role.VIEWER) as w,
        running_adapter(fake, w, tmp_path),
    ):
        iid = await fake.command(
            "upload", {"file": Attachment("support.jsonl", data), "alias": "support"}
        )
        await fake.wait_followup(iid)
        iid = await fake.command("team budget", {"approve_over": 0.000001})
        assert title(await fake.wait_followup(iid)) == "Budget updated"
        iid = await fake.command("start", {"file": "support", "model": MODEL, "epochs": 1})
        waiting = await fake.wait_followup(iid)
        assert title(waiting).startswith("Waiting for an admin")
        approval_id = next(
            w_ for w_ in str(waiting["embeds"][0]).split() if w_.startswith("apr-")
        ).rstrip(":")
        iid = await fake.command("team budget", {"approve_over": 0.0})
        await fake.wait_followup(iid)
        job_id = await start_job(fake)

        async def answer(sub: str, values: dict[str, Any], **kw: Any) -> str:
            iid = await fake.command(sub, values, **kw)
            return title(await fake.wait_followup(iid))

        # An admin of guild B, with guild A's ids, gets what a made-up id gets.
        for sub, key, foreign, made_up in (
            ("inspect", "job", job_id, "ftjob-madeup000000000000"),
            ("events", "job", job_id, "ftjob-madeup000000000000"),
            ("cancel", "job", job_id, "ftjob-madeup000000000000"),
            ("chart", "job", job_id, "ftjob-madeup000000000000"),
            ("rm-file", "alias", "support", "nosuchalias"),
            ("team approve", "request", approval_id, "apr-000000000000"),
        ):
            got = await answer(sub, {key: foreign}, guild=GUILD_B)
            expected = await answer(sub, {key: made_up}, guild=GUILD_B)
            assert got.replace(foreign, "<ID>") == expected.replace(made_up, "<ID>"), sub
        assert await answer("list", {}, guild=GUILD_B) == "No jobs."
        iid = await fake.autocomplete("inspect", {"job": ""}, "job", guild=GUILD_B)
        callback = await fake.wait_callback(iid)
        assert job_id not in str(callback.json)

        # In guild A, a member without Manage Server is a viewer: buttons check roles too.
        refused = await answer("cancel", {"job": job_id}, perms=MEMBER_PERMS)
        assert "needs the operator role" in refused
        assert await answer("inspect", {"job": job_id}, perms=MEMBER_PERMS) == f"Job {job_id}"
        assert "needs the admin role" in await answer("team audit", {}, perms=MEMBER_PERMS)
        stored = await w.store.get_job(f"discord:{GUILD_A.id}", job_id)
        assert stored is not None
        assert stored.state.status != "cancelled"
