"""Core layer: `start`'s training options as the chosen provider's profile allows them.

The catalogue only checks what holds for any provider (a whole number of epochs, a suffix of
safe characters); which options a family takes, their ranges and the suffix limit are the
profile's. Both the refusal of a start and the start forms read them from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter

from handlers.commands.catalog import SPECS
from handlers.commands.requests import StartRequest
from handlers.errors import UsageError
from handlers.model import ModelLimits
from handlers.profile import Hyperparameter, ProviderProfile
from handlers.text import number

START_FIELDS: Mapping[str, str] = {
    "epochs": "n_epochs",
    "lr": "learning_rate_multiplier",
    "batch_size": "batch_size",
    "beta": "beta",
    "seed": "seed",
    "checkpoints": "n_checkpoints",
    "evals": "n_evals",
    "warmup": "warmup_ratio",
    "lora_r": "lora_r",
    "lora_alpha": "lora_alpha",
    "warmup_steps": "warmup_steps",
    "context_length": "context_length",
}
"""The StartRequest field of each training option, by the catalogue's option name."""

_VALUES: Mapping[str, Callable[[StartRequest], int | float | None]] = {
    name: attrgetter(attribute) for name, attribute in START_FIELDS.items()
}
"""The request's value of each training option, by the catalogue's option name."""


