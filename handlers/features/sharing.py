"""Core layer: read-only answers are the asker's; their Share in channel button posts the
same answer in the channel, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from handlers.errors import ConflictError
from handlers.features.routing import Routes
from handlers.held import Holder
from handlers.model import Actor
from handlers.ports import Clock
from handlers.replies import Button, Reply, UserRef, Visibility, rich
from handlers.requests import (
    AccessRequest,
    BudgetRequest,
    EventsRequest,
    FilesRequest,
    InspectRequest,
    ListRequest,
    ModelsRequest,
    Request,
    ShareRequest,
)

SHARE_PREFIX = "sh-"
SHARE_FOR = timedelta(hours=1)
"""How long a private answer's Share in channel button works."""
SHARE_LABEL = "Share in channel"


def answers_privately(request: Request) -> bool:
    """Whether the answer to this request is for the asker alone: what only reads the team's
    state (its jobs, files, models, budget and roles). Notices and job cards stay public."""
    match request:
        case ListRequest() | InspectRequest() | EventsRequest() | FilesRequest() | ModelsRequest():
            return True
        case BudgetRequest(cap=None, approve_over=None):
            return True
        case AccessRequest(action="list"):
            return True
    return False


class Sharing:
    """Holds each private answer for its Share button; the press hands it out once."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._held: Holder[Reply] = Holder(SHARE_PREFIX, SHARE_FOR)

    def routes(self) -> Routes:
        return {ShareRequest: self._share}

    def private(self, reply: Reply, actor: Actor) -> Reply:
        """The answer for the asker alone, with the button that shows it to the channel."""
        shared = rich(
            reply.footer,
            " · " if reply.footer else "",
            "shared by ",
            UserRef(user_id=actor.user_id),
        )
        token = self._held.hold(
            actor.team_id,
            actor.user_id,
            replace(reply, visibility=Visibility.PUBLIC, footer=shared),
            self._clock.now(),
        )
        return replace(
            reply,
            visibility=Visibility.EPHEMERAL,
            buttons=(*reply.buttons, Button(label=SHARE_LABEL, action="share", value=token)),
        )

    async def _share(self, request: ShareRequest, actor: Actor) -> Reply:
        try:
            return self._held.take(
                actor.team_id, actor.user_id, request.share_id, self._clock.now()
            )
        except KeyError:
            raise ConflictError(
                "That answer was shared already, or is over "
                f"{int(SHARE_FOR.total_seconds() // 3600)} hour old: run the command again "
                "to share what it says now."
            ) from None
