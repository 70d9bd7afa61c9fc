"""Test helpers: a job's card and completion notice among a Discord channel's messages, found
by the job id field they carry (their titles lead with the job's human name, not its id)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def title(message: Json) -> str:
    return str(message["embeds"][0]["title"])


def fields(message: Json) -> dict[str, str]:
    embeds = message.get("embeds") or [{}]
    return {str(f["name"]): str(f["value"]) for f in embeds[0].get("fields", [])}


def is_card(message: Json, job_id: str) -> bool:
    """The job's card: it names the job and shows its progress."""
    shown = fields(message)
    return shown.get("Job") == job_id and "Progress" in shown


def is_notice(message: Json, job_id: str, status: str) -> bool:
    """The job's completion notice for `status`."""
    shown = fields(message)
    return (
        bool(message.get("embeds"))
        and shown.get("Job") == job_id
        and "Progress" not in shown
        and f" {status}" in title(message)
    )
