"""Providers: the bot's tags in a Together job's suffix, since Together jobs carry no metadata.

A job the bot creates gets `ftb-KEY-TEAM` at the end of its suffix: KEY is six hex digits of
the idempotency key's hash (so a create can be looked for before any retry, and an interrupted
start found again), TEAM the team's id in a short reversible spelling (so one team's view of
a shared account sees only its jobs, as scope.py does with metadata). The user's own suffix is
shortened to leave room: Together takes at most 40 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from handlers.model import Platform
from handlers.scope import TEAM_KEY
from handlers.starts import INTENT_METADATA_KEY

MAX_SUFFIX = 40
_PLATFORM_CODE = {p.value: p.value[0] for p in Platform}
_CODE_PLATFORM = {code: name for name, code in _PLATFORM_CODE.items()}
_TAG = re.compile(r"(?:^|-)ftb-(?P<key>[0-9a-f]{6})(?:-(?P<team>[a-z][A-Za-z0-9]{1,30}))?$")
_SAFE = re.compile(r"[^A-Za-z0-9-]+")


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:6]


def _team_code(team_id: str) -> str | None:
    """slack:T0123 -> sT0123; None for an id the suffix cannot carry back exactly."""
    platform, _, workspace = team_id.partition(":")
    code = _PLATFORM_CODE.get(platform)
    if code is None or not re.fullmatch(r"[A-Za-z0-9]{1,30}", workspace):
        return None
    return code + workspace


def _team_id(code: str) -> str | None:
    platform = _CODE_PLATFORM.get(code[0])
    return f"{platform}:{code[1:]}" if platform else None


def tagged_suffix(suffix: str | None, *, key: str, metadata: Mapping[str, str]) -> str:
    """The suffix to send: the user's (made safe, shortened) and the bot's tag."""
    tag = f"ftb-{key_digest(key)}"
    team = metadata.get(TEAM_KEY)
    code = _team_code(team) if team else None
    if code is not None:
        tag += f"-{code}"
    own = _SAFE.sub("-", suffix or "").strip("-")[: MAX_SUFFIX - len(tag) - 1].rstrip("-")
    return f"{own}-{tag}" if own else tag


def read_suffix(sent: str | None) -> tuple[str | None, str | None, str | None]:
    """(the user's suffix, the key digest, the team id) from a job's suffix."""
    if not sent:
        return None, None, None
    found = _TAG.search(sent)
    if found is None:
        return sent, None, None
    own = sent[: found.start()] or None
    team = found.group("team")
    return own, found.group("key"), _team_id(team) if team else None


def metadata_of(sent: str | None, wanted: Mapping[str, str] | None = None) -> dict[str, str]:
    """The metadata a job's suffix stands for: its team, and the intent key a filter asks for
    when its digest is the job's (a digest cannot be read back into the key itself)."""
    _, digest, team = read_suffix(sent)
    found: dict[str, str] = {}
    if team is not None:
        found[TEAM_KEY] = team
    intent = (wanted or {}).get(INTENT_METADATA_KEY)
    if digest is not None and intent is not None and key_digest(intent) == digest:
        found[INTENT_METADATA_KEY] = intent
    return found


def matches(sent: str | None, wanted: Mapping[str, str] | None) -> bool:
    """Whether a job answers a metadata filter; a key the suffix cannot carry matches nothing."""
    if not wanted:
        return True
    carried = metadata_of(sent, wanted)
    return all(carried.get(k) == v for k, v in wanted.items())