class OptionRefused(UsageError):
    """An option the provider does not take as given; `option` names it, so a form can show
    the message beside its field."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message, usage=SPECS["start"].usage_ref)
        self.option = option


def start_refusal(request: StartRequest, profile: ProviderProfile) -> OptionRefused | None:
    """The refusal check_start would raise, as a value (for a form's inline errors)."""
    try:
        check_start(request, profile)
    except OptionRefused as refused:
        return refused
    return None


def check_start(request: StartRequest, profile: ProviderProfile) -> None:
    """Raise one OptionRefused naming the option, the provider and what it supports, for the
    first option of the request the profile does not allow; before anything is sent."""
    method = request.method.value
    if method not in profile.methods:
        raise OptionRefused(
            f"method={method} is not a method {profile.label} supports; "
            f"it supports {', '.join(sorted(profile.methods))}.",
            option="method",
        )
    for name, value_of in _VALUES.items():
        value = value_of(request)
        if value is not None:
            _check_value(profile, name, value, method)
    kind = request.training_type
    if kind is not None and kind not in profile.training_types:
        raise OptionRefused(
            f"training_type={kind} is not a training type {profile.label} supports; it supports "
            f"{', '.join(profile.training_types)}.",
            option="training_type",
        )
    if request.suffix is not None:
        _check_suffix(profile, request.suffix)


def check_formats(
    request: StartRequest, profile: ProviderProfile, files: Mapping[str, str]
) -> None:
    """Raise one OptionRefused when a file's format (alias -> the validator's name for it) is
    not one the method takes at this family, saying what to do; before anything is sent."""
    method = request.method.value
    taken = profile.formats.get(method, frozenset())
    for alias, found in files.items():
        if not found or found in taken:
            continue
        other = next((m for m, fs in sorted(profile.formats.items()) if found in fs), None)
        fix = (
            f"add method={other}"
            if other is not None and other != method
            else f"upload a {' or '.join(sorted(taken))} file for method={method}"
        )
        raise OptionRefused(
            f"'{alias}' holds {found} examples, which {profile.label} does not train with "
            f"method={method} (it takes {', '.join(sorted(taken)) or 'none'}): {fix}.",
            option="method",
        )


def check_examples(profile: ProviderProfile, alias: str, examples: int) -> None:
    """Raise one OptionRefused when the training file has fewer or more examples than a job
    takes at this family; before anything is sent."""
    if profile.examples is None:
        return
    fewest, most = profile.examples
    if fewest <= examples <= most:
        return
    fix = "add examples" if examples < fewest else "split it or sample it down"
    raise OptionRefused(
        f"'{alias}' has {examples:,} examples; {profile.label} trains on {fewest:,} to "
        f"{most:,} examples a job: {fix}, and upload it again.",
        option="file",
    )


def _check_value(profile: ProviderProfile, name: str, value: float, method: str) -> None:
    option = profile.hyperparameter(name)
    if option is None or (option.methods and method not in option.methods):
        raise OptionRefused(
            f"{name} is not an option {profile.label} supports"
            + (f" with method={method}" if option is not None else "")
            + f"; it supports {supported(profile, method)}.",
            option=name,
        )
    if option.kind is int and value != int(value):
        raise OptionRefused(
            f"{name}={number(value)} is not a whole number, which {profile.label} needs.",
            option=name,
        )
    if not _within(option, value):
        raise OptionRefused(
            f"{name}={number(value)} is outside what {profile.label} supports: "
            f"{name} {bounds(option)}.",
            option=name,
        )


def check_limits(request: StartRequest, limits: ModelLimits, label: str) -> None:
    """Raise one OptionRefused for the first option outside what the provider says this base
    model takes (its own per-model limits, tighter than the family's ranges)."""
    checks: tuple[tuple[str, float | None, float | None, float | None], ...] = (
        # The family's ranges already hold the lower bounds of counts and ranks.
        ("epochs", request.n_epochs, None, limits.max_epochs),
        ("evals", request.n_evals, None, limits.max_evals),
        (
            "lr",
            request.learning_rate_multiplier,
            limits.min_learning_rate,
            limits.max_learning_rate,
        ),
        ("batch_size", request.batch_size, limits.min_batch_size, limits.max_batch_size),
        ("lora_r", request.lora_r, None, limits.max_lora_rank),
    )
    for name, value, low, high in checks:
        if value is None or (low is None and high is None):
            continue
        bound = Hyperparameter(name=name, kind=float, minimum=low, maximum=high, field=name)
        if not _within(bound, value):
            raise OptionRefused(
                f"{name}={number(value)} is outside what {label} takes for "
                f"{limits.model}: {name} {bounds(bound)}.",
                option=name,
            )


def _check_suffix(profile: ProviderProfile, suffix: str) -> None:
    limit = profile.max_suffix
    if limit is None:
        raise OptionRefused(
            f"suffix is not an option {profile.label} supports; "
            f"it supports {supported(profile, None)}.",
            option="suffix",
        )
    if len(suffix) > limit:
        raise OptionRefused(
            f"suffix is longer than {limit} characters ({len(suffix)}), "
            f"the most {profile.label} supports.",
            option="suffix",
        )


def _within(option: Hyperparameter, value: float) -> bool:
    low, high = option.minimum, option.maximum
    if low is not None and (value <= low if option.exclusive_minimum else value < low):
        return False
    return high is None or value <= high


def bounds(option: Hyperparameter) -> str:
    """A range as people read it: `1-50`, `above 0, at most 10`, `at least 0`."""
    low, high = option.minimum, option.maximum
    if low is not None and high is not None and not option.exclusive_minimum:
        return f"{number(low)}-{number(high)}"
    parts = []
    if low is not None:
        parts.append(
            f"above {number(low)}" if option.exclusive_minimum else f"at least {number(low)}"
        )
    if high is not None:
        parts.append(f"at most {number(high)}")
    return ", ".join(parts) or "any value"


def supported(profile: ProviderProfile, method: str | None) -> str:
    """The training options the profile takes (for a method, when one is given), with ranges."""
    shown = [
        f"{o.name} ({bounds(o)})"
        for o in profile.hyperparameters
        if not o.methods or method is None or method in o.methods
    ]
    if profile.max_suffix is not None:
        shown.append(f"suffix (up to {profile.max_suffix} characters)")
    return ", ".join(shown) or "no training options"


@dataclass(frozen=True, slots=True, kw_only=True)
class FormField:
    """One free-text field of a start form: the option it fills, its label and its hint."""

    name: str
    label: str
    hint: str


_LABELS: Mapping[str, str] = {
    "epochs": "Epochs",
    "lr": "Learning-rate multiplier",
    "batch_size": "Batch size",
    "seed": "Seed",
    "suffix": "Suffix",
    "checkpoints": "Checkpoints",
    "evals": "Evaluations",
    "warmup": "Warm-up ratio",
    "lora_r": "LoRA rank",
    "lora_alpha": "LoRA alpha",
    "warmup_steps": "Warm-up steps",
    "context_length": "Context length",
}

_SCALED: Mapping[str, tuple[str, str]] = {
    "absolute": ("Learning rate", "An absolute learning rate"),
    "multiplier": ("Learning-rate multiplier", "A multiplier of the provider's own rate"),
}
"""A learning rate's label and help by what it means at the family (its profile's scale)."""


def form_fields(profile: ProviderProfile) -> tuple[FormField, ...]:
    """The start forms' training fields: the profile's options in its order, each hinted with
    the catalogue's help and the profile's range and default, then the suffix if it takes one.
    Method-bound options (a DPO beta) are typed in the command, not the form."""
    catalogue = SPECS["start"]
    fields: list[FormField] = []
    for option in profile.hyperparameters:
        spec = catalogue.option(option.name)
        if spec is None or option.methods:
            continue
        default = "auto" if option.default is None else number(option.default)
        label, help_text = _SCALED.get(
            option.scale, (_LABELS.get(spec.name, spec.name), _plain(spec.help))
        )
        fields.append(
            FormField(
                name=spec.name,
                label=label,
                hint=f"{help_text} · {bounds(option)} · default {default}",
            )
        )
    suffix = catalogue.option("suffix")
    if profile.max_suffix is not None and suffix is not None:
        fields.append(
            FormField(
                name="suffix",
                label=_LABELS["suffix"],
                hint=f"{suffix.help} · up to {profile.max_suffix} characters",
            )
        )
    return tuple(fields)


def _plain(help_text: str) -> str:
    """A catalogue help without its "(default: ...)" note: the form states the default."""
    return help_text.split(" (")[0]


__all__ = [
    "START_FIELDS",
    "FormField",
    "OptionRefused",
    "bounds",
    "check_formats",
    "check_start",
    "form_fields",
    "start_refusal",
    "supported",
]
