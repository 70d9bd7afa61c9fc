"""The real discord.py client over loopback: commands, defer, autocomplete, buttons, sync."""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.chat import tempfiles
from bot.chat.discord.adapter import DiscordAdapter, parse_guild_ids
from bot.providers.sandbox.provider import SandboxProvider
from handlers.errors import ConfigError
from handlers.model import ChannelAddress, JobState, Platform
from handlers.requests import SPECS
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import (
    EPHEMERAL,
    GUILD_A,
    GUILD_B,
    MEMBER_PERMS,
    Attachment,
    FakeDiscord,
)
from tests.world import World, chat_example, world

MODEL = "gpt-4.1-mini-2025-04-14"
Json = dict[str, Any]


@dataclass
class Env:
    fake: FakeDiscord
    w: World
    adapter: DiscordAdapter


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with (
        FakeDiscord() as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        yield Env(fake, w, adapter)


def dataset(n: int = 12) -> bytes:
    return ("\n".join(chat_example(i) for i in range(n)) + "\n").encode()


def embed(message: Json) -> Json:
    result: Json = message["embeds"][0]
    return result


async def upload(env: Env, alias: str = "train", guild: Any = GUILD_A) -> Json:
    iid = await env.fake.command(
        "upload",
        {"file": Attachment("train.jsonl", dataset()), "alias": alias},
        guild=guild,
    )
    return await env.fake.wait_followup(iid)


async def start(env: Env, guild: Any = GUILD_A, alias: str = "train") -> str:
    iid = await env.fake.command(
        "start", {"file": alias, "model": MODEL, "epochs": 2}, guild=guild
    )
    message = await env.fake.wait_followup(iid)
    title = embed(message)["title"]
    assert title.startswith("Started ftjob-"), message
    return str(title.removeprefix("Started "))


# ---------------------------------------------------------------------- sync


async def test_command_group_is_built_from_the_specs(env: Env) -> None:
    (group,) = env.fake.commands["global"]
    assert group["name"] == "finetune"
    assert group["contexts"] == [0] or group.get("dm_permission") is False
    subs: dict[str, Any] = {}
    for option in group["options"]:
        if option["type"] == 2:  # a nested group (/finetune team ...): at most 25 per group
            assert len(option["options"]) <= 25
            subs |= {o["name"]: o for o in option["options"]}
        else:
            subs[option["name"]] = option
    assert len(group["options"]) <= 25
    assert sorted(subs) == sorted(SPECS)  # one subcommand per core command
    upload_file = subs["upload"]["options"][0]
    assert (upload_file["name"], upload_file["type"], upload_file["required"]) == (
        "file",
        11,
        True,
    )
    start_opts = {o["name"]: o for o in subs["start"]["options"]}
    # The upper bounds are each provider's (its profile), checked by the core at start.
    assert start_opts["epochs"]["min_value"] == 1
    assert "max_value" not in start_opts["epochs"]
    assert start_opts["batch_size"]["min_value"] == 1
    assert [c["value"] for c in start_opts["method"]["choices"]] == ["supervised", "dpo"]
    assert start_opts["file"]["autocomplete"]
    assert start_opts["model"]["autocomplete"]
    assert start_opts["epochs"]["description"].startswith("Number of epochs")
    status = subs["list"]["options"][0]
    assert "running" in [c["value"] for c in status["choices"]]
    assert subs["list"]["options"][1]["max_value"] == 100
    assert subs["cancel"]["options"][0]["autocomplete"] is True
    assert [c["value"] for c in subs["subscribe"]["options"][0]["choices"]] == [
        "all",
        "completions",
        "failures",
    ]


async def test_identify_uses_default_intents_only(env: Env) -> None:
    identify = next(f for f in env.fake.gateway_in if f["op"] == 2)
    intents = identify["d"]["intents"]
    for privileged in (1 << 1, 1 << 8, 1 << 15):  # members, presences, message content
        assert not intents & privileged
    assert identify["d"]["token"] == "fake-token"
    assert await env.adapter.ready() == (True, "")


async def test_sync_happens_only_when_the_payload_changes(tmp_path: Path) -> None:
    async with FakeDiscord() as fake, world(tmp_path) as w:
        async with running_adapter(fake, w, tmp_path) as first:
            assert first.synced
        async with running_adapter(fake, w, tmp_path) as second:
            assert not second.synced
        assert len(fake.requests_to("PUT", r"/applications/\d+/commands")) == 1
        # Per-guild sync for development: a new scope is a new payload.
        ids = f"{GUILD_A.id},{GUILD_B.id}"
        async with running_adapter(fake, w, tmp_path, discord_guild_ids=ids) as third:
            assert third.synced
            iid = await fake.command("help")
            await fake.wait_followup(iid)
        assert set(fake.commands) == {"global", GUILD_A.id, GUILD_B.id}
        assert (tmp_path / "discord-commands.sha256").read_text().strip() == third.command_hash()


def test_guild_ids_are_checked() -> None:
    assert parse_guild_ids(" 1, 2 ,") == [1, 2]
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS"):
        parse_guild_ids("1,abc")


# ---------------------------------------------------------------------- commands


async def test_help_is_deferred_ephemeral_and_answered_privately(env: Env) -> None:
    iid = await env.fake.command("help", {"command": "start"})
    callback = await env.fake.wait_callback(iid)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    message = await env.fake.wait_followup(iid)
    assert message["flags"] & EPHEMERAL
    assert embed(message)["title"] == "/finetune start"


def _share_id(message: Json) -> str:
    ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    (share,) = [i for i in ids if i.startswith("ftbot:share:")]
    return str(share)


async def test_list_is_private_and_its_share_button_posts_it_publicly_once(env: Env) -> None:
    iid = await env.fake.command("list", {"status": "running", "limit": 5})
    callback = await env.fake.wait_callback(iid)
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}, "deferred privately"
    message = await env.fake.wait_followup(iid)
    assert message["flags"] & EPHEMERAL
    assert embed(message)["title"] == "No jobs with status running."
    share = _share_id(message)
    pressed = await env.fake.press(message, share)
    shared = await env.fake.wait_followup(pressed)
    assert not shared["flags"] & EPHEMERAL, "the channel sees it"
    assert embed(shared)["title"] == "No jobs with status running."
    assert "shared by <@500000000000000001>" in str(embed(shared))
    assert "components" not in shared or not any(
        c["custom_id"].startswith("ftbot:share:")
        for row in shared.get("components", [])
        for c in row["components"]
    )
    again = await env.fake.press(message, share)
    refused = await env.fake.wait_followup(again)
    assert refused["flags"] & EPHEMERAL
    assert "shared already" in embed(refused)["title"]
    other = await env.fake.command("files", guild=GUILD_B)
    theirs = await env.fake.wait_followup(other)
    # Guild B's private answer, its button pressed by a member of guild A: nothing shared.
    stranger = await env.fake.press(theirs, _share_id(theirs), guild=GUILD_A)
    assert "shared already" in embed(await env.fake.wait_followup(stranger))["title"]


