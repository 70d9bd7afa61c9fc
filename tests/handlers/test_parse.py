"""The text grammar: typed requests from command lines; only UsageError for bad ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.errors import UsageError
from handlers.model import Method, SubscriptionFilter
from handlers.parse import parse
from handlers.replies import plain, rich
from handlers.requests import (
    SPECS,
    CancelRequest,
    HelpRequest,
    InspectRequest,
    ListRequest,
    StartRequest,
    SubscribeRequest,
    UploadRequest,
    build_request,
)
from handlers.sources import TypedPath


def _usage(error: UsageError) -> str:
    """The usage line as the text grammar writes it."""
    return plain(rich(error.usage))


def test_start_with_every_option() -> None:
    request = parse(
        "/finetune start file=train.jsonl model=gpt-4.1-mini epochs=3 suffix=support "
        "lr=0.5 batch_size=8 seed=42 validation=valid method=supervised"
    )
    assert request == StartRequest(
        model="gpt-4.1-mini",
        training_file="train.jsonl",
        validation_file="valid",
        method=Method.SUPERVISED,
        n_epochs=3,
        learning_rate_multiplier=0.5,
        batch_size=8,
        suffix="support",
        seed=42,
    )


@pytest.mark.parametrize(
    "model",
    [
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "acct/Qwen3-8B-ftb-3f2a9c-T1",
        "accounts/acme/models/llama-v3p1-8b",
        "ft:gpt-4o-mini-2024-07-18:org::abc123",
    ],
)
def test_model_names_with_parts_are_names(model: str) -> None:
    request = parse(f"start file=a model={model}")
    assert isinstance(request, StartRequest)
    assert request.model == model


@pytest.mark.parametrize(
    "model", ["/etc/passwd", "a/../b", "a//b", "a/", "../a", "a/.hidden", "x" * 257]
)
def test_a_model_name_is_never_a_path(model: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(f"start file=a model={model}")
    assert "is not a model name" in caught.value.message


def test_positional_shortcuts_and_aliases() -> None:
    assert parse("/finetune cancel ftjob-abc") == CancelRequest(job_id="ftjob-abc")
    assert parse("/finetune status ftjob-abc") == InspectRequest(job_id="ftjob-abc")
    assert parse("inspect job=ftjob-abc") == InspectRequest(job_id="ftjob-abc")
    assert parse("/finetune list running limit=5") == ListRequest(status="running", limit=5)
    assert parse("/finetune subscribe failures") == SubscribeRequest(
        filter=SubscriptionFilter.FAILURES
    )


def test_quoted_values_and_empty_line() -> None:
    assert parse('/finetune upload "my data/train set.jsonl" alias=v1') == UploadRequest(
        file=TypedPath(text="my data/train set.jsonl"), alias="v1"
    )
    assert parse("/finetune") == HelpRequest()
    assert parse("help start") == HelpRequest(topic="start")


def test_dpo_beta() -> None:
    request = parse("start file=a model=m method=dpo beta=0.1")
    assert isinstance(request, StartRequest)
    assert request.method is Method.DPO
    assert request.beta == 0.1
    with pytest.raises(UsageError, match="beta only applies"):
        parse("start file=a model=m beta=0.1")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("start file=a model=b epochs=abc", "epochs=abc is not a whole number"),
        ("start file=a model=b epochs=0", "epochs=0 must be at least 1"),
        ("start file=a model=b batch_size=-1", "batch_size=-1 must be at least 1"),
        ("start file=a model=b lr=0", "must be above 0"),
        ("start file=a model=b lr=nan", "is not a number"),
        # A provider's own limits (epochs up to 50, a 64-character suffix) are its profile's:
        # tests/handlers/test_provider_options.py. The text grammar keeps a length cap.
        ("start file=a model=b suffix=" + "x" * 257, "longer than 256 characters"),
        ("start file=a model=b suffix=bad/char", "may only hold"),
        ("start file=a", "Missing model"),
        ("start file=a model=b file=c", "given twice"),
        ("start file=a model=b colour=red", "Unknown option 'colour'"),
        ("frobnicate", "Unknown command 'frobnicate'"),
        ("cancel", "Missing job"),
        ("cancel a b", "Unexpected 'b'"),
        ('upload "unterminated', "check your quotes"),
        ("list status=bogus", "is not one of"),
        ("list limit=0", "at least 1"),
    ],
)
def test_bad_input_names_the_problem_and_the_usage(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(line)
    assert message in caught.value.message
    assert _usage(caught.value).startswith("/finetune")


def test_usage_is_the_commands_own() -> None:
    with pytest.raises(UsageError) as caught:
        parse("start file=a model=b epochs=abc")
    assert caught.value.usage == SPECS["start"].usage_ref
    assert "[epochs=N]" in _usage(caught.value)


def test_typed_values_take_the_same_checks() -> None:
    assert build_request("start", {"file": "a", "model": "m", "epochs": 3}) == StartRequest(
        model="m", training_file="a", n_epochs=3
    )
    with pytest.raises(UsageError, match="at least 1"):
        build_request("start", {"file": "a", "model": "m", "epochs": 0})
    with pytest.raises(UsageError, match="not a whole number"):
        build_request("start", {"file": "a", "model": "m", "epochs": True})


_tokens = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*SPECS, "status", "ls", "/finetune", "finetune"]),
    st.builds(
        lambda k, v: f"{k}={v}",
        st.sampled_from(
            [
                "file",
                "model",
                "epochs",
                "lr",
                "batch_size",
                "suffix",
                "seed",
                "limit",
                "status",
                "method",
                "beta",
                "validation",
                "job",
                "alias",
                "filter",
                "x",
            ]
        ),
        st.one_of(st.text(max_size=20), st.integers().map(str), st.floats().map(str)),
    ),
    st.sampled_from(['"', "'", "\\", "=", "==", "\x00", "\n", "ftjob-1"]),
)


@settings(deadline=None)  # examples: the profile's (tests/conftest.py)
@given(st.lists(_tokens, max_size=8).map(" ".join))
def test_parser_never_raises_anything_but_a_usage_error(line: str) -> None:
    outcome = _outcome(line)
    if isinstance(outcome, UsageError):
        assert outcome.message
    else:
        assert type(outcome).__name__.endswith("Request")


@settings(deadline=None)
@given(st.text(max_size=200))
def test_parser_on_arbitrary_text(line: str) -> None:
    _outcome(line)


def _outcome(line: str) -> object:
    """The request, or the UsageError; anything else propagates and fails the test."""
    try:
        return parse(line)
    except UsageError as error:
        return error
