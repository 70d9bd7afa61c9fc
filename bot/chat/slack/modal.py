"""Slack adapter: the start-job modal: building the view and reading its submission (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.chat.slack import limits
from bot.chat.slack.blocks import cut, escape
from handlers.errors import UsageError
from handlers.model import Method, TeamFile
from handlers.requests import SPECS, FormField, StartRequest, build_request, coerce

CALLBACK_ID = "ftbot_start"
MODELS_ACTION = "ftbot_models"
ESTIMATE_FILE_ACTION = "ftbot_start_file"
ESTIMATE_BLOCK = "estimate"

View = dict[str, Any]


def option(text: str, value: str) -> dict[str, Any]:
    """A select's option: the text cut with an ellipsis; the value whole (callers offer no
    value longer than limits.OPTION_VALUE: a cut id would name something else)."""
    return {"text": {"type": "plain_text", "text": cut(text, limits.OPTION_TEXT)}, "value": value}


def fits_option(value: str) -> bool:
    return 0 < len(value) <= limits.OPTION_VALUE


def _text_input(name: str, label: str, hint: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": name,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "element": {"type": "plain_text_input", "action_id": name},
    }


def _file_select(
    name: str, label: str, files: Sequence[TeamFile], optional: bool, *, dispatch: bool = False
) -> dict[str, Any]:
    if not files:
        return {
            "type": "input",
            "block_id": name,
            "optional": optional,
            "label": {"type": "plain_text", "text": label},
            "hint": {"type": "plain_text", "text": "No files yet: /finetune upload first"},
            "element": {"type": "plain_text_input", "action_id": name},
        }
    return {
        "type": "input",
        "block_id": name,
        "optional": optional,
        "dispatch_action": dispatch,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "static_select",
            "action_id": ESTIMATE_FILE_ACTION if dispatch else name,
            "options": [
                option(f"{f.alias} ({f.examples} examples)", f.alias)
                for f in [f for f in files if fits_option(f.alias)][: limits.SELECT_OPTIONS]
            ],
        },
    }


def _provider_select(providers: Sequence[str]) -> dict[str, Any]:
    """The team's families, the first (its default, or the one picked) preselected."""
    return {
        "type": "input",
        "block_id": "provider",
        "label": {"type": "plain_text", "text": "Provider"},
        "hint": {
            "type": "plain_text",
            "text": "The team's provider families; see /finetune providers",
        },
        "element": {
            "type": "static_select",
            "action_id": "provider",
            "initial_option": option(providers[0], providers[0]),
            "options": [
                option(p, p)
                for p in [p for p in providers if fits_option(p)][: limits.SELECT_OPTIONS]
            ],
        },
    }


def start_view(
    *,
    channel_id: str,
    files: Sequence[TeamFile],
    fields: Sequence[FormField],
    estimate: str = "",
    providers: Sequence[str] = (),
) -> View:
    """The modal `/finetune start` opens when it is typed without options; `fields` are the
    training options the chosen provider takes (Service.start_fields), ranges in the hints; a
    team with several provider families picks one first (`providers`: the team's, the one to
    preselect first)."""
    blocks: list[dict[str, Any]] = [_provider_select(providers)] if len(providers) > 1 else []
    blocks += [
        _file_select("file", "Training file", files, optional=False, dispatch=True),
        _file_select("validation", "Validation file", files, optional=True),
        {
            "type": "input",
            "block_id": "model",
            # Picking a model (or a file) updates the cost estimate below before submission.
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "Base model"},
            "element": {
                "type": "external_select",
                "action_id": MODELS_ACTION,
                "min_query_length": 0,
                "placeholder": {"type": "plain_text", "text": "Pick a base model"},
            },
        },
        {
            "type": "input",
            "block_id": "method",
            "label": {"type": "plain_text", "text": "Method"},
            "element": {
                "type": "static_select",
                "action_id": "method",
                "initial_option": option(Method.SUPERVISED.value, Method.SUPERVISED.value),
                "options": [option(m.value, m.value) for m in Method],
            },
        },
        *(_text_input(f.name, f.label, f.hint) for f in fields),
    ]
    blocks.append(
        {
            "type": "context",
            "block_id": ESTIMATE_BLOCK,
            "elements": [
                {
                    "type": "mrkdwn",
                    # The estimate repeats what was typed (a file name): text, never markup.
                    "text": cut(
                        escape(estimate or "Pick a training file and a model to see the cost."),
                        2900,
                    ),
                    "verbatim": True,
                }
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Start fine-tuning"},
        "submit": {"type": "plain_text", "text": "Start"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "blocks": blocks,
    }


def _value(element: Mapping[str, Any]) -> str | None:
    selected = element.get("selected_option")
    if isinstance(selected, Mapping):
        value = selected.get("value")
        return str(value) if value else None
    raw = element.get("value")
    return str(raw).strip() if raw not in (None, "") else None


def _coerced(state: Mapping[str, Any]) -> tuple[dict[str, object], dict[str, str]]:
    """The form's values that pass the catalogue's checks, and the others' errors by block."""
    spec = SPECS["start"]
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for block_id, elements in state.get("values", {}).items():
        for element in elements.values():
            value = _value(element)
            if value is None:
                continue
            option = spec.option(block_id)
            if option is None:
                continue
            try:
                values[option.name] = coerce(spec, option, value)
            except UsageError as error:
                errors[block_id] = error.message[:150]
    return values, errors


def read_submission(state: Mapping[str, Any]) -> tuple[StartRequest | None, dict[str, str]]:
    """The request the form describes, or the inline errors keyed by block id."""
    values, errors = _coerced(state)
    for required in ("file", "model"):
        if required not in values and required not in errors:
            errors[required] = "Required."
    if errors:
        return None, errors
    try:
        request = build_request("start", values)
    except UsageError as error:
        return None, {"method": error.message[:150]}
    assert isinstance(request, StartRequest)
    return request, {}


def training_probe(state: Mapping[str, Any]) -> StartRequest | None:
    """The form's training options that passed the catalogue, as a request the provider's
    profile can check while other fields still have errors (one round of inline errors)."""
    values, _ = _coerced(state)
    values |= {"file": "probe", "model": "probe"}
    try:
        request = build_request("start", values)
    except UsageError:
        return None
    assert isinstance(request, StartRequest)
    return request


def channel_of(view: Mapping[str, Any]) -> str | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return None
    channel = data.get("channel_id") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) else None


def chosen(state: Mapping[str, Any], block_id: str) -> str | None:
    """The value picked or typed in one block of the form, if any."""
    for element in (state.get("values", {}).get(block_id) or {}).values():
        value = _value(element)
        if value:
            return value
    return None
