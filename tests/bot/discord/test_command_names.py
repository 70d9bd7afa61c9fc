"""On Discord every hint and help line names the command as Discord has it (`/finetune team
access`, typed `name:value` slots) with the member's real mention, and help's usage lines are
the registered slots, through the real discord.py client against the fake Discord."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord.adapter import DiscordAdapter
from handlers.requests import SPECS
from tests.bot.discord.harness import running_adapter
from tests.fakes.discord_api import MEMBER_PERMS, FakeDiscord
from tests.world import World, world

Json = dict[str, Any]
MODEL = "gpt-4.1-mini-2025-04-14"
MEMBER = "777000000000000777"


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


def _text(message: Json) -> str:
    """Title and description of the first embed, markdown escapes and bold removed."""
    embed = message["embeds"][0]
    raw = f"{embed.get('title', '')}\n{embed.get('description', '')}"
    return re.sub(r"\\(.)", r"\1", raw).replace("**", "").replace("\u200b", "")


def _registered(fake: FakeDiscord) -> dict[str, tuple[str, Json]]:
    """Each synced subcommand: the path it is typed under and its payload."""
    (group,) = fake.commands["global"]
    found: dict[str, tuple[str, Json]] = {}
    for option in group["options"]:
        if option["type"] == 2:
            found |= {o["name"]: (f"/finetune {option['name']}", o) for o in option["options"]}
        else:
            found[option["name"]] = ("/finetune", option)
    return found


async def _ask(env: Env, sub: str, values: Json | None = None, **kw: Any) -> str:
    iid = await env.fake.command(sub, values or {}, **kw)
    return _text(await env.fake.wait_followup(iid))


async def test_a_refusal_names_the_team_command_and_the_members_mention(env: Env) -> None:
    text = await _ask(env, "team budget", {"cap": 100}, user_id=MEMBER, perms=MEMBER_PERMS)
    assert "/finetune team budget needs the admin role" in text
    assert f"/finetune team access grant <@{MEMBER}> admin" in text
    assert "@you" not in text
    assert "/finetune access grant" not in text


async def test_help_lists_each_command_where_discord_has_it(env: Env) -> None:
    text = await _ask(env, "help")
    for name, (path, _) in _registered(env.fake).items():
        assert f"{path} {name} — {SPECS[name].summary}" in text, name
    assert "/finetune access —" not in text
    assert "/finetune team access —" in text
    assert "Details of one command: /finetune help command:COMMAND" in text


async def test_every_usage_line_is_the_registered_slots(env: Env) -> None:
    """Help's usage line of every command, as Discord shows it, against the payload synced
    to Discord: the same path, the same options in the same order, brackets exactly on the
    optional ones, the same numeric bounds."""
    for name, (path, payload) in _registered(env.fake).items():
        text = await _ask(env, "help", {"command": name})
        (usage,) = [line for line in text.splitlines() if line.startswith("Usage: ")]
        head = f"Usage: {path} {name}"
        assert usage.startswith(head), (name, usage)
        slots = re.findall(r"(\[?)([a-z_]+):(\S+?)\]?(?=\s|$)", usage.removeprefix(head))
        options = payload.get("options", [])
        assert [s[1] for s in slots] == [o["name"] for o in options], (name, usage)
        for (bracket, option_name, shown), option in zip(slots, options, strict=True):
            required_by_value = SPECS[name].option(option_name).required_when  # type: ignore[union-attr]
            assert (bracket == "") == (option.get("required", False) or bool(required_by_value))
            bounds = re.fullmatch(r"([\d.]+)-([\d.]+)", shown)
            if bounds is not None:  # a range the usage shows is the one Discord enforces
                shown_bounds = (float(bounds[1]), float(bounds[2]))
                assert shown_bounds == (option["min_value"], option["max_value"]), name
            if option["type"] == 11:
                assert shown == "(attach", (name, usage)


async def test_help_examples_are_written_in_slots(env: Env) -> None:
    text = await _ask(env, "help", {"command": "access"})
    assert text.splitlines()[0] == "/finetune team access"
    assert "/finetune team access action:grant user:@dana role:operator" in text
    assert "access grant @dana operator" not in text
    tried = await _ask(env, "help", {"command": "try"})
    assert "prompt:Refund policy? system:Answer in one line" in tried  # the prompt ends there


async def test_dataset_shows_model_as_from_logs_needs_it(env: Env) -> None:
    text = await _ask(env, "help", {"command": "dataset"})
    assert "Usage: /finetune dataset action:from-logs model:MODEL [meta:" in text
    iid = await env.fake.command("dataset", {"action": "from-logs"})
    callback = await env.fake.wait_callback(iid)  # refused before deferring: nothing ran
    refused = _text(callback.json["data"])
    assert "Missing model for dataset." in refused
    assert "Usage: /finetune dataset action:from-logs model:MODEL" in refused
