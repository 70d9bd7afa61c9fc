"""No chat command reads the bot's disk: typed paths are refused (and audited) for Slack and
Discord actors, whatever the text; the console reads paths and says why a special file fails."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.model import Actor, Platform, Role
from handlers.parse import parse
from handlers.replies import Tone, plain
from handlers.requests import UploadRequest, ValidateRequest
from handlers.sources import FileSource, PrivateFile, how_to_share
from tests.world import World, chat_example, world, write_dataset

SLACK_HOW = how_to_share(Platform.SLACK, "validate")


def person(platform: Platform, user: str = "U1", *, admin: bool = False) -> Actor:
    return Actor(
        platform=platform,
        workspace_id="T1" if platform is Platform.SLACK else "100",
        channel_id="C1",
        user_id=user,
        is_workspace_admin=admin,
    )


CONSOLE = Actor(
    platform=Platform.CONSOLE,
    workspace_id="local",
    channel_id="console",
    user_id="op",
    is_workspace_admin=True,
)


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path, default_role=Role.VIEWER) as built:
        yield built


def secret_file(tmp_path: Path) -> tuple[Path, list[str]]:
    """A file whose size and line count would show in any report made of it."""
    path = tmp_path / "secret.jsonl"
    write_dataset(path, n=37)
    size = path.stat().st_size
    return path, [f"{size:,}", str(size), "37 line", "37 example"]


def text_of(reply: object) -> str:
    return repr(reply)


@pytest.mark.parametrize("platform", [Platform.SLACK, Platform.DISCORD])
@pytest.mark.parametrize("admin", [False, True])
async def test_a_path_typed_in_chat_is_refused_with_how_to_share_and_audited(
    w: World, tmp_path: Path, platform: Platform, admin: bool
) -> None:
    path, tells = secret_file(tmp_path)
    who = person(platform, "U7", admin=admin)
    for line in (
        "validate /etc/passwd",
        f"validate {path}",
        f"validate file={path} model=gpt-4o-mini",
        "validate /proc/self/status",
        f"validate train.jsonl validation={path}",
    ):
        reply = await w.service.handle_text(line, who)
        assert reply.tone is Tone.ERROR, line
        assert reply.title == how_to_share(platform, "validate"), line
        assert "root:" not in text_of(reply)
        assert not any(t in text_of(reply) for t in tells), line
    # A shared training file does not let a typed validation path through.
    shared = PrivateFile(path=write_dataset(tmp_path / "train.jsonl"), name="train.jsonl")
    reply = await w.service.handle(
        ValidateRequest(file=shared, validation=parse_source(str(path))), who
    )
    assert reply.title == how_to_share(platform, "validate")
    assert not any(t in text_of(reply) for t in tells)
    # No training file found, a typed validation path: still an attempt on the disk.
    reply = await w.service.handle(ValidateRequest(validation=parse_source(str(path))), who)
    assert reply.title == how_to_share(platform, "validate")
    entries = await w.store.list_audit(who.team_id, limit=50)
    refused = [e for e in entries if e.command == "validate"]
    assert len(refused) == 7
    assert all(e.result.startswith("error: Chat commands never read files") for e in refused)
    assert any("/etc/passwd" in e.arguments for e in refused)  # what was tried, for the admin


def parse_source(text: str) -> FileSource | None:
    request = parse(f"validate {text}")
    assert isinstance(request, ValidateRequest)
    return request.file


async def test_upload_of_a_typed_path_is_refused_for_an_admin_and_role_checked_first(
    w: World, tmp_path: Path
) -> None:
    path, tells = secret_file(tmp_path)
    admin = person(Platform.SLACK, "U1", admin=True)
    reply = await w.service.handle_text(f"upload {path} alias=x force=yes", admin)
    assert reply.title == how_to_share(Platform.SLACK, "upload")
    assert not any(t in text_of(reply) for t in tells)
    assert await w.store.list_files(admin.team_id) == []
    viewer = person(Platform.SLACK, "U9")
    denied = await w.service.handle_text(f"upload {path}", viewer)
    assert "needs the operator role" in denied.title


async def test_no_file_in_chat_says_how_to_share(w: World) -> None:
    reply = await w.service.handle(ValidateRequest(), person(Platform.DISCORD))
    assert reply.title == how_to_share(Platform.DISCORD, "validate")
    assert "attach" in plain(reply.title).lower()
    reply = await w.service.handle(UploadRequest(), person(Platform.SLACK, admin=True))
    assert reply.title == how_to_share(Platform.SLACK, "upload")


async def test_permit_answers_before_any_work_and_audits_a_refusal(w: World) -> None:
    viewer = person(Platform.SLACK, "U9")
    refused = await w.service.permit(UploadRequest(), viewer)
    assert refused is not None
    assert "needs the operator role" in refused.title
    assert refused.ephemeral
    assert await w.service.permit(ValidateRequest(), viewer) is None
    assert await w.service.permit(UploadRequest(), person(Platform.SLACK, admin=True)) is None
    (entry,) = await w.store.list_audit(viewer.team_id)
    assert (entry.command, entry.user_id) == ("upload", "U9")


# ---------------------------------------------------------------------- every typed text

_REAL: list[tuple[Path, list[str]]] = []


def _files(base: Path) -> list[tuple[Path, list[str]]]:
    if not _REAL:
        base.mkdir(parents=True, exist_ok=True)
        for n in (3, 11, 29):
            path = base / f"real-{n}.jsonl"
            path.write_text("\n".join(chat_example(i) for i in range(n)) + "\n", "utf-8")
            size = path.stat().st_size
            _REAL.append((path, [f"{size:,} bytes", f"{n} line", f"{n} example"]))
    return _REAL


def _relative(path: Path) -> str:
    return os.path.relpath(path, Path.cwd())


_SEP = st.sampled_from([" ", "  "])
_NOISE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12
).filter(lambda t: '"' not in t and "'" not in t)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.integers(min_value=0, max_value=2),
    form=st.sampled_from(
        [
            "validate {p}",
            "validate file={p}",
            "validate path={p}{s}format=chat",
            "validate {other}{s}validation={p}",
            "validate {p}{s}val={p}",
            "upload {p}",
            "upload file={p}{s}alias=a{s}force=yes",
            "upload path={p}{s}format=chat",
        ]
    ),
    spelled=st.sampled_from(["abs", "rel", "dots", "quoted"]),
    noise=_NOISE,
    sep=_SEP,
    platform=st.sampled_from([Platform.SLACK, Platform.DISCORD]),
    admin=st.booleans(),
)
async def test_no_typed_text_from_chat_ever_opens_a_file(
    w: World,
    tmp_path: Path,
    which: int,
    form: str,
    spelled: str,
    noise: str,
    sep: str,
    platform: Platform,
    admin: bool,
) -> None:
    path, tells = _files(tmp_path / "real")[which]
    match spelled:
        case "abs":
            shown = str(path)
        case "rel":
            shown = _relative(path)
        case "dots":
            shown = str(path.parent / ".." / path.parent.name / path.name)
        case _:
            shown = f'"{path}"'
    line = form.format(p=shown, s=sep, other=f"{noise.strip() or 'x'}.jsonl".replace(" ", "_"))
    who = person(platform, "U5", admin=admin)
    reply = await w.service.handle_text(line, who)
    text = text_of(reply)
    assert reply.tone is Tone.ERROR, line
    for tell in tells:
        assert tell not in text, (line, reply)
    assert not re.search(r"\d+ line\(s\)", text), (line, reply)
    assert await w.store.list_files(who.team_id) == []


# ---------------------------------------------------------------------- the console


async def test_the_console_reads_paths_and_explains_special_files(
    w: World, tmp_path: Path
) -> None:
    good = write_dataset(tmp_path / "train.jsonl")
    reply = await w.service.handle_text(f"validate {good}", CONSOLE)
    assert reply.tone is Tone.SUCCESS, reply
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    cases = {
        "/proc/self/status": "special file",
        str(tmp_path): "is a directory",
        str(fifo): "not a regular file",
        str(tmp_path / "missing.jsonl"): "No readable file at",
    }
    for target, expected in cases.items():
        reply = await w.service.handle_text(f"validate {target}", CONSOLE)
        assert reply.tone is Tone.ERROR, target
        assert expected in reply.title, (target, reply.title)
        assert "went wrong" not in reply.title
    reply = await w.service.handle_text(f"validate {good} validation=/proc/self/status", CONSOLE)
    assert "special file" in reply.title
    assert SLACK_HOW not in reply.title
