"""The installed `finetune-bot` tells what it is: --version, each sub-command's --help with its
settings, the manifests' checks (an https:// URL for Slack, Discord's invite URL and its exact
permissions) and the audit export's check of its team id."""

from __future__ import annotations

import asyncio
import base64
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from handlers.model import Platform, Team
from tests.dbutil import open_store
from tests.e2e.test_cli import _cli

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
APP_ID = "1234567890123456789"


def test_version_is_the_packages() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = _cli("--version", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"finetune-bot {version}"


@pytest.mark.parametrize(
    ("argv", "says", "settings"),
    [
        (("run",), "Serve the configured chat platforms", ("DATABASE_URL", "SLACK_BOT_TOKEN")),
        (("console",), "A terminal chat", ("FINETUNE_BOT_SANDBOX_SPEED",)),
        (("demo",), "no key, no network", ()),
        (("migrate",), "schema up to date", ("DATABASE_URL",)),
        (("resync",), "does not hold", ("FINETUNE_BOT_PROVIDER",)),
        (("manifest",), "invite URL", ("DISCORD_TOKEN",)),
        (("validate",), "Nothing is uploaded", ("FINETUNE_BOT_PRICES_FILE",)),
        (("keygen",), "Fernet key", ()),
        (("rotate-keys",), "Re-encrypt", ("FINETUNE_BOT_ENCRYPTION_KEYS", "DATABASE_URL")),
        (("audit", "export"), "CSV", ("DATABASE_URL",)),
    ],
)
def test_each_sub_command_describes_itself_and_names_its_settings(
    tmp_path: Path, argv: tuple[str, ...], says: str, settings: tuple[str, ...]
) -> None:
    result = _cli(*argv, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert says in text, text
    for name in settings:
        assert name in text, (name, text)
    if settings:
        assert "Settings (environment variables" in text


def test_the_slack_manifest_refuses_a_url_that_is_not_https(tmp_path: Path) -> None:
    refused = _cli("manifest", "slack", "--http", "http://bot.example.com", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("finetune-bot: --http needs the bot's public https:// URL")
    made = _cli("manifest", "slack", "--http", "https://bot.example.com", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "https://bot.example.com/slack/events" in made.stdout


BITS = {
    # Discord's documented bits: topics/permissions#permissions-bitwise-permission-flags
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "manage_messages": 1 << 13,
    "administrator": 1 << 3,
    "create_public_threads": 1 << 35,
    "send_messages_in_threads": 1 << 38,
}
USED = (
    # What the adapter calls: post in the channel, embeds, the chart's file, the card's thread.
    "view_channel",
    "send_messages",
    "embed_links",
    "attach_files",
    "create_public_threads",
    "send_messages_in_threads",
)


def test_the_discord_invite_asks_for_exactly_what_the_bot_uses(tmp_path: Path) -> None:
    result = _cli("manifest", "discord", "--client-id", APP_ID, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = next(w for w in result.stdout.split() if w.startswith("https://discord.com/"))
    query = parse_qs(urlparse(url).query)
    assert query["client_id"] == [APP_ID]
    assert query["scope"][0].split() == ["bot", "applications.commands"]
    assert int(query["permissions"][0]) == sum(BITS[name] for name in USED)
    # The README's Discord setup names the same permissions.
    readme = " ".join((ROOT / "README.md").read_text().split()).lower()
    for name in USED:
        assert f"*{name.replace('_', ' ')}*" in readme.replace("*view channels*", "*view channel*")
    assert "*read message history*" not in readme


def test_the_discord_invite_reads_the_application_id_from_the_token(tmp_path: Path) -> None:
    token = base64.b64encode(APP_ID.encode()).decode().rstrip("=") + ".GhIjKl.secret-part-xyz"
    result = _cli("manifest", "discord", cwd=tmp_path, DISCORD_TOKEN=token)
    assert result.returncode == 0, result.stderr
    assert f"client_id={APP_ID}" in result.stdout
    assert "secret-part-xyz" not in result.stdout + result.stderr
    missing = _cli("manifest", "discord", cwd=tmp_path)
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert "--client-id" in line
    assert "DISCORD_TOKEN" in line


async def _one_team(url: str) -> None:
    async with open_store(url) as store:
        await store.ensure_team(Team(id="slack:T1", platform=Platform.SLACK, workspace_id="T1"))


def test_audit_export_checks_the_team_id(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    asyncio.run(_one_team(url))
    wrong = _cli("audit", "export", "--team", "slack:T2", cwd=tmp_path, DATABASE_URL=url)
    assert wrong.returncode == 2
    assert wrong.stdout == ""
    (line,) = wrong.stderr.strip().splitlines()
    assert "No team 'slack:T2'" in line
    assert "Teams: slack:T1." in line
    right = _cli("audit", "export", "--team", "slack:T1", cwd=tmp_path, DATABASE_URL=url)
    assert right.returncode == 0, right.stderr
    assert right.stdout.splitlines()[0].startswith("at,team,user")
