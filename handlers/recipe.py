"""Core layer: a job's recipe, and what of it carries to another provider family.

A recipe is the start as the team asked it (the job keeps it), or, for a job that kept none,
what its provider reports it ran. Each training option carries to the target family only when
the target takes it, means the same there (the profiles' `scale`) and the value is within the
target's range; everything else is listed, never silently changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from handlers.commands.provider_options import START_FIELDS, bounds
from handlers.governance import decode_start
from handlers.model import Job, Method
from handlers.profile import Hyperparameter, ProviderProfile
from handlers.requests import StartRequest
from handlers.text import number

_SCALES = {
    "multiplier": "a multiplier of its own base rate",
    "absolute": "an absolute rate",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Kept:
    """An option of the recipe as the new start takes it."""

    option: str
    value: str
    given: bool = False
    """Typed in this start (it overrides the recipe), rather than carried from it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Lost:
    """An option of the recipe the target cannot take as it was, and why."""

    option: str
    value: str
    why: str
    fix: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Translation:
    request: StartRequest
    """The new start: the recipe's options that carried, the ones typed now, none lost."""
    kept: tuple[Kept, ...]
    lost: tuple[Lost, ...]
    as_asked: bool
    """True: the recipe is the start as it was asked; False: what the provider ran."""


def recipe_of(job: Job) -> tuple[StartRequest, bool]:
    """The job's recipe, and whether it is the start as asked (else what the provider ran)."""
    if job.recipe is not None:
        return decode_start(job.recipe), True
    state = job.state
    hp = state.hyperparameters
    return (
        StartRequest(
            model=state.model,
            training_file=state.training_file,
            validation_file=state.validation_file,
            method=Method(state.method),
            n_epochs=hp.n_epochs,
            learning_rate_multiplier=hp.learning_rate_multiplier,
            batch_size=hp.batch_size,
            beta=hp.beta,
            suffix=state.suffix,
            seed=state.seed,
        ),
        False,
    )


def translate(
    recipe: StartRequest,
    *,
    given: StartRequest,
    source: ProviderProfile,
    target: ProviderProfile,
    as_asked: bool = True,
) -> Translation:
    """The start `given` asks (model, family, overrides) with the recipe's options carried
    from `source` to `target`; a lost option stays out of the request and is listed."""
    method = recipe.method.value
    values: dict[str, object] = {}
    kept: list[Kept] = []
    lost: list[Lost] = []
    for name, attribute in START_FIELDS.items():
        typed = getattr(given, attribute)
        if typed is not None:
            values[attribute] = typed
            kept.append(Kept(option=name, value=number(typed), given=True))
            continue
        value = getattr(recipe, attribute)
        if value is None:
            continue
        why = _why_not(name, value, method, source, target)
        if why is None:
            values[attribute] = value
            kept.append(Kept(option=name, value=number(value)))
        else:
            lost.append(
                Lost(option=name, value=number(value), why=why, fix=_fix(name, target, method))
            )
    suffix = given.suffix if given.suffix is not None else recipe.suffix
    if suffix is not None:
        limit = target.max_suffix
        if given.suffix is None and (limit is None or len(suffix) > limit):
            why = (
                f"{target.label} takes no suffix"
                if limit is None
                else f"{target.label} takes up to {limit} characters ({len(suffix)} here)"
            )
            fix = "" if limit is None else f"give suffix= of up to {limit} characters, or "
            lost.append(
                Lost(
                    option="suffix",
                    value=suffix,
                    why=why,
                    fix=f"{fix}add defaults=yes to start without one",
                )
            )
            suffix = None
        else:
            kept.append(Kept(option="suffix", value=suffix, given=given.suffix is not None))
    request = replace(
        given,
        method=recipe.method,
        suffix=suffix,
        **values,  # type: ignore[arg-type]
    )
    return Translation(request=request, kept=tuple(kept), lost=tuple(lost), as_asked=as_asked)


def _why_not(
    name: str, value: object, method: str, source: ProviderProfile, target: ProviderProfile
) -> str | None:
    """Why the target cannot take the recipe's value; None when it can."""
    wanted = target.hyperparameter(name)
    if wanted is None or (wanted.methods and method not in wanted.methods):
        return f"{target.label} has no {name} option" + (
            f" for method={method}" if wanted is not None else ""
        )
    had = source.hyperparameter(name)
    from_scale = had.scale if had is not None else ""
    if from_scale != wanted.scale:
        return (
            f"{source.label}'s {name} is {_scale(from_scale)}; "
            f"{target.label}'s is {_scale(wanted.scale)}"
        )
    if not isinstance(value, int | float) or not _fits(wanted, value):
        return f"{target.label} takes {name} {bounds(wanted)}"
    return None


def _fits(option: Hyperparameter, value: float) -> bool:
    if option.kind is int and value != int(value):
        return False
    low, high = option.minimum, option.maximum
    if low is not None and (value <= low if option.exclusive_minimum else value < low):
        return False
    return high is None or value <= high


def _fix(name: str, target: ProviderProfile, method: str) -> str:
    wanted = target.hyperparameter(name)
    if wanted is None or (wanted.methods and method not in wanted.methods):
        return "add defaults=yes to start without it"
    default = "its choice" if wanted.default is None else number(wanted.default)
    return (
        f"give {name}= ({bounds(wanted)}) for {target.label}, or add defaults=yes "
        f"to use its default ({default})"
    )


def _scale(scale: str) -> str:
    return _SCALES.get(scale, "of no stated scale")


def recipe_lines(translation: Translation, *, job_id: str, source: str, target: str) -> list[str]:
    """The recipe as a start reply shows it: what carried, what was typed, what was lost."""
    where = "as it was asked" if translation.as_asked else f"as {source} reports it ran"
    lines = [f"Recipe of {job_id} ({source}) on {target}, {where}."]
    carried = [f"{k.option}={k.value}" for k in translation.kept if not k.given]
    typed = [f"{k.option}={k.value}" for k in translation.kept if k.given]
    if carried:
        lines.append("Carried: " + ", ".join(carried) + ".")
    if typed:
        lines.append("Given now: " + ", ".join(typed) + ".")
    if not carried and not typed:
        lines.append(f"Every option is {target}'s default, as the recipe left them to {source}.")
    return lines


def lost_lines(translation: Translation) -> list[str]:
    """One line per option the target cannot take: the value, why, and what to do."""
    return [f"• {x.option}={x.value}: {x.why}. Fix: {x.fix}." for x in translation.lost]


__all__ = [
    "Kept",
    "Lost",
    "Translation",
    "lost_lines",
    "recipe_lines",
    "recipe_of",
    "translate",
]
