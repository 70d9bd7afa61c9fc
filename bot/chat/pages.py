"""Chat adapters: long replies kept for their More button, so the next page can be shown.

Process-local and bounded (the oldest go first): a More pressed after a restart, on another
replica or long after is answered with GONE, and the command gives the list again.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from handlers.replies import Reply

GONE = "This list is no longer kept; run the command again to see it all."
KEPT = 256


class Pager:
    """Token -> (workspace, reply); a token only opens its reply in the workspace it came from."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[str, tuple[str, Reply]] = OrderedDict()

    def keep(self, workspace_id: str, reply: Reply) -> str:
        token = secrets.token_hex(8)
        self._kept[token] = (workspace_id, reply)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return token

    def get(self, workspace_id: str, token: str) -> Reply | None:
        found = self._kept.get(token)
        if found is None or found[0] != workspace_id:
            return None
        return found[1]


def page_of(value: str) -> tuple[str, int] | None:
    """`TOKEN:PAGE` as a More button carries it; None for anything else."""
    token, _, page = value.rpartition(":")
    if not token or not page.isdigit():
        return None
    return token, int(page)
