"""Discord adapter: pure functions turning a core Reply into an embed, files, buttons, mentions."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.chat.discord.buttons import JobButton, fits
from handlers.profile import JobStatus
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    ChannelRef,
    Content,
    Reply,
    Table,
    Tone,
    UserRef,
    parts_of,
    plain,
    refs_of,
    rich,
)

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-limits).
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
BUTTONS_PER_ROW = 5
ROWS_MAX = 5
FILES_MAX = 10

TONE_COLOURS: dict[Tone, discord.Colour] = {
    Tone.INFO: discord.Colour.blurple(),
    Tone.SUCCESS: discord.Colour.green(),
    Tone.WARNING: discord.Colour.orange(),
    Tone.ERROR: discord.Colour.red(),
}
STATUS_COLOURS: dict[str, discord.Colour] = {
    JobStatus.VALIDATING: discord.Colour.light_grey(),
    JobStatus.QUEUED: discord.Colour.light_grey(),
    JobStatus.RUNNING: discord.Colour.blurple(),
    JobStatus.PAUSED: discord.Colour.gold(),
    JobStatus.SUCCEEDED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.CANCELLED: discord.Colour.dark_grey(),
}
BUTTON_STYLES: dict[ButtonStyle, discord.ButtonStyle] = {
    ButtonStyle.DEFAULT: discord.ButtonStyle.secondary,
    ButtonStyle.PRIMARY: discord.ButtonStyle.primary,
    ButtonStyle.DANGER: discord.ButtonStyle.danger,
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
# A zero-width space after `<` or `@` keeps `<@id>`, `<@&role>`, `<#channel>`, `@everyone`
# and `@here` in text from being read as mentions (allowed_mentions stops the ping as well).
_MENTION_SYNTAX = re.compile(r"<(?=[@#])|@(?=everyone|here)", re.IGNORECASE)
# Links stay whole (Discord reads a link before any markdown in it, and a backslash would
# break it) unless they hold * ~ | a backslash or a backtick; every other delimiter gets a
# backslash, and so do quote, heading and list starts.
_MARKDOWN = re.compile(
    r"(?P<link><[^: >*~|`\\]+:/[^ >*~|`\\]+>"
    r"|(?:https?|steam)://[^\s<*~|`\\]+[^<.,:;\"'\]\s*~|`\\])"
    r"|(?P<lead>^[ \t]*)(?P<mark>[>#-])|[\\*_~|`\[]",
    re.MULTILINE,
)
ZWSP = "\u200b"
CODE_LOOK_ALIKE = "\u02cb"
"""ˋ stands in for a backtick inside a code block, which has no escape for one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """Everything one Discord message needs; files are single-use, so render once per send."""

    content: str | None
    embed: discord.Embed
    files: list[discord.File]
    view: discord.ui.View | None
    allowed_mentions: discord.AllowedMentions


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_text(text: str) -> str:
    """Plain text for a place that renders markdown: no formatting, no mention syntax.
    (discord.utils.escape_markdown escapes only the first `[` of `[a](b) ||c|| [d](e)`.)"""
    escaped = _MARKDOWN.sub(_escape_one, text)
    return _MENTION_SYNTAX.sub(lambda m: m.group(0) + ZWSP, escaped)


def _escape_one(match: re.Match[str]) -> str:
    if match.group("link"):
        return match.group("link")
    if match.group("mark"):
        return f"{match.group('lead')}\\{match.group('mark')}"
    return "\\" + match.group(0)


def markdown(value: Content) -> str:
    """Content for a description or field: text escaped, the core's references as mentions
    (in an embed they show as names and never ping)."""
    out: list[str] = []
    text = ""  # text is escaped in whole runs: `<` of one part and `@…` of the next are one
    for part in parts_of(value):
        match part:
            case UserRef(user_id=user_id) if _SNOWFLAKE.fullmatch(user_id):
                out += [escape_text(text), f"<@{user_id}>"]
                text = ""
            case ChannelRef(channel_id=channel_id) if _SNOWFLAKE.fullmatch(channel_id):
                out += [escape_text(text), f"<#{channel_id}>"]
                text = ""
            case UserRef() | ChannelRef():
                text += plain(rich(part))
            case _:
                text += part
    return "".join([*out, escape_text(text)])


def title_text(value: Content) -> str:
    """An embed title shows mention syntax raw, so references are left out of it."""
    kept = "".join(p for p in parts_of(value) if isinstance(p, str))
    return escape_text(" ".join(kept.split()))


def literal(value: Content) -> str:
    """Content for a footer, which renders neither markdown nor mentions: only the mention
    syntax is broken up, so the words read as they were written."""
    return _MENTION_SYNTAX.sub(lambda m: m.group(0) + ZWSP, plain(value))


def code_cell(value: Content) -> str:
    """A cell of a code block: literal, and no backtick can close the block."""
    return literal(value).replace("`", CODE_LOOK_ALIKE)


