"""Core layer: the channels feature: subscribe, unsubscribe, subscriptions and team settings."""

from __future__ import annotations

from handlers.errors import NotFoundError
from handlers.features.routing import Routes
from handlers.model import Actor, Subscription
from handlers.ports import Store
from handlers.replies import ChannelRef, Field, Reply, Table, Tone, UserRef, rich
from handlers.requests import (
    SettingsRequest,
    SubscribeRequest,
    SubscriptionsRequest,
    UnsubscribeRequest,
)
from handlers.text import count


class Channels:
    """Which channels hear a team's job notices, and how often metrics are posted."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    def routes(self) -> Routes:
        return {
            SubscribeRequest: self._subscribe,
            UnsubscribeRequest: self._unsubscribe,
            SubscriptionsRequest: self._subscriptions,
            SettingsRequest: lambda r, a: self._settings(a.team_id, r.metric_interval),
        }

    async def _subscribe(self, request: SubscribeRequest, actor: Actor) -> Reply:
        filter_ = request.filter
        await self._store.add_subscription(
            Subscription(
                team_id=actor.team_id,
                channel=actor.channel,
                filter=filter_,
                created_by=actor.user_id,
            )
        )
        return Reply(
            title=f"This channel now receives {filter_.value} job notices of the team.",
            tone=Tone.SUCCESS,
        )

    async def _unsubscribe(self, request: UnsubscribeRequest, actor: Actor) -> Reply:
        removed = await self._store.remove_subscription(actor.team_id, actor.channel)
        if not removed:
            raise NotFoundError("This channel was not subscribed.")
        return Reply(title="This channel no longer receives the team's job notices.")

    async def _subscriptions(self, request: SubscriptionsRequest, actor: Actor) -> Reply:
        subs = await self._store.list_subscriptions(actor.team_id)
        if not subs:
            return Reply(
                title="No subscribed channels.",
                lines=(
                    "Notices go to the channel a job was started in. "
                    "Run /finetune subscribe in another channel to add it.",
                ),
            )
        return Reply(
            title=f"{count(len(subs), 'subscribed channel')}",
            table=Table(
                headers=("channel", "filter", "by"),
                rows=tuple(
                    (
                        rich(ChannelRef(channel_id=s.channel.channel_id)),
                        s.filter.value,
                        rich(UserRef(user_id=s.created_by)) if s.created_by else "—",
                    )
                    for s in subs
                ),
            ),
        )

    async def _settings(self, team_id: str, metric_interval: int | None) -> Reply:
        if metric_interval is not None:
            await self._store.set_metric_interval(team_id, metric_interval)
        team = await self._store.get_team(team_id)
        seconds = team.metric_interval_seconds if team else metric_interval
        every = "every poll" if seconds == 0 else f"at most one per job every {seconds} s"
        return Reply(
            title="Settings updated" if metric_interval is not None else "Team settings",
            fields=(Field(name="Metric updates (metric_interval)", value=every),),
            lines=("Change one with /finetune settings metric_interval=SECONDS",),
            tone=Tone.SUCCESS if metric_interval is not None else Tone.INFO,
        )
