"""The `settings` command: a team sees and sets its own metric-update interval."""

from __future__ import annotations

from pathlib import Path

from handlers.replies import Tone
from tests.world import actor, world, write_dataset

MODEL = "gpt-4.1-mini-2025-04-14"


async def test_settings_show_and_change_the_metric_interval(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        shown = await w.run("settings", actor())
        assert shown.title == "Team settings"
        assert shown.fields[0].value == "at most one per job every 60 s"
        changed = await w.run("settings metric_interval=120", actor())
        assert changed.tone is Tone.SUCCESS
        assert changed.fields[0].value == "at most one per job every 120 s"
        team = await w.store.get_team(actor().team_id)
        assert team is not None
        assert team.metric_interval_seconds == 120
        other = await w.run("settings", actor(workspace="T2"))
        assert other.fields[0].value == "at most one per job every 60 s", "per team"
        assert (await w.run("settings interval=0", actor())).fields[0].value == "every poll"


async def test_bad_interval_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        for line in ("settings metric_interval=-1", "settings metric_interval=abc"):
            reply = await w.run(line, actor())
            assert reply.tone is Tone.ERROR, line
        team = await w.store.get_team(actor().team_id)
        assert team is None or team.metric_interval_seconds == 60


async def test_the_watcher_throttles_metric_posts_by_the_team_setting(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        person = actor()
        path = write_dataset(tmp_path / "train.jsonl")
        await w.run(f"upload {path} alias=train", person)
        await w.run("settings metric_interval=3600", person)
        await w.run(f"start file=train model={MODEL} epochs=1", person)
        await w.settle(seconds=200)
        metric_posts = [k for k in w.notifier.dedupe_keys() if ":metric:" in k]
        assert len(metric_posts) == 1