async def test_a_costly_start_asks_for_its_start_button_which_acts_once(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path, confirm_over=0.0) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        env = Env(fake, w, adapter)
        await upload(env)
        iid = await fake.command("start", {"file": "train", "model": MODEL, "epochs": 2})
        asked = await fake.wait_followup(iid)
        assert asked["flags"] & EPHEMERAL
        assert "billed tokens" in str(embed(asked)), asked
        team = f"discord:{GUILD_A.id}"
        assert await w.store.list_jobs(team) == []
        ids = [c["custom_id"] for row in asked["components"] for c in row["components"]]
        (start_id,) = [i for i in ids if i.startswith("ftbot:confirm_start:cs-")]
        pressed = await fake.press(asked, start_id)
        started = await fake.wait_followup(pressed)
        assert embed(started)["title"].startswith("Started ftjob-"), started
        assert started["flags"] & EPHEMERAL, "the channel gets the job's card"
        again = await fake.press(asked, start_id)
        assert "nothing was started" in embed(await fake.wait_followup(again))["title"]
        assert len(await w.store.list_jobs(team)) == 1
        # The job's card leads with its human name, and times are Discord timestamps.
        (job,) = await w.store.list_jobs(team)
        card = await _post_card(env, job.id)
        assert embed(card)["title"].startswith(f"train on {MODEL} (sandbox) · ")
        assert job.id not in embed(card)["title"]
        iid = await fake.command("inspect", {"job": job.id})
        inspected = await fake.wait_followup(iid)
        created = int(job.state.created_at.timestamp())
        assert f"<t:{created}:f>" in str(embed(inspected)["fields"])


