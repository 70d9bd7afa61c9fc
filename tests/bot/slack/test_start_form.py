"""Slack's start and setup modals draw the fields the core makes from the profiles."""

from __future__ import annotations

from bot.chat.slack.modal import start_view, training_probe
from bot.chat.slack.setup_modal import setup_view
from handlers.profile import ProviderProfile
from handlers.requests import form_fields
from tests.narrow_family import HOSTED, NARROW, PRIVATE, WIDE


def _inputs(profile: ProviderProfile) -> dict[str, str]:
    view = start_view(channel_id="C1", files=[], fields=form_fields(profile))
    return {
        b["block_id"]: b["hint"]["text"]
        for b in view["blocks"]
        if b.get("type") == "input" and b["element"]["type"] == "plain_text_input"
    }


def test_the_modal_offers_the_profiles_options_with_its_ranges() -> None:
    narrow = _inputs(NARROW)
    assert [k for k in narrow if k not in ("file", "validation")] == ["epochs", "lr", "suffix"]
    assert "1-5" in narrow["epochs"]
    assert "up to 8 characters" in narrow["suffix"]
    wide = _inputs(WIDE)
    assert "seed" in wide
    assert "suffix" not in wide
    assert "1-100" in wide["epochs"]


def test_the_probe_keeps_the_options_that_passed_while_others_failed() -> None:
    state = {
        "values": {
            "epochs": {"epochs": {"type": "plain_text_input", "value": "abc"}},
            "suffix": {"suffix": {"type": "plain_text_input", "value": "x" * 70}},
        }
    }
    probe = training_probe(state)
    assert probe is not None
    assert probe.suffix == "x" * 70
    assert probe.n_epochs is None


def test_the_setup_modal_shows_the_account_kinds_fields() -> None:
    view = setup_view(channel_id="C1", accounts={"hosted": HOSTED, "private": PRIVATE})
    inputs = {
        b["block_id"]: b for b in view["blocks"] if b["element"]["type"] == "plain_text_input"
    }
    assert list(inputs) == ["api_key", "endpoint", "api_version"]
    assert inputs["endpoint"]["label"]["text"] == "Cluster URL"
    assert inputs["endpoint"]["optional"] is True
    assert "https://HOST:8443" in inputs["endpoint"]["hint"]["text"]
    only_key = setup_view(channel_id="C1", accounts={"hosted": HOSTED})
    assert [b["block_id"] for b in only_key["blocks"]] == ["provider", "api_key"]
