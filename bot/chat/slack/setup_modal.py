"""Slack adapter: the team setup modal (provider, key, endpoint): the view and its submission.

The key is typed only here, in a form that only the admin sees; an error about it names the
problem and never any part of what was typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handlers.profile import AccountKind
from handlers.requests import SetupRequest, setup_fields
from handlers.secrets import (
    Secret,
    api_version_problem,
    key_problem,
)

SETUP_CALLBACK_ID = "ftbot_setup"
_BLOCKS = {"key": "api_key"}
"""The block id of a setup field, where it differs from the field's name."""

View = dict[str, Any]


_SLACK_MAX_INPUT = 3000
"""The longest value a Slack plain_text_input takes."""


def _input(
    name: str, label: str, hint: str, *, optional: bool, max_length: int, multiline: bool
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": name,
        "max_length": min(max_length, _SLACK_MAX_INPUT),
    }
    if multiline:
        element["multiline"] = True
    return {
        "type": "input",
        "block_id": name,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint[:2000]},
        "element": element,
    }


def setup_view(*, channel_id: str, accounts: Mapping[str, AccountKind]) -> View:
    """The modal `/finetune setup` opens for an admin."""
    choices = [
        {"text": {"type": "plain_text", "text": kind.choice_label or kind.label}, "value": name}
        for name, kind in accounts.items()
    ]
    return {
        "type": "modal",
        "callback_id": SETUP_CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Team provider account"},
        "submit": {"type": "plain_text", "text": "Check and save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "blocks": [
            {
                "type": "input",
                "block_id": "provider",
                "label": {"type": "plain_text", "text": "Provider"},
                "element": {
                    "type": "static_select",
                    "action_id": "provider",
                    "initial_option": choices[0],
                    "options": choices,
                },
            },
            *(
                _input(
                    _BLOCKS.get(f.name, f.name),
                    f.label,
                    f.hint,
                    optional=not f.required,
                    max_length=f.max_length,
                    multiline=f.multiline,
                )
                for f in setup_fields(accounts)
            ),
        ],
    }


def _value(state: Mapping[str, Any], block: str) -> str | None:
    element = (state.get("values", {}).get(block) or {}).get(block) or {}
    selected = element.get("selected_option")
    if isinstance(selected, Mapping):
        return str(selected.get("value") or "") or None
    raw = element.get("value")
    return str(raw).strip() if raw not in (None, "") else None


def _raw(state: Mapping[str, Any], block: str) -> str | None:
    """A secret field as typed (a pasted JSON document keeps its line breaks)."""
    element = (state.get("values", {}).get(block) or {}).get(block) or {}
    raw = element.get("value")
    return str(raw) if raw not in (None, "") else None


def read_setup(
    state: Mapping[str, Any], accounts: Mapping[str, AccountKind]
) -> tuple[SetupRequest | None, dict[str, str]]:
    """The request the form describes, or inline errors keyed by block id (shape only)."""
    errors: dict[str, str] = {}
    provider = _value(state, "provider") or next(iter(accounts), "")
    account = accounts.get(provider)
    if account is None:
        return None, {"provider": "Pick a provider."}
    key = _raw(state, "api_key") or ""
    if account.secret_problem is None:
        key = key.strip()
    endpoint = _value(state, "endpoint")
    version = _value(state, "api_version")
    secrets = {n: Secret(_raw(state, n) or "") for n in account.secret_names if n != "key"}
    settings = {n: v for n in account.setting_names if (v := _value(state, n)) is not None}
    # A secret of several fields or a document is checked by the core after the ack; a kind
    # that may use the deployment's identity may leave its key empty.
    checks_key = account.secret_problem is None and (key or not account.ambient)
    if checks_key and (problem := key_problem(account.key_shape, account.key_refusal, key)):
        errors["api_key"] = problem[:150]
    for name in account.setting_names:
        found = account.field(name)
        if found is not None and found.required and name not in settings:
            errors[name] = f"{found.label} is required for {account.label}."
    if endpoint is None and account.requires("endpoint"):
        errors["endpoint"] = "An endpoint URL is required for this provider."
    # Everything else about the endpoint is checked after the ack, and every failure gets the
    # same one reply there: an inline error for some URLs only would tell them apart.
    if problem := api_version_problem(version):
        errors["api_version"] = problem[:150]
    if errors:
        return None, errors
    return (
        SetupRequest(
            provider=provider,
            api_key=Secret(key) if key or not account.ambient else None,
            endpoint=endpoint,
            api_version=version,
            secrets=secrets,
            settings=settings,
        ),
        {},
    )
