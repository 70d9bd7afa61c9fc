"""Discord adapter: pure functions turning a core Reply into an embed, files, buttons, mentions."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import discord

from bot.chat.discord import limits, naming
from bot.chat.discord.buttons import JobButton, fits
from handlers.profile import JobStatus
from handlers.replies import (
    Attachment,
    Button,
    ButtonStyle,
    ChannelRef,
    CommandRef,
    Content,
    Reply,
    Table,
    TimeRef,
    TimeStyle,
    Tone,
    UserRef,
    parts_of,
    plain,
    refs_of,
    rich,
)

TITLE_MAX = limits.EMBED_TITLE
DESCRIPTION_MAX = limits.EMBED_DESCRIPTION
FIELDS_MAX = limits.EMBED_FIELDS
FIELD_NAME_MAX = limits.FIELD_NAME
FIELD_VALUE_MAX = limits.FIELD_VALUE
FOOTER_MAX = limits.FOOTER_TEXT
EMBED_TOTAL_MAX = limits.MESSAGE_EMBED_CHARS
BUTTONS_PER_ROW = limits.ROW_BUTTONS
ROWS_MAX = limits.MESSAGE_ROWS
FILES_MAX = limits.MESSAGE_FILES
MORE_ACTION = "more"
"""The button that shows a long reply's next page; its value is `TOKEN:PAGE`."""
TABLE_BLOCK = 2000
"""The most one code block of table rows holds: small blocks pack a message's 6000 well."""
_PAGE_NOTE = 60
"""Room kept for a page's note in its last embed's footer."""

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
    JobStatus.GONE: discord.Colour.dark_grey(),
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
    embeds: list[discord.Embed]
    files: list[discord.File]
    view: discord.ui.View | None
    allowed_mentions: discord.AllowedMentions

    @property
    def embed(self) -> discord.Embed:
        """The reply's own embed (a long table continues in the embeds after it)."""
        return self.embeds[0]


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
            case CommandRef():
                text += naming.written(part)
            case TimeRef():
                out += [escape_text(text), discord_time(part)]
                text = ""
            case _:
                text += part
    return "".join([*out, escape_text(text)])


def words(value: Content) -> str:
    """The plain text, with the commands it names as they are typed on Discord."""
    return "".join(
        naming.written(p) if isinstance(p, CommandRef) else plain(rich(p)) for p in parts_of(value)
    )


DISCORD_TIME_STYLE = {TimeStyle.MOMENT: "f", TimeStyle.RELATIVE: "R"}


def discord_time(time: TimeRef) -> str:
    """`<t:EPOCH:f>` or `<t:EPOCH:R>`: Discord writes it in each reader's time zone."""
    return f"<t:{time.epoch}:{DISCORD_TIME_STYLE[time.style]}>"


def title_text(value: Content) -> str:
    """An embed title shows mention syntax raw, so members and channels are left out of it;
    commands are written as Discord types them, times as their words."""
    kept = "".join(
        naming.written(p) if isinstance(p, CommandRef) else p.text if isinstance(p, TimeRef) else p
        for p in parts_of(value)
        if isinstance(p, str | CommandRef | TimeRef)
    )
    return escape_text(" ".join(kept.split()))


def _titled(part: object) -> TypeGuard[str | TimeRef]:
    """Text, and times as their words (a title renders no `<t:…>` either)."""
    return isinstance(part, str | TimeRef)


def literal(value: Content) -> str:
    """Content for a footer, which renders neither markdown nor mentions: only the mention
    syntax is broken up, so the words read as they were written."""
    return _MENTION_SYNTAX.sub(lambda m: m.group(0) + ZWSP, words(value))


def code_cell(value: Content) -> str:
    """A cell of a code block: literal, and no backtick can close the block."""
    return literal(value).replace("`", CODE_LOOK_ALIKE)


def colour_of(reply: Reply) -> discord.Colour:
    """A job's status wins over the tone: cancelled is grey here, not the warning orange."""
    status = next((plain(f.value) for f in reply.fields if f.name.lower() == "status"), None)
    if status is not None and status in STATUS_COLOURS and reply.tone is not Tone.ERROR:
        return STATUS_COLOURS[status]
    return TONE_COLOURS[reply.tone]


def table_blocks(table: Table, limit: int = TABLE_BLOCK) -> list[str]:
    """Monospace code blocks of whole rows, each headed by the column names and at most
    `limit` characters. No cell is clipped (a model id is copied from here); only a row
    longer than a whole block is cut."""
    cells = [[code_cell(c) for c in row] for row in table.rows]
    headers = [code_cell(h) for h in table.headers]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()

    head = [line(headers), "  ".join("-" * w for w in widths)]
    frame = len("```\n\n```") + sum(len(s) + 1 for s in head)
    room = max(limit - frame, 1)
    blocks: list[list[str]] = [[]]
    used = frame
    for row in cells:
        text = clip(line(row), room)
        if blocks[-1] and used + len(text) + 1 > limit:
            blocks.append([])
            used = frame
        blocks[-1].append(text)
        used += len(text) + 1
    return ["```\n" + "\n".join([*head, *rows]) + "\n```" for rows in blocks]


