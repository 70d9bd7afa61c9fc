"""Console adapter: posts notices to a terminal as the channel would see them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from bot.chat.console.render import render_with_attachments, text
from handlers.model import ChannelAddress
from handlers.replies import Reply


class ConsoleNotifier:
    """Prints each notice; card edits are shown as updates of the same message id."""

    def __init__(self, write: Callable[[str], None], *, attachments_dir: Path) -> None:
        self._write = write
        self._dir = attachments_dir
        self._ids = itertools.count(1)
        self.posted: list[tuple[str, str]] = []

    async def post(
        self,
        target: ChannelAddress,
        reply: Reply,
        *,
        dedupe_key: str,
        edit_message_id: str | None = None,
        thread_message_id: str | None = None,
        card_key: str | None = None,
    ) -> str:
        message_id = edit_message_id or f"msg-{next(self._ids)}"
        if edit_message_id:
            prefix = f"[card {message_id} updated]"
        elif thread_message_id:
            prefix = f"[in the thread of {thread_message_id}]"
        else:
            prefix = f"[{message_id}]"
        if edit_message_id and not reply.attachments:
            # A card edit in a real channel changes one message; here one line says what moved.
            progress = next((text(f.value) for f in reply.fields if f.name == "Progress"), "")
            loss = next((text(f.value) for f in reply.fields if f.name == "Train loss"), "")
            shown = text(reply.title) + (f" · {progress}" if progress else "")
            shown += f" · train loss {loss}" if loss and loss != "—" else ""
        else:
            shown = render_with_attachments(reply, self._dir)
        self._write(f"{prefix}\n{shown}\n")
        self.posted.append((dedupe_key, message_id))
        return message_id
