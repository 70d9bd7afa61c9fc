"""Storage layer: team secrets encrypted at rest with a MultiFernet key ring, bound to their team.

The key ring comes from FINETUNE_BOT_ENCRYPTION_KEYS (comma-separated Fernet keys, newest
first) and is looked up when a value is written or read, never when this module is imported:
a process that configures its keys late, or rotates them, never encrypts with a stale ring.
The plaintext is `{"t": team id, "k": key}`, so a ciphertext copied into another team's row
decrypts to the wrong team and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from handlers.errors import ConfigError
from handlers.secrets import Secret

ENV_NAME = "FINETUNE_BOT_ENCRYPTION_KEYS"


class SecretUnreadableError(ConfigError):
    """A stored secret cannot be decrypted with the configured keys (or belongs elsewhere)."""


@dataclass(frozen=True, slots=True)
class TeamSecret:
    """What the column holds once decrypted: the secret and the team it was written for."""

    team_id: str
    value: Secret


class KeyRing:
    """MultiFernet over the configured keys: encrypts with the first, decrypts with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(f"{ENV_NAME} is empty: generate a key with `finetune-bot keygen`.")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # Never echo the value: it is (meant to be) a secret.
                raise ConfigError(
                    f"{ENV_NAME} key number {position} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes); generate one with `finetune-bot keygen`."
                ) from None
        self._fernet = MultiFernet(fernets)
        self._newest = fernets[0]
        self.size = len(fernets)

    def encrypt(self, team_id: str, plaintext: str) -> str:
        envelope = json.dumps({"t": team_id, "k": plaintext}, separators=(",", ":"))
        return self._fernet.encrypt(envelope.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> TeamSecret:
        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError, UnicodeEncodeError):
            raise SecretUnreadableError(
                f"A stored team key cannot be decrypted with {ENV_NAME}: a key that encrypted "
                "it is missing from the list. Add it back (after the newest), or the team's "
                "admin runs /finetune setup again."
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("k"), str):
            raise SecretUnreadableError("A stored team key is not in the expected form.")
        return TeamSecret(team_id=str(data.get("t", "")), value=Secret(data["k"]))

    def rotate(self, token: str) -> str:
        """The same secret under the newest key (a no-op in effect if it already is)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretUnreadableError(
                f"A stored team key cannot be decrypted with any key in {ENV_NAME}; it was "
                "not rotated."
            ) from None


_ring: KeyRing | None = None


def parse_keys(text: str | None) -> list[str]:
    """FINETUNE_BOT_ENCRYPTION_KEYS: comma-separated, newest first; blanks ignored."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def use_keys(keys: Sequence[str] | None) -> KeyRing | None:
    """Configure (or with no keys, clear) the process's key ring; returns it."""
    global _ring
    _ring = KeyRing(keys) if keys else None
    return _ring


def key_ring() -> KeyRing | None:
    return _ring


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def require_key_ring() -> KeyRing:
    """The configured ring; a ConfigError naming the setting when there is none."""
    if _ring is None:
        raise ConfigError(
            f"{ENV_NAME} is not set, so team keys cannot be stored or read: generate a key "
            f"with `finetune-bot keygen` and export {ENV_NAME}=..."
        )
    return _ring
