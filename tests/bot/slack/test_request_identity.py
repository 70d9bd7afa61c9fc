"""Slack request identity: every request maps to one identity; distinct requests never share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.app import request_identity

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=24)
kinds = st.sampled_from(["event_id", "trigger_id", "signature"])


def _request(kind: str, value: str) -> tuple[dict[str, object], dict[str, object]]:
    if kind == "signature":  # a body with neither id: its signature header names it
        return {"type": "view_closed"}, {"x-slack-signature": [f"v0={value}"]}
    return {"type": "event_callback" if kind == "event_id" else "block_actions", kind: value}, {}


@given(st.lists(st.tuples(kinds, ids), min_size=1, max_size=20))
def test_identities_are_stable_and_never_shared_by_distinct_requests(
    requests: list[tuple[str, str]],
) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for kind, value in requests:
        body, headers = _request(kind, value)
        identity = request_identity(body, headers)
        assert identity is not None
        assert identity == request_identity(body, headers)
        assert seen.setdefault(identity, (kind, value)) == (kind, value)


@given(ids, ids)
def test_the_event_id_names_a_retried_event_whatever_its_signature(event: str, sig: str) -> None:
    body = {"type": "event_callback", "event_id": event}
    first = request_identity(body, {"x-slack-signature": ["v0=first"]})
    retry = request_identity(body, {"x-slack-signature": [f"v0={sig}"]})
    assert first == retry == f"slack:event_id:{event}"


def test_option_loads_are_never_remembered() -> None:
    assert request_identity({"type": "block_suggestion", "value": "mini"}, {}) is None


def test_a_read_only_slash_command_is_not_remembered_but_one_that_acts_is() -> None:
    def command(text: str) -> dict[str, object]:
        return {"command": "/finetune", "text": text, "trigger_id": f"t-{text}"}

    for text in ("help", "list running", "inspect ftjob-1", "files", "epochs=abc"):
        assert request_identity(command(text), {}) is None, text
    for text in ("start file=a model=b", "cancel ftjob-1", "upload", "compare m", "setup"):
        assert request_identity(command(text), {}) == f"slack:trigger_id:t-{text}", text
