"""The setup form's fields and hints come from the account kinds' setup fields, not from
text of the core's own: a kind that asks for something else changes the form."""

from __future__ import annotations

from handlers.commands.setup_fields import KEY_HINT
from handlers.requests import setup_fields
from tests.narrow_family import HOSTED, PRIVATE


def test_one_kind_with_only_a_key_asks_only_for_the_key() -> None:
    [key] = setup_fields({"hosted": HOSTED})
    assert (key.name, key.label, key.required, key.hint) == ("key", "API key", True, KEY_HINT)


def test_each_field_says_which_kinds_need_it_with_their_hints() -> None:
    fields = {f.name: f for f in setup_fields({"hosted": HOSTED, "private": PRIVATE})}
    assert list(fields) == ["key", "endpoint", "api_version"]
    endpoint = fields["endpoint"]
    assert endpoint.label == "Cluster URL"
    assert endpoint.required is False  # Hosted Labs does without
    assert endpoint.hint == "Private Labs: required, https://HOST:8443"
    assert fields["api_version"].hint == "Private Labs: optional (default v7)"
    only_private = {f.name: f for f in setup_fields({"private": PRIVATE})}
    assert only_private["endpoint"].required is True
