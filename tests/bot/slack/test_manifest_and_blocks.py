"""Pure Slack rendering: Block Kit from replies, the manifest, the modal's submission reader."""

from __future__ import annotations

import subprocess
import sys

import yaml

from bot.chat.slack.blocks import escape, reply_blocks
from bot.chat.slack.manifest import manifest
from bot.chat.slack.modal import read_submission, start_view
from handlers.cards import job_buttons
from handlers.profile import Capability
from handlers.replies import Field, Reply, Table, Tone, UserRef, rich


def test_manifest_is_yaml_with_the_documented_keys() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "slack"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    data = yaml.safe_load(out)
    assert set(data) == {
        "_metadata",
        "display_information",
        "features",
        "oauth_config",
        "settings",
    }
    command = data["features"]["slash_commands"][0]
    assert command["command"] == "/finetune"
    assert len(command["usage_hint"]) <= 1000
    assert len(command["description"]) <= 2000
    assert data["settings"]["socket_mode_enabled"] is True
    assert {"commands", "chat:write", "files:read", "files:write"} <= set(
        data["oauth_config"]["scopes"]["bot"]
    )
    assert {"file_shared", "user_change"} <= set(
        data["settings"]["event_subscriptions"]["bot_events"]
    )
    assert "users:read" in data["oauth_config"]["scopes"]["bot"]  # user_change needs it


def test_http_manifest_points_every_url_at_the_events_path() -> None:
    data = manifest(http_url="https://bot.example.com/")
    url = "https://bot.example.com/slack/events"
    assert data["features"]["slash_commands"][0]["url"] == url
    assert data["settings"]["interactivity"]["request_url"] == url
    assert data["settings"]["interactivity"]["message_menu_options_url"] == url
    assert data["settings"]["event_subscriptions"]["request_url"] == url
    assert data["settings"]["socket_mode_enabled"] is False


def test_blocks_for_a_card_with_buttons_and_a_confirm() -> None:
    reply = Reply(
        title="Fine-tuning ftjob-1 · running",
        tone=Tone.INFO,
        fields=(
            Field(name="Status", value="running"),
            Field(name="Error", value="<boom> & co", inline=False),
        ),
        buttons=job_buttons("ftjob-1", "running", frozenset(Capability)),
        footer=rich("started by ", UserRef(user_id="U1"), " <@U2>"),
    )
    blocks = reply_blocks(reply)
    actions = next(b for b in blocks if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == ["ftbot_cancel", "ftbot_pause", "ftbot_inspect", "ftbot_chart"]
    assert "confirm" in actions["elements"][0]
    assert actions["elements"][0]["style"] == "danger"
    text = str(blocks)
    assert "&lt;boom&gt; &amp; co" in text
    assert "<@U1>" in text
    assert "&lt;@U2&gt;" in text, "only the structured reference is a mention"


def test_list_table_has_status_emoji() -> None:
    reply = Reply(
        title="2 job(s)",
        table=Table(
            headers=("job", "status"), rows=(("ftjob-1", "running"), ("ftjob-2", "failed"))
        ),
    )
    (table,) = [b for b in reply_blocks(reply) if b["type"] == "table"]
    status = [row[1]["elements"][0]["elements"] for row in table["rows"][1:]]
    assert status == [
        [
            {"type": "emoji", "name": "arrows_counterclockwise"},
            {"type": "text", "text": " running"},
        ],
        [{"type": "emoji", "name": "x"}, {"type": "text", "text": " failed"}],
    ]
    assert table["rows"][0] == [
        {"type": "raw_text", "text": "job"},
        {"type": "raw_text", "text": "status"},
    ]


def test_escape_keeps_no_markup() -> None:
    assert escape("<@U1> a<b> <#C1> <!here>") == "&lt;@U1&gt; a&lt;b&gt; &lt;#C1&gt; &lt;!here&gt;"


def test_modal_reads_values_and_reports_each_bad_field() -> None:
    view = start_view(channel_id="C1", files=[], fields=())
    assert view["callback_id"] == "ftbot_start"
    good = {
        "values": {
            "file": {"file": {"type": "plain_text_input", "value": "train"}},
            "model": {"ftbot_models": {"selected_option": {"value": "gpt-4.1-mini-2025-04-14"}}},
            "method": {"method": {"selected_option": {"value": "supervised"}}},
            "epochs": {"epochs": {"type": "plain_text_input", "value": "3"}},
            "lr": {"lr": {"type": "plain_text_input", "value": None}},
        }
    }
    request, errors = read_submission(good)
    assert errors == {}
    assert request is not None
    assert request.n_epochs == 3
    bad = {
        "values": {
            "epochs": {"epochs": {"type": "plain_text_input", "value": "0"}},
            "batch_size": {"batch_size": {"type": "plain_text_input", "value": "x"}},
        }
    }
    request, errors = read_submission(bad)
    assert request is None
    assert set(errors) == {"epochs", "batch_size", "file", "model"}


def test_modal_offers_the_teams_providers_default_first_when_it_has_several() -> None:
    assert "provider" not in [
        b["block_id"] for b in start_view(channel_id="C1", files=[], fields=())["blocks"]
    ]
    one = start_view(channel_id="C1", files=[], fields=(), providers=["alpha"])
    assert "provider" not in [b["block_id"] for b in one["blocks"]]
    view = start_view(channel_id="C1", files=[], fields=(), providers=["beta", "alpha"])
    first = view["blocks"][0]
    assert first["block_id"] == "provider"
    assert first["element"]["initial_option"]["value"] == "beta"
    assert [o["value"] for o in first["element"]["options"]] == ["beta", "alpha"]
    picked = {
        "values": {
            "provider": {"provider": {"selected_option": {"value": "alpha"}}},
            "file": {"file": {"type": "plain_text_input", "value": "train"}},
            "model": {"ftbot_models": {"selected_option": {"value": "gpt-4.1-mini-2025-04-14"}}},
        }
    }
    request, errors = read_submission(picked)
    assert errors == {}
    assert request is not None
    assert request.provider == "alpha"
