"""Read-only answers go to the asker alone, with a Share in channel button that posts the same
answer publicly once, for the asker's own team only; notices and the job card stay public."""

from __future__ import annotations

from pathlib import Path

from handlers.actions import button_request
from handlers.replies import Reply, Tone, Visibility, plain
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"
READ_ONLY = (
    "/finetune list",
    "/finetune inspect {job}",
    "/finetune events {job}",
    "/finetune files",
    "/finetune models",
    "/finetune budget",
    "/finetune access list",
)


def _share_of(reply: Reply) -> str:
    (share,) = [b for b in reply.buttons if b.action == "share"]
    assert share.label == "Share in channel"
    return share.value


async def test_read_only_answers_are_private_and_shared_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        who = actor()
        await w.run(f"/finetune upload {write_dataset(tmp_path / 't.jsonl')} alias=train", who)
        started = await w.run(f"/finetune start file=train model={MODEL}", who)
        assert "Started" in plain(started.title), started
        job = plain(started.title).split()[-1]
        await w.settle(seconds=60)
        for line in READ_ONLY:
            reply = await w.run(line.format(job=job), who)
            assert reply.tone is not Tone.ERROR, (line, reply)
            assert reply.visibility is Visibility.EPHEMERAL, line
            token = _share_of(reply)
            shared = await w.service.handle(button_request("share", token), who)
            assert shared.visibility is Visibility.PUBLIC, line
            assert plain(shared.title) == plain(reply.title), line
            assert shared.table == reply.table, line
            assert shared.fields == reply.fields, line
            assert not [b for b in shared.buttons if b.action == "share"]
            assert "shared by @U1" in plain(shared.footer)
            again = await w.service.handle(button_request("share", token), who)
            assert again.tone is Tone.ERROR, line
            assert "shared already" in plain(again.title), line
        # The watcher's card and notices are for everyone.
        assert w.notifier.posts
        assert all(p.reply.visibility is Visibility.PUBLIC for p in w.notifier.posts)


async def test_a_share_id_works_only_for_its_own_team_and_asker(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        token = _share_of(await w.run("/finetune files", actor()))
        for stranger in (actor(workspace="T2"), actor(user="U9")):
            refused = await w.service.handle(button_request("share", token), stranger)
            assert refused.tone is Tone.ERROR
            assert "shared already" in plain(refused.title)
        # The strangers' presses did not use it up.
        shared = await w.service.handle(button_request("share", token), actor())
        assert shared.visibility is Visibility.PUBLIC


async def test_errors_and_changes_offer_no_share(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        missing = await w.run("/finetune inspect ftjob-nope", actor())
        assert missing.tone is Tone.ERROR
        assert not [b for b in missing.buttons if b.action == "share"]
        subscribed = await w.run("/finetune subscribe all", actor())
        assert subscribed.visibility is Visibility.PUBLIC
