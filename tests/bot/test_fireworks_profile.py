"""The Fireworks AI profile says what the pinned SDK's types say: every job state it can
report is mapped or gone, no seed option, and no capability the family lacks."""

from __future__ import annotations

import typing

from fireworks.types.supervised_fine_tuning_job import SupervisedFineTuningJob

from bot.providers.fireworks.profile import GONE_STATES, PROFILE
from handlers.profile import Capability, JobStatus


def _sdk_states() -> set[str]:
    hint = SupervisedFineTuningJob.model_fields["state"].annotation
    literal = next(a for a in typing.get_args(hint) if a is not type(None))
    return set(typing.get_args(literal))


def test_every_state_the_sdk_knows_is_mapped_or_gone() -> None:
    states = _sdk_states() - {"JOB_STATE_UNSPECIFIED"}
    # The pinned SDK's literal lacks DELETED and ARCHIVED (the gateway's enum has them).
    assert (
        states | {"JOB_STATE_DELETED", "JOB_STATE_ARCHIVED"} == set(PROFILE.statuses) | GONE_STATES
    )
    assert not set(PROFILE.statuses) & GONE_STATES


def test_the_issue_s_mapping() -> None:
    expected = {
        "JOB_STATE_CREATING_INPUT_DATASET": JobStatus.VALIDATING,
        "JOB_STATE_IDLE": JobStatus.QUEUED,
        "JOB_STATE_WRITING_RESULTS": JobStatus.RUNNING,
        "JOB_STATE_EARLY_STOPPED": JobStatus.SUCCEEDED,
        "JOB_STATE_EXPIRED": JobStatus.FAILED,
        "JOB_STATE_PAUSED": JobStatus.PAUSED,
        "JOB_STATE_CANCELLING": JobStatus.CANCELLING,
    }
    for raw, status in expected.items():
        assert PROFILE.status(raw) is status, raw


def test_no_seed_no_events_no_pause_but_resume_and_a_metrics_file() -> None:
    assert PROFILE.hyperparameter("seed") is None
    for capability in (
        Capability.EVENTS,
        Capability.LIVE_METRICS,
        Capability.PAUSE,
        Capability.JOB_TAGS,
        Capability.PROVIDER_ESTIMATE,
    ):
        assert not PROFILE.can(capability), capability
    # Fireworks pauses jobs itself and resumes them on `:resume`; its points are a file.
    assert PROFILE.can(Capability.RESUME)
    assert PROFILE.can(Capability.METRICS)
    lr = PROFILE.hyperparameter("lr")
    assert lr is not None
    assert lr.scale == "absolute"
    assert PROFILE.methods == {"supervised", "dpo"}


def test_names_and_keys() -> None:
    assert PROFILE.is_tuned_model("accounts/acme/models/ftb-1a2b3c4d5e6f")
    assert not PROFILE.is_tuned_model("accounts/fireworks/models/llama-v3p1-8b-instruct")
    assert PROFILE.is_fine_tunable(PROFILE.default_model)
    assert PROFILE.is_job_id(PROFILE.example_job_id)
    assert PROFILE.is_job_id("dpo:abc-123")
    assert not PROFILE.is_job_id("Has Spaces")
    account = PROFILE.account(None)
    assert account is not None
    assert account.key_shape.fullmatch("fw_" + "Ab3d" * 6)
    assert not account.key_shape.fullmatch("sk-proj-" + "Ab3d" * 10)
