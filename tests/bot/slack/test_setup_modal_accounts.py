"""Slack's setup modal for an account kind of several fields (Vertex AI's service account,
project, region, bucket, prefix): what it shows, and the request a submission becomes; the
key file is read as pasted (line breaks kept), never echoed in an inline error, and redacted
from log records by its shape."""

from __future__ import annotations

import json
import logging

from bot.chat.slack.app import _setup_kind
from bot.chat.slack.setup_modal import read_setup, setup_view
from bot.infra.redact import RedactSecrets
from bot.providers.registry import accounts
from tests.fakes.google_accounts import service_account

VERTEX = {"vertex": accounts()["vertex"]}


def _state(values: dict[str, str | None]) -> dict[str, object]:
    state: dict[str, object] = {
        "provider": {"provider": {"type": "static_select", "selected_option": {"value": "vertex"}}}
    }
    for name, value in values.items():
        state[name] = {name: {"type": "plain_text_input", "value": value}}
    return {"values": state}


def test_setup_provider_names_the_kind_whose_form_opens() -> None:
    everything = accounts()
    assert _setup_kind("setup provider=vertex", everything) == "vertex"
    assert _setup_kind("setup provider=Vertex", everything) == "vertex"
    assert _setup_kind("setup provider=nope", everything) is None
    assert _setup_kind("setup remove provider=vertex", everything) is None
    assert _setup_kind("status provider=vertex", everything) is None


def test_the_vertex_form_shows_its_own_fields_with_the_key_file_multiline() -> None:
    view = setup_view(channel_id="C1", accounts=VERTEX)
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert list(blocks) == ["provider", "service_account", "project", "region", "bucket", "prefix"]
    key = blocks["service_account"]
    assert key["element"]["multiline"] is True
    assert key["optional"] is True  # empty: the deployment's identity, where allowed
    assert "never shown again" in key["hint"]["text"]
    assert blocks["project"]["optional"] is False
    assert blocks["prefix"]["optional"] is True


def test_a_submission_is_the_secret_and_the_settings_and_the_key_never_leaks() -> None:
    account = service_account(project="acme-ml")
    request, errors = read_setup(
        _state(
            {
                "service_account": account.key_file,
                "project": "acme-ml",
                "region": " europe-west4 ",
                "bucket": "acme-ftbot",
                "prefix": None,
            }
        ),
        accounts(),
    )
    assert errors == {}
    assert request is not None
    assert request.provider == "vertex"
    assert request.api_key is None
    assert request.secrets["service_account"].reveal() == account.key_file
    assert json.loads(request.secrets["service_account"].reveal())["private_key"]
    assert request.settings == {
        "project": "acme-ml",
        "region": "europe-west4",
        "bucket": "acme-ftbot",
    }
    assert account.key_file not in repr(request)

    missing, errors = read_setup(_state({"service_account": account.key_file}), accounts())
    assert missing is None
    assert set(errors) == {"project", "region", "bucket"}
    assert all("PRIVATE" not in e for e in errors.values())

    record = logging.LogRecord(
        "t", logging.WARNING, __file__, 1, "pasted %s", (account.key_file,), None
    )
    RedactSecrets().filter(record)
    shown = record.getMessage()
    assert "PRIVATE KEY" not in shown
    assert "0123456789abcdef0123456789abcdef01234567" not in shown
    assert account.email in shown  # the account's name is no secret