async def test_errors_come_back_private(env: Env) -> None:
    # A command answered in the channel (a cancel) whose answer is an error.
    iid = await env.fake.command("cancel", {"job": "ftjob-nope"})
    await env.fake.wait_callback(iid)
    message = await env.fake.wait_followup(iid)
    assert message["flags"] & EPHEMERAL
    assert "ftjob-nope" in embed(message)["title"]
    # The public "thinking…" message was removed so the error is not shown to the channel.
    assert env.fake.requests_to("DELETE", rf"/webhooks/\d+/token-{iid}/messages/@original")


async def test_bad_values_are_refused_before_deferring(env: Env) -> None:
    iid = await env.fake.command("start", {"file": "train", "model": MODEL, "suffix": "no way!"})
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert "suffix" in callback.json["data"]["embeds"][0]["title"]
    assert await env.w.store.list_jobs(f"discord:{GUILD_A.id}") == []


async def test_direct_messages_are_told_to_use_a_server(env: Env) -> None:
    iid = await env.fake.command("list", guild=None)
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert "server" in callback.json["data"]["embeds"][0]["title"]


async def test_actor_comes_from_the_member(env: Env) -> None:
    iid = await env.fake.command(
        "subscribe", {"filter": "failures"}, user_id="777", perms=MEMBER_PERMS
    )
    message = await env.fake.wait_followup(iid)
    assert "failures" in embed(message)["title"]
    (sub,) = await env.w.store.list_subscriptions(f"discord:{GUILD_A.id}")
    assert sub.channel == ChannelAddress(
        platform=Platform.DISCORD, workspace_id=GUILD_A.id, channel_id=GUILD_A.channel_id
    )
    assert sub.created_by == "777"


# ---------------------------------------------------------------------- upload


async def test_upload_by_attachment_downloads_to_a_temp_file_and_removes_it(env: Env) -> None:
    private = str(tempfiles.private_dir())
    before = set(glob.glob(os.path.join(private, "ftbot-*")))
    message = await upload(env)
    assert embed(message)["title"] == "Uploaded train.jsonl as 'train'"
    (stored,) = await env.w.store.list_files(f"discord:{GUILD_A.id}")
    assert (stored.alias, stored.filename, stored.examples) == ("train", "train.jsonl", 12)
    assert set(glob.glob(os.path.join(private, "ftbot-*"))) == before


async def test_upload_refuses_other_files_and_oversize_before_download(env: Env) -> None:
    iid = await env.fake.command("upload", {"file": Attachment("train.csv", b"a,b\n")})
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert "not a .jsonl" in str(callback.json)
    big = Attachment("big.jsonl", b"{}", declared_size=600 * 1024 * 1024)
    iid = await env.fake.command("upload", {"file": big})
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert "limit" in str(callback.json)
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert await env.w.store.list_files(f"discord:{GUILD_A.id}") == []


# ---------------------------------------------------------------------- autocomplete


async def _choices(env: Env, sub: str, values: Json, focused: str, guild: Any) -> list[str]:
    iid = await env.fake.autocomplete(sub, values, focused, guild=guild)
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 8
    return [c["value"] for c in callback.json["data"]["choices"]]


async def test_autocomplete_is_served_from_the_store_per_team(env: Env) -> None:
    await upload(env, alias="support-v1")
    job = await start(env, alias="support-v1")
    calls = sum(env.w.provider.calls.values())
    assert await _choices(env, "cancel", {"job": ""}, "job", GUILD_A) == [job]
    assert await _choices(env, "cancel", {"job": job[-4:]}, "job", GUILD_A) == [job]
    assert await _choices(env, "start", {"file": "supp"}, "file", GUILD_A) == ["support-v1"]
    assert await _choices(env, "start", {"model": "gpt"}, "model", GUILD_A) == ["gpt"]
    assert await _choices(env, "help", {"command": "sta"}, "command", GUILD_A) == ["start"]
    # Another guild's member sees nothing of guild A.
    assert await _choices(env, "cancel", {"job": ""}, "job", GUILD_B) == []
    assert await _choices(env, "start", {"file": ""}, "file", GUILD_B) == []
    assert sum(env.w.provider.calls.values()) == calls  # never a provider call


