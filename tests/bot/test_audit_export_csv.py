"""The audit export's CSV keeps what members typed as text: no cell starts a formula."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.app.config import load_settings
from bot.cli.admin import export_audit
from handlers.model import AuditEntry, Platform, Team
from tests.dbutil import open_store
from tests.fakes.clock import T0


async def test_typed_arguments_that_look_like_formulas_are_exported_as_text(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with open_store(url) as store:
        await store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))
        await store.record_audit(
            AuditEntry(
                team_id="slack:T1",
                user_id="U1",
                command="upload",
                arguments='=HYPERLINK("https://evil.example","x") \r-2+3',
                result="@SUM(A1)",
                at=T0,
            )
        )
    out = tmp_path / "audit.csv"
    assert await export_audit(load_settings(database_url=url), "slack:T1", out) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        (header, row) = list(csv.reader(handle))
    assert row[header.index("arguments")] == '\'=HYPERLINK("https://evil.example","x") \r-2+3'
    assert row[header.index("result")] == "'@SUM(A1)"
    assert row[header.index("command")] == "upload"
