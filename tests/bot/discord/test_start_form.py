"""Discord's start form offers the training options of the team's provider, with its ranges:
the real discord.py client against the fake gateway, a family of its own shape."""

from __future__ import annotations

from pathlib import Path

from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import FakeDiscord
from tests.narrow_family import NarrowSandbox
from tests.world import world


async def test_the_start_form_shows_the_profiles_options_and_ranges(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as fake,
        world(tmp_path, provider_type=NarrowSandbox) as w,
        running_adapter(fake, w, tmp_path),
    ):
        opened = await fake.command("start", {})
        form = (await fake.wait_callback(opened)).json["data"]
        inputs = {
            c["custom_id"]: c
            for row in form["components"]
            for c in (row.get("components") or [row.get("component", {})])
        }
        # The narrow family's first option and its suffix; its epochs run 1-5, default 2.
        assert list(inputs) == [
            "start:file",
            "start:model",
            "start:validation",
            "start:epochs",
            "start:suffix",
        ]
        assert "1-5" in inputs["start:epochs"]["placeholder"]
        assert "default 2" in inputs["start:epochs"]["placeholder"]
        assert "up to 8 characters" in inputs["start:suffix"]["placeholder"]