def table_block(table: Table, limit: int) -> str | None:
    """The whole table as one code block, or None when it holds more than `limit`."""
    blocks = table_blocks(table, limit)
    return blocks[0] if len(blocks) == 1 and len(blocks[0]) <= limit else None


def attachment_name(attachment: Attachment) -> str:
    """Discord only resolves `attachment://` for plain file names."""
    return _SAFE_NAME.sub("_", attachment.filename) or "file"


def _description(reply: Reply) -> tuple[str, str]:
    """The description (the title when it names someone, the lines, a footer with a mention)
    and what is left for the footer."""
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
    return "\n".join(parts), footer


def _title(reply: Reply) -> str:
    return title_text(reply.title) or title_text(words(reply.title))


def render_embed(reply: Reply, *, table: str | None = None) -> discord.Embed:
    """The reply's own embed; `table` (one code block) ends its description when given."""
    description, footer = _description(reply)
    if table is not None:
        description = f"{description}\n{table}" if description else table
    embed = discord.Embed(
        title=clip(_title(reply), TITLE_MAX),
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
    # Room stays for a page note, so a paged reply's first message keeps within 6000 too.
    total = EMBED_TOTAL_MAX - _PAGE_NOTE
    while len(embed) > total and embed.fields:
        embed.remove_field(-1)
    over = len(embed) - total
    if over > 0 and embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, max(len(embed.footer.text) - over, 1)))
    over = len(embed) - total
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(len(embed.description) - over, 1))
    return embed


def _whole(reply: Reply) -> discord.Embed | None:
    """The reply in one embed, its table (if any) at the end of the description; None when
    the table does not fit there whole."""
    if reply.table is None:
        return render_embed(reply)
    description, _ = _description(reply)
    base = render_embed(reply)
    room = min(
        DESCRIPTION_MAX - len(description) - 1,
        EMBED_TOTAL_MAX - len(base) - _PAGE_NOTE,
    )
    block = table_block(reply.table, room)
    return None if block is None else render_embed(reply, table=block)


def _pages(reply: Reply) -> list[list[discord.Embed]]:
    """The reply's embeds in messages: the first holds the reply's own embed, each takes
    whole code blocks of rows while it keeps within 10 embeds and 6000 characters."""
    whole = _whole(reply)
    if whole is not None:
        return [[whole]]
    assert reply.table is not None
    first = render_embed(reply)
    pages: list[list[discord.Embed]] = [[first]]
    used = len(first)
    title = clip(f"{_title(reply)} (continued)", TITLE_MAX)
    for block in table_blocks(reply.table):
        embed = discord.Embed(description=block, colour=colour_of(reply))
        full = len(pages[-1]) >= limits.MESSAGE_EMBEDS
        if full or used + len(block) + _PAGE_NOTE > EMBED_TOTAL_MAX:
            embed.title = title
            pages.append([])
            used = 0
        pages[-1].append(embed)
        used += len(embed)
    return pages


def page_count(reply: Reply) -> int:
    """How many messages the reply takes on Discord (a More button leads from one to the next)."""
    return len(_pages(reply))


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


def render_view(
    buttons: Sequence[Button], more: JobButton | None = None
) -> discord.ui.View | None:
    """Persistent buttons (no timeout), a More button last; None when there are none."""
    items = [item for b in buttons if (item := render_button(b)) is not None]
    items = items[: BUTTONS_PER_ROW * ROWS_MAX - (more is not None)]
    if more is not None:
        items.append(more)
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for i, item in enumerate(items):
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


def render(reply: Reply, *, page: int = 0, more_token: str | None = None) -> Rendered:
    """One message: the whole reply when it fits, else page `page` of it. The reply's buttons
    are on the first page; a page before the last says so, with a More button given a
    `more_token` the adapter can answer."""
    content, allowed = render_mentions(reply)
    pages = _pages(reply)
    page = min(max(page, 0), len(pages) - 1)
    embeds = pages[page]
    more = None
    if len(pages) > 1:
        last = embeds[-1]
        note = f"Page {page + 1} of {len(pages)}"
        if page + 1 < len(pages):
            note += ": More shows the next." if more_token else ": the rest did not fit."
            if more_token is not None:
                more = JobButton(
                    MORE_ACTION,
                    f"{more_token}:{page + 1}",
                    label=f"More ({page + 2} of {len(pages)})",
                )
        text = f"{last.footer.text} · {note}" if last.footer.text else note
        last.set_footer(text=clip(text, FOOTER_MAX))
    return Rendered(
        content=content if page == 0 else None,
        embeds=embeds,
        files=render_files(reply) if page == 0 else [],
        view=render_view(reply.buttons if page == 0 else (), more),
        allowed_mentions=allowed if page == 0 else discord.AllowedMentions.none(),
    )
