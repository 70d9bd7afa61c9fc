"""Core layer: the setup form's fields, from the account kinds the registered profiles offer.

One form serves every account kind (a platform form cannot change its fields when the
provider is picked), so each field says which kinds need it, with each kind's own hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from handlers.profile import AccountKind, SetupField
from handlers.secrets import MAX_ENDPOINT, MAX_KEY, MAX_SETTING

KEY_HINT = "Checked with the provider, then stored encrypted; never shown again."
_MAX_LENGTH: Mapping[str, int] = {"key": MAX_KEY, "endpoint": MAX_ENDPOINT, "api_version": 40}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupFormField:
    """One text field of the setup form: the SetupRequest field it fills, how it is shown."""

    name: str
    """key, endpoint or api_version."""
    label: str
    required: bool
    """Required by every account kind (else each kind's need is in the hint)."""
    hint: str
    max_length: int
    secret: bool = False
    """Part of a secret: the form never fills it in or shows it back."""
    multiline: bool = False


def setup_fields(accounts: Mapping[str, AccountKind]) -> tuple[SetupFormField, ...]:
    """Every field some account kind asks for, in the order the kinds list them."""
    names = list(dict.fromkeys(f.name for a in accounts.values() for f in a.fields))
    return tuple(_field(name, accounts) for name in names)


def _field(name: str, accounts: Mapping[str, AccountKind]) -> SetupFormField:
    asking = [(a, f) for a in accounts.values() if (f := a.field(name)) is not None]
    everywhere = len(asking) == len(accounts) and all(f.required for _, f in asking)
    first = asking[0][1]
    # A field every kind requires needs no per-kind note unless a kind has something to say.
    notes = [_need(a, f) for a, f in asking if not everywhere or f.hint or f.default]
    secret = name == "key" or any(f.secret for _, f in asking)
    hint = " · ".join(([KEY_HINT] if secret else []) + notes)
    longest = [f.max_length for _, f in asking if f.max_length is not None]
    return SetupFormField(
        name=name,
        label=first.label.removesuffix(" (optional)"),
        required=everywhere,
        hint=hint,
        max_length=max(longest, default=_MAX_LENGTH.get(name, MAX_SETTING)),
        secret=secret,
        multiline=any(f.multiline for _, f in asking),
    )


def _need(account: AccountKind, field: SetupField) -> str:
    """One account kind's need of a field: `Azure OpenAI: required, e.g. ... (default X)`."""
    default = field.default
    text = f"{account.label}: {'required' if field.required else 'optional'}"
    if field.hint:
        text += f", {field.hint}"
    if default:
        text += f" (default {default})"
    return text


__all__ = ["KEY_HINT", "SetupFormField", "setup_fields"]
