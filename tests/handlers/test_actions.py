"""The core owns the buttons and the forms: one action catalogue, one `form=` per command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.actions import ACTIONS, UNSUPPORTED, button_request, button_value
from handlers.errors import UsageError
from handlers.requests import SPECS, Form, InspectRequest, StartRequest, resolve_command

ROOT = Path(__file__).resolve().parents[2]


def _button_calls(folder: str) -> list[ast.Call]:
    """Every `Button(action="...")` the core writes (the codec rebuilds stored ones as read)."""
    calls = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Button"
                and isinstance(_keyword(node, "action"), ast.Constant)
            ):
                calls.append(node)
    return calls


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_every_core_button_carries_a_catalogued_action_and_every_entry_is_used() -> None:
    calls = _button_calls("handlers")
    actions = [_keyword(call, "action") for call in calls]
    used = {a.value for a in actions if isinstance(a, ast.Constant)}
    assert used == set(ACTIONS)


def test_a_button_asks_to_confirm_exactly_when_its_action_needs_it() -> None:
    for call in _button_calls("handlers"):
        action = _keyword(call, "action")
        assert isinstance(action, ast.Constant)
        asks = _keyword(call, "confirm") is not None
        assert asks == ACTIONS[str(action.value)].confirm, action.value


def test_each_action_runs_a_command_whose_first_option_takes_the_button_value() -> None:
    for name, entry in ACTIONS.items():
        spec = resolve_command(entry.command)
        assert spec is not None, name
        if entry.value_options:
            # A value of several parts fills options the command has, by name.
            assert all(spec.option(o) is not None for o in entry.value_options), name
        else:
            assert spec.positionals, name


def test_a_replay_button_fills_the_job_the_family_and_the_defaults_switch() -> None:
    planned = button_request("recipe", "ftjob-abc")
    assert isinstance(planned, StartRequest)
    assert (planned.like, planned.provider, planned.defaults) == ("ftjob-abc", None, False)
    run = button_request("replay", button_value("ftjob-abc", "together", "yes"))
    assert isinstance(run, StartRequest)
    assert (run.like, run.provider, run.defaults) == ("ftjob-abc", "together", True)
    with pytest.raises(UsageError):
        button_request("replay", "ftjob-abc:together:yes:more")


def test_an_uncatalogued_action_is_one_clear_refusal() -> None:
    with pytest.raises(UsageError) as raised:
        button_request("frobnicate", "ftjob-abc")
    assert raised.value.message == UNSUPPORTED
    assert isinstance(button_request("inspect", "ftjob-abc"), InspectRequest)


def _string_collections(folder: str) -> list[tuple[str, set[object]]]:
    """Every tuple, list or set literal of constants only, with where it is."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and all(
                isinstance(e, ast.Constant) for e in node.elts
            ):
                words: set[object] = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", words))
    return found


@pytest.mark.parametrize("folder", ["bot/chat/slack", "bot/chat/discord", "bot/chat/console"])
def test_no_adapter_keeps_its_own_list_of_button_actions(folder: str) -> None:
    # A collection of action names and nothing else is a copy of the vocabulary (a list of
    # commands that happens to hold two actions, like Discord's team commands, is not).
    copies = [
        where
        for where, words in _string_collections(folder)
        if len(words) >= 2 and words <= set(ACTIONS)
    ]
    assert copies == [], "read handlers.actions.ACTIONS instead of a copy"


def test_start_and_setup_open_their_forms_and_nothing_else_has_one() -> None:
    forms = {name: spec.form for name, spec in SPECS.items() if spec.form is not None}
    assert forms == {"start": Form.START, "setup": Form.SETUP}


@given(st.sets(st.sampled_from([o.name for o in SPECS["start"].options])))
def test_start_opens_its_form_until_file_and_model_are_given(given_names: set[str]) -> None:
    # A replay (like=JOB) takes its file and model from the job: it never needs the form.
    # A held start's id (confirm=cs-..., its Start button) names a start already complete.
    complete = {"file", "model"} <= given_names or bool({"like", "confirm"} & given_names)
    assert SPECS["start"].form_for(given_names) is (None if complete else Form.START)


def test_setup_opens_its_form_bare_and_runs_with_an_action() -> None:
    assert SPECS["setup"].form_for(()) is Form.SETUP
    assert SPECS["setup"].form_for({"action"}) is None
    assert all(spec.form_for(()) is None for spec in SPECS.values() if spec.form is None)