async def test_provider_autocompletes_the_teams_families(env: Env) -> None:
    # The world's directory serves every team the deployment's sandbox alone.
    assert await _choices(env, "start", {"provider": ""}, "provider", GUILD_A) == ["sandbox"]
    assert await _choices(env, "upload", {"provider": "sand"}, "provider", GUILD_B) == ["sandbox"]
    assert await _choices(env, "start", {"provider": "zzz"}, "provider", GUILD_A) == []


# ---------------------------------------------------------------------- start form


async def test_start_without_file_or_model_opens_a_form(env: Env) -> None:
    await upload(env)
    iid = await env.fake.command("start", {"epochs": 3, "method": "supervised"})
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 9
    modal = callback.json["data"]
    ids = [c["components"][0]["custom_id"] for c in modal["components"]]
    assert ids == ["start:file", "start:model", "start:validation", "start:epochs", "start:suffix"]
    assert modal["components"][3]["components"][0]["value"] == "3"  # the given epochs

    bad = await env.fake.submit_modal(
        modal, {"start:file": "train", "start:model": MODEL, "start:epochs": "0"}
    )
    refused = await env.fake.wait_callback(bad)
    assert refused.json["type"] == 4
    assert refused.json["data"]["flags"] == EPHEMERAL
    assert "epochs" in refused.json["data"]["embeds"][0]["title"]
    assert await env.w.store.list_jobs(f"discord:{GUILD_A.id}") == []

    # A submitted form is closed; the person opens it again.
    iid = await env.fake.command("start", {"epochs": 3})
    modal = (await env.fake.wait_callback(iid)).json["data"]
    good = await env.fake.submit_modal(modal, {"start:file": "train", "start:model": MODEL})
    assert (await env.fake.wait_callback(good)).json == {"type": 5, "data": {"flags": EPHEMERAL}}
    # The cost comes first, privately; nothing is started until the requester confirms.
    prompt = await env.fake.wait_followup(good)
    assert prompt["flags"] & EPHEMERAL
    assert "Billed tokens" in str(embed(prompt))
    assert "3 epochs" in str(embed(prompt))
    assert await env.w.store.list_jobs(f"discord:{GUILD_A.id}") == []
    buttons = {b["label"]: b["custom_id"] for b in prompt["components"][0]["components"]}
    assert set(buttons) == {"Start", "Don't start"}
    pressed = await env.fake.press(prompt, buttons["Start"])
    message = await env.fake.wait_followup(pressed)
    assert embed(message)["title"].startswith("Started ftjob-")
    fields = {f["name"]: f["value"] for f in embed(message)["fields"]}
    assert fields["Epochs"] == "3"


