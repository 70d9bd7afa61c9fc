"""A recipe's options carried from one family's profile to another's: what carries, what is
lost and why, and that options typed with the replay win. Test families only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from handlers.model import Hyperparameters, Job, JobState
from handlers.profile import Hyperparameter, JobStatus
from handlers.recipe import lost_lines, recipe_of, translate
from handlers.requests import StartRequest
from tests.narrow_family import NARROW, WIDE

SCALED = replace(
    NARROW,
    name="scaled",
    label="Scaled Labs",
    hyperparameters=(
        *NARROW.hyperparameters[:1],
        Hyperparameter(
            name="lr", kind=float, minimum=0.0, maximum=1.0, field="lr", scale="multiplier"
        ),
    ),
)
ABSOLUTE = replace(
    SCALED,
    name="absolute",
    label="Absolute Labs",
    hyperparameters=(
        *NARROW.hyperparameters[:1],
        Hyperparameter(
            name="lr", kind=float, minimum=0.0, maximum=0.1, field="lr", scale="absolute"
        ),
    ),
)


def _asked(**options: object) -> StartRequest:
    return StartRequest(model="m", training_file="t", **options)  # type: ignore[arg-type]


def test_options_with_the_same_name_meaning_and_range_carry() -> None:
    done = translate(_asked(n_epochs=4, suffix="abc"), given=_asked(), source=WIDE, target=NARROW)
    assert [(k.option, k.value) for k in done.kept] == [("epochs", "4"), ("suffix", "abc")]
    assert done.lost == ()
    assert (done.request.n_epochs, done.request.suffix) == (4, "abc")


def test_an_option_out_of_range_missing_or_meaning_otherwise_is_lost_with_its_fix() -> None:
    # Wide takes 80 epochs and a seed; Narrow takes epochs 1-5 and no seed.
    done = translate(_asked(n_epochs=80, seed=3), given=_asked(), source=WIDE, target=NARROW)
    assert {x.option: x.why for x in done.lost} == {
        "epochs": "Narrow Labs takes epochs 1-5",
        "seed": "Narrow Labs has no seed option",
    }
    assert (done.request.n_epochs, done.request.seed) == (None, None)
    assert lost_lines(done)[0].endswith(
        "Fix: give epochs= (1-5) for Narrow Labs, or add defaults=yes to use its default (2)."
    )
    # A multiplier does not become an absolute rate, even inside the target's range.
    moved = translate(
        _asked(learning_rate_multiplier=0.05), given=_asked(), source=SCALED, target=ABSOLUTE
    )
    [lost] = moved.lost
    assert lost.why == (
        "Scaled Labs's lr is a multiplier of its own base rate; "
        "Absolute Labs's is an absolute rate"
    )


def test_options_typed_with_the_replay_win_and_a_long_suffix_is_lost() -> None:
    done = translate(
        _asked(n_epochs=80, suffix="much-too-long"),
        given=_asked(n_epochs=3),
        source=WIDE,
        target=NARROW,
    )
    assert [(k.option, k.value, k.given) for k in done.kept] == [("epochs", "3", True)]
    [lost] = done.lost
    assert (lost.option, lost.why) == (
        "suffix",
        "Narrow Labs takes up to 8 characters (13 here)",
    )
    assert done.request.n_epochs == 3


def test_a_job_without_a_kept_recipe_replays_what_its_provider_ran() -> None:
    state = JobState(
        id="j1",
        model="m",
        status=JobStatus.SUCCEEDED,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        training_file="file-1",
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=1.8),
        suffix="s",
    )
    recipe, as_asked = recipe_of(Job(team_id="t", state=state))
    assert not as_asked
    assert (recipe.n_epochs, recipe.learning_rate_multiplier, recipe.suffix) == (3, 1.8, "s")
    asked, kept = recipe_of(Job(team_id="t", state=state, recipe={"model": "m", "n_epochs": 2}))
    assert kept
    assert (asked.n_epochs, asked.learning_rate_multiplier) == (2, None)
