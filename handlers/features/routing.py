"""Core layer: the routing table, request type -> the feature's handler, built from features."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers.model import Actor
from handlers.replies import Reply

Handler = Callable[[Any, Actor], Awaitable[Reply]]
"""Answers one request of the type it is routed by, for one actor."""

Routes = Mapping[type[Any], Handler]
"""What one feature declares: the request types it answers and how."""


def table(*features: Routes) -> dict[type[Any], Handler]:
    """Merge the features' routes; two features claiming one request type is a wiring bug."""
    merged: dict[type[Any], Handler] = {}
    for routes in features:
        for kind, handler in routes.items():
            if kind in merged:
                raise ValueError(f"{kind.__name__} is routed by two features")
            merged[kind] = handler
    return merged
