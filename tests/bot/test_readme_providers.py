"""The README's provider table says what each family's profile says: a new family, or a changed
capability or end date, makes this fail until the table is brought up to date."""

from __future__ import annotations

from pathlib import Path

from bot.providers.registry import FAMILIES
from handlers.profile import Capability, ProviderProfile

README = Path(__file__).resolve().parents[2] / "README.md"
COLUMNS: tuple[tuple[Capability, ...], ...] = (
    (Capability.CANCEL,),
    (Capability.PAUSE,),
    (Capability.RESUME,),
    (Capability.EVENTS,),
    (Capability.LIVE_METRICS,),
    (Capability.METRICS,),
    (Capability.CHECKPOINTS,),
    (Capability.INFERENCE,),
    (Capability.DEPLOY_BEFORE_INFERENCE,),
    (Capability.PROVIDER_ESTIMATE,),
    (Capability.WEBHOOKS,),
    (Capability.STORED_COMPLETIONS,),
)


def _table_rows() -> dict[str, list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Providers\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 1 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _expected(profile: ProviderProfile) -> list[str]:
    marks = ["yes" if all(profile.can(c) for c in column) else "—" for column in COLUMNS]
    ends = profile.first_end.isoformat() if profile.first_end is not None else "—"
    return [profile.label, *marks, ends]


def test_the_readme_table_is_the_profiles() -> None:
    rows = _table_rows()
    assert set(rows) == set(FAMILIES)
    for name, family in FAMILIES.items():
        assert rows[name] == _expected(family.profile), name
