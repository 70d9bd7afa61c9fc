"""The routing table: every request type reaches exactly one feature's handler."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from handlers.features.routing import table
from handlers.model import Actor
from handlers.replies import Reply
from handlers.requests import HelpRequest, Request
from tests.world import world


async def test_every_request_type_is_routed(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        assert w.service.routed() == frozenset(typing.get_args(Request))


def test_two_features_cannot_claim_one_request_type() -> None:
    async def answer(request: HelpRequest, actor: Actor) -> Reply:
        return Reply(title="")

    with pytest.raises(ValueError, match="HelpRequest is routed by two features"):
        table({HelpRequest: answer}, {HelpRequest: answer})
