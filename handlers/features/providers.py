"""Core layer: `/finetune providers`: the families, the team's own, its default, what each can
do and any announced end. The profiles come from the composition root, never from bot/."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.features.routing import Routes
from handlers.model import Actor
from handlers.ports import ProviderDirectory, Store
from handlers.profile import ProviderProfile
from handlers.replies import Reply, Table, Tone
from handlers.requests import ProvidersRequest


class Providers:
    """Answers `providers` from the registered families' profiles and the team's keys."""

    def __init__(
        self,
        *,
        store: Store,
        providers: ProviderDirectory,
        profiles: Sequence[ProviderProfile],
    ) -> None:
        self._store = store
        self._providers = providers
        self._profiles = tuple(profiles)

    def routes(self) -> Routes:
        return {ProvidersRequest: lambda r, a: self._list(a)}

    async def _list(self, actor: Actor) -> Reply:
        team = actor.team_id
        available = await self._providers.available(team)
        keys = {c.family for c in await self._store.list_credentials(team)}
        default = available[0] if available else None
        rows = tuple(
            (
                p.name + (" (default)" if p.name == default else ""),
                p.label,
                _set_up(p.name, keys, available),
                ", ".join(sorted(c.value for c in p.capabilities)) or "—",
                p.first_end.isoformat() if p.first_end else "—",
            )
            for p in self._profiles
        )
        notes = tuple(
            line
            for p in self._profiles
            for line in (
                *((f"{p.label}: {p.end_note}",) if p.end_note else ()),
                *_model_ends(p),
            )
        )
        return Reply(
            title=f"{len(self._profiles)} provider families; this team can use "
            + (", ".join(available) or "none"),
            table=Table(headers=("provider", "name", "this team", "can", "ends"), rows=rows),
            lines=(
                *notes,
                "An admin sets one up with /finetune setup and picks the default with "
                "/finetune setup default=FAMILY; start provider=FAMILY uses another.",
            ),
            tone=Tone.WARNING if notes else Tone.INFO,
        )


def _model_ends(profile: ProviderProfile) -> tuple[str, ...]:
    """The family's per-model training ends, one line, the models grouped by day."""
    if not profile.model_ends:
        return ()
    days: dict[str, list[str]] = {}
    for model, day in sorted(profile.model_ends.items(), key=lambda item: (item[1], item[0])):
        days.setdefault(day.isoformat(), []).append(model)
    return (
        f"{profile.label}: training {profile.model_end_words} "
        + "; ".join(f"{day} ({', '.join(models)})" for day, models in days.items())
        + ".",
    )


def _set_up(family: str, keys: set[str], available: Sequence[str]) -> str:
    if family in keys:
        return "team key"
    if family in available:
        return "deployment's account"
    return "not set up"