async def test_the_forms_start_is_its_confirmation_whatever_the_amount(tmp_path: Path) -> None:
    """The form showed the cost before its Start: a start above the confirmation amount is
    not asked about a second time."""
    async with (
        FakeDiscord() as fake,
        world(tmp_path, confirm_over=0.0) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        env = Env(fake, w, adapter)
        await upload(env)
        iid = await fake.command("start", {"epochs": 3})
        modal = (await fake.wait_callback(iid)).json["data"]
        good = await fake.submit_modal(modal, {"start:file": "train", "start:model": MODEL})
        prompt = await fake.wait_followup(good)
        buttons = {b["label"]: b["custom_id"] for b in prompt["components"][0]["components"]}
        pressed = await fake.press(prompt, buttons["Start"])
        message = await fake.wait_followup(pressed)
        assert embed(message)["title"].startswith("Started ftjob-"), message


# ---------------------------------------------------------------------- buttons and notices


async def _post_card(env: Env, job_id: str) -> Json:
    job = await env.w.store.get_job(f"discord:{GUILD_A.id}", job_id)
    assert job is not None
    assert job.channel is not None
    from handlers.cards import job_card

    card = job_card(job, None, env.w.clock.now(), capabilities=env.w.provider.profile.capabilities)
    message_id = await env.adapter.notifier.post(job.channel, card, dedupe_key=f"{job_id}:card:1")
    return env.fake.messages[message_id]


async def test_guild_b_cannot_press_guild_a_buttons(env: Env) -> None:
    await upload(env)
    job_id = await start(env)
    card = await _post_card(env, job_id)
    iid = await env.fake.press(card, f"ftbot:inspect:{job_id}", guild=GUILD_B)
    message = await env.fake.wait_followup(iid)
    assert message["flags"] & EPHEMERAL
    assert embed(message)["title"].startswith("No job")
    iid = await env.fake.press(card, f"ftbot:cancel:{job_id}", guild=GUILD_B)
    await env.fake.wait_callback(iid)
    prompt = env.fake.response_message(iid)
    iid = await env.fake.press(prompt, f"ftbot:cancel!:{job_id}", guild=GUILD_B)
    message = await env.fake.wait_followup(iid)
    assert embed(message)["title"].startswith("No job")
    job = await env.w.store.get_job(f"discord:{GUILD_A.id}", job_id)
    assert job is not None
    assert job.state.status != "cancelled"


async def test_cancel_asks_for_confirmation_then_cancels(env: Env) -> None:
    await upload(env)
    job_id = await start(env)
    card = await _post_card(env, job_id)
    iid = await env.fake.press(card, f"ftbot:cancel:{job_id}")
    callback = await env.fake.wait_callback(iid)
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    confirm = callback.json["data"]["components"][0]["components"][0]
    assert confirm["custom_id"] == f"ftbot:cancel!:{job_id}"
    job = await env.w.store.get_job(f"discord:{GUILD_A.id}", job_id)
    assert job is not None
    assert job.state.status != "cancelled"

    prompt = env.fake.response_message(iid)
    iid = await env.fake.press(prompt, confirm["custom_id"])
    assert (await env.fake.wait_callback(iid)).json == {"type": 5, "data": {"flags": EPHEMERAL}}
    message = await env.fake.wait_followup(iid)
    assert embed(message)["title"].startswith(f"Cancelling {job_id}")


async def test_notifier_posts_edits_threads_and_dedupes_by_nonce(env: Env) -> None:
    await upload(env)
    job_id = await start(env)
    card = await _post_card(env, job_id)
    assert card["components"][0]["components"][0]["custom_id"] == f"ftbot:cancel:{job_id}"
    channel = ChannelAddress(
        platform=Platform.DISCORD, workspace_id=GUILD_A.id, channel_id=GUILD_A.channel_id
    )
    from handlers.replies import Reply

    # A retried post (same dedupe key) gets the same message back, not a duplicate.
    again = await env.adapter.notifier.post(
        channel, Reply(title="ignored"), dedupe_key=f"{job_id}:card:1"
    )
    assert again == card["id"]
    assert len(card["nonce"]) == 25

    edited = await env.adapter.notifier.post(
        channel, Reply(title="edited"), dedupe_key="k2", edit_message_id=card["id"]
    )
    assert edited == card["id"]
    assert embed(env.fake.messages[card["id"]])["title"] == "edited"
    assert env.fake.messages[card["id"]]["components"] == []

    first = await env.adapter.notifier.post(
        channel, Reply(title="step 1"), dedupe_key=f"{job_id}:e1", thread_message_id=card["id"]
    )
    second = await env.adapter.notifier.post(
        channel, Reply(title="step 2"), dedupe_key=f"{job_id}:e2", thread_message_id=card["id"]
    )
    assert env.fake.messages[first]["channel_id"] == card["id"]
    assert env.fake.messages[second]["channel_id"] == card["id"]
    assert len(env.fake.requests_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    assert env.fake.threads[card["id"]]["name"] == f"{job_id} updates"

    mention = await env.adapter.notifier.post(
        channel, Reply(title="done", mentions=("555",)), dedupe_key="k3"
    )
    sent = env.fake.messages[mention]
    assert sent["content"] == "<@555>"
    assert sent["_allowed_mentions"]["users"] == [555]
    assert sent["_allowed_mentions"]["parse"] == []


async def test_a_rate_limited_post_is_retried(env: Env) -> None:
    channel = ChannelAddress(
        platform=Platform.DISCORD, workspace_id=GUILD_A.id, channel_id=GUILD_A.channel_id
    )
    from handlers.replies import Reply

    env.fake.fail_next("POST", rf"/channels/{GUILD_A.channel_id}/messages", retry_after=0.05)
    message_id = await env.adapter.notifier.post(channel, Reply(title="hi"), dedupe_key="k")
    posts = env.fake.requests_to("POST", rf"/channels/{GUILD_A.channel_id}/messages")
    assert len(posts) == 2
    assert env.fake.messages[message_id]["embeds"][0]["title"] == "hi"
    # Follow-ups (interaction webhooks) are retried the same way.
    env.fake.fail_next("POST", r"/webhooks/\d+/token-\d+", retry_after=0.05)
    iid = await env.fake.command("list")
    message = await env.fake.wait_followup(iid)
    assert embed(message)["title"] == "No jobs."


async def test_sharded_client_identifies_every_shard(tmp_path: Path) -> None:
    async with FakeDiscord(shards=2) as fake, world(tmp_path) as w:
        async with running_adapter(fake, w, tmp_path, discord_shard_count=2) as adapter:
            await fake.identified.wait()
            shards = sorted(f["d"]["shard"] for f in fake.gateway_in if f["op"] == 2)
            assert shards == [[0, 2], [1, 2]]
            for guild in (GUILD_A, GUILD_B):
                iid = await fake.command("list", guild=guild)
                assert embed(await fake.wait_followup(iid))["title"] == "No jobs."
            assert await adapter.ready() == (True, "")
        assert await adapter.ready() == (False, "not started")


async def test_shards_follow_the_gateways_recommendation(tmp_path: Path) -> None:
    # No DISCORD_SHARD_COUNT: the client asks GET /gateway/bot and runs what it recommends.
    async with (
        FakeDiscord(shards=2) as fake,
        world(tmp_path) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        await fake.identified.wait()
        shards = sorted(f["d"]["shard"] for f in fake.gateway_in if f["op"] == 2)
        assert shards == [[0, 2], [1, 2]]
        iid = await fake.command("list", guild=GUILD_B)
        assert embed(await fake.wait_followup(iid))["title"] == "No jobs."
        assert await adapter.ready() == (True, "")


async def test_the_same_interaction_delivered_twice_starts_one_job(env: Env) -> None:
    await upload(env)
    iid = await env.fake.command("start", {"file": "train", "model": MODEL, "epochs": 2})
    message = await env.fake.wait_followup(iid)
    assert embed(message)["title"].startswith("Started ftjob-")
    await env.fake.redeliver(iid)  # a gateway replay: the same interaction id again
    later = await env.fake.command("list")
    await env.fake.wait_followup(later)
    assert len(await env.w.provider.list_jobs(limit=100)) == 1
    callbacks = env.fake.requests_to("POST", rf"/interactions/{iid}/[^/]+/callback")
    assert len(callbacks) == 1, "the repeat is not answered again"


# ---------------------------------------------------------------------- stop


class _HangingSandbox(SandboxProvider):
    """A sandbox whose job reads can be held; a held read, cancelled, takes a moment to close
    what it holds (as a database connection does)."""

    gate: asyncio.Event | None = None
    waiting = 0
    closed = 0

    async def get_job(self, job_id: str) -> JobState:
        if self.gate is not None:
            self.waiting += 1
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)
                self.closed += 1
                raise
            finally:
                self.waiting -= 1
        return await super().get_job(job_id)


async def test_a_stop_cancels_and_awaits_the_interactions_still_handled(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path, provider_type=_HangingSandbox) as w,
        running_adapter(fake, w, tmp_path) as adapter,
    ):
        env = Env(fake, w, adapter)
        await upload(env)
        job_id = await start(env)
        hanging = w.provider.inner
        assert isinstance(hanging, _HangingSandbox)
        hanging.gate = asyncio.Event()
        await fake.command("inspect", {"job": job_id})
        for _ in range(200):
            if hanging.waiting:
                break
            await asyncio.sleep(0.01)
        assert hanging.waiting == 1, "the inspect is waiting on the provider"
        await adapter.stop()
        assert (hanging.waiting, hanging.closed) == (0, 1), "cancelled and awaited by the stop"
