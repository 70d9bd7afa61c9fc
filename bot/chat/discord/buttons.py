"""Discord adapter: persistent job buttons whose custom_id carries the action and the job id."""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

import discord

log = logging.getLogger(__name__)

PREFIX = "ftbot"
MAX_CUSTOM_ID = 100
_TEMPLATE = rf"{PREFIX}:(?P<action>[a-z_]+)(?P<confirmed>!?):(?P<value>[A-Za-z0-9:._-]+)"


class ButtonHandler(Protocol):
    """What a button press is handed to; the client carries one as `button_handler`."""

    async def on_button(
        self, interaction: discord.Interaction[Any], action: str, value: str, *, confirmed: bool
    ) -> None: ...


def custom_id(action: str, value: str, *, confirmed: bool = False) -> str:
    """`ftbot:cancel:ftjob-123`; a trailing `!` on the action marks the confirmed step."""
    return f"{PREFIX}:{action}{'!' if confirmed else ''}:{value}"


def fits(action: str, value: str) -> bool:
    """Discord caps custom_id at 100 characters and our template only takes id characters."""
    cid = custom_id(action, value, confirmed=True)
    return len(cid) <= MAX_CUSTOM_ID and re.fullmatch(_TEMPLATE, cid) is not None


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """A button that keeps working after a restart: its state lives in the custom_id only."""

    def __init__(
        self,
        action: str,
        value: str,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        confirmed: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or action.title(),
                style=style,
                custom_id=custom_id(action, value, confirmed=confirmed),
            )
        )
        self.action = action
        self.value = value
        self.confirmed = confirmed

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> JobButton:
        label = getattr(item, "label", None) or ""
        style = getattr(item, "style", discord.ButtonStyle.secondary)
        return cls(
            match["action"],
            match["value"],
            label=label,
            style=style,
            confirmed=match["confirmed"] == "!",
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ButtonHandler | None = getattr(interaction.client, "button_handler", None)
        if handler is None:  # pragma: no cover - only a client built without the adapter
            log.error("button pressed on a client without a handler")
            return
        await handler.on_button(interaction, self.action, self.value, confirmed=self.confirmed)