def colour_of(reply: Reply) -> discord.Colour:
    """A job's status wins over the tone: cancelled is grey here, not the warning orange."""
    status = next((plain(f.value) for f in reply.fields if f.name.lower() == "status"), None)
    if status is not None and status in STATUS_COLOURS and reply.tone is not Tone.ERROR:
        return STATUS_COLOURS[status]
    return TONE_COLOURS[reply.tone]


def table_block(table: Table, limit: int) -> str:
    """A monospace code block; rows that do not fit are dropped and counted."""
    cells = [[code_cell(c) for c in row] for row in table.rows]
    headers = [code_cell(h) for h in table.headers]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = min(max(widths[i], len(cell)), 40)

    def line(row: Sequence[str]) -> str:
        return "  ".join(clip(c, 40).ljust(w) for c, w in zip(row, widths, strict=False))

    lines = [line(headers).rstrip(), "  ".join("-" * w for w in widths)]
    used = len("```\n\n```") + sum(len(s) + 1 for s in lines)
    for shown, row in enumerate(cells):
        text = line(row).rstrip()
        more = f"… and {len(cells) - shown} more"
        if used + len(text) + 1 + len(more) + 1 > limit:
            lines.append(more)
            break
        lines.append(text)
        used += len(text) + 1
    return "```\n" + "\n".join(lines) + "\n```"


def attachment_name(attachment: Attachment) -> str:
    """Discord only resolves `attachment://` for plain file names."""
    return _SAFE_NAME.sub("_", attachment.filename) or "file"


def render_embed(reply: Reply) -> discord.Embed:
    title = title_text(reply.title) or title_text(plain(reply.title))
    parts: list[str] = []
    pinged = set(reply.mentions)
    if any(not (isinstance(r, UserRef) and r.user_id in pinged) for r in refs_of([reply.title])):
        # A title cannot show a mention; the description can, so the whole title goes there.
        parts.append(f"**{markdown(reply.title)}**")
    parts += [markdown(line) for line in reply.lines]
    footer = literal(reply.footer)
    if refs_of([reply.footer]):
        # Footers show `<@id>` raw; the description renders it as a name, in small print.
        parts.append(f"-# {markdown(reply.footer)}")
        footer = ""
    description = "\n".join(parts)
    if reply.table is not None:
        room = DESCRIPTION_MAX - len(description) - 1
        block = table_block(reply.table, room)
        description = f"{description}\n{block}" if description else block
    embed = discord.Embed(
        title=clip(title, TITLE_MAX),
        description=clip(description, DESCRIPTION_MAX) or None,
        colour=colour_of(reply),
    )
    for field in reply.fields[:FIELDS_MAX]:
        embed.add_field(
            name=clip(escape_text(field.name), FIELD_NAME_MAX) or ZWSP,
            value=clip(markdown(field.value), FIELD_VALUE_MAX) or "—",
            inline=field.inline,
        )
    if footer:
        embed.set_footer(text=clip(footer, FOOTER_MAX))
    image = next((a for a in reply.attachments if a.mime_type == "image/png"), None)
    if image is not None:
        embed.set_image(url=f"attachment://{attachment_name(image)}")
    while len(embed) > EMBED_TOTAL_MAX and embed.fields:
        embed.remove_field(-1)
    over = len(embed) - EMBED_TOTAL_MAX
    if over > 0 and embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, max(len(embed.footer.text) - over, 1)))
    over = len(embed) - EMBED_TOTAL_MAX
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(len(embed.description) - over, 1))
    return embed


def render_files(reply: Reply) -> list[discord.File]:
    return [
        discord.File(
            io.BytesIO(a.content), filename=attachment_name(a), description=a.title or None
        )
        for a in reply.attachments[:FILES_MAX]
    ]


def render_button(button: Button) -> JobButton | None:
    if not fits(button.action, button.value):
        return None
    return JobButton(
        button.action,
        button.value,
        label=clip(button.label, 80),
        style=BUTTON_STYLES[button.style],
    )


def render_view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """Persistent buttons (no timeout); None when the reply has none."""
    items = [item for b in buttons if (item := render_button(b)) is not None]
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for i, item in enumerate(items[: BUTTONS_PER_ROW * ROWS_MAX]):
        item.row = i // BUTTONS_PER_ROW
        view.add_item(item)
    return view


def render_mentions(reply: Reply) -> tuple[str | None, discord.AllowedMentions]:
    """Embeds never ping; the mentioned users go in the content, and only they may be pinged."""
    ids = [m for m in reply.mentions if _SNOWFLAKE.fullmatch(m)]
    if not ids:
        return None, discord.AllowedMentions.none()
    content = " ".join(f"<@{m}>" for m in ids)
    allowed = discord.AllowedMentions(
        everyone=False,
        roles=False,
        replied_user=False,
        users=[discord.Object(id=int(m)) for m in ids],
    )
    return content, allowed


def render(reply: Reply) -> Rendered:
    content, allowed = render_mentions(reply)
    return Rendered(
        content=content,
        embed=render_embed(reply),
        files=render_files(reply),
        view=render_view(reply.buttons),
        allowed_mentions=allowed,
    )
