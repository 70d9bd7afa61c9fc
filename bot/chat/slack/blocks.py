"""Slack adapter: the core's Reply as Block Kit blocks plus fallback text (pure functions)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.chat.slack import limits
from handlers.profile import JobStatus
from handlers.replies import (
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
    rich,
)

ACTION_PREFIX = "ftbot_"
MORE_ACTION = f"{ACTION_PREFIX}more"
"""The button that shows a long reply's next page; its value is `TOKEN:PAGE`."""
MAX_TEXT = limits.SECTION_TEXT
MAX_FIELD = limits.FIELD_TEXT
MAX_FIELDS = limits.SECTION_FIELDS
TONE_EMOJI = {
    Tone.INFO: "",
    Tone.SUCCESS: ":white_check_mark: ",
    Tone.WARNING: ":warning: ",
    Tone.ERROR: ":x: ",
}
STATUS_EMOJI: dict[str, str] = {
    JobStatus.VALIDATING: ":mag:",
    JobStatus.QUEUED: ":hourglass_flowing_sand:",
    JobStatus.RUNNING: ":arrows_counterclockwise:",
    JobStatus.PAUSED: ":double_vertical_bar:",
    JobStatus.SUCCEEDED: ":white_check_mark:",
    JobStatus.FAILED: ":x:",
    JobStatus.CANCELLED: ":no_entry_sign:",
    JobStatus.GONE: ":grey_question:",
}
BOLD = "*"
CODE = "```"
# mrkdwn has no escape character: inside a span the renderer opens, the span's delimiter in
# text becomes a look-alike that cannot close it (∗ U+2217, ˋ U+02CB).
_LOOK_ALIKE = {BOLD: {"*": "\u2217", "\n": " "}, CODE: {"`": "\u02cb"}}
_SLACK_ID = re.compile(r"[A-Za-z0-9]{1,40}")
_OPEN_TOKEN = re.compile(r"[&<][^;>]*$")

Block = dict[str, Any]


def escape(text: str) -> str:
    """Escape &, < and > for mrkdwn, all of them: text never becomes a mention, a channel
    link, a broadcast (`<!channel>`, `<!here>`, `<!subteam^…>`) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(value: Content, *, span: str = "") -> str:
    """Content as mrkdwn: text escaped (and kept from closing `span`), references as the
    mentions Slack renders. Only the core's UserRef and ChannelRef become `<@…>`, `<#…>`."""
    out: list[str] = []
    for part in parts_of(value):
        match part:
            case UserRef(user_id=user_id) if _SLACK_ID.fullmatch(user_id):
                out.append(f"<@{user_id}>")
            case ChannelRef(channel_id=channel_id) if _SLACK_ID.fullmatch(channel_id):
                out.append(f"<#{channel_id}>")
            case UserRef() | ChannelRef() | CommandRef():
                out.append(_text(plain(rich(part)), span))
            case TimeRef() if span == CODE:
                out.append(_text(part.text, span))  # a code span shows no date token
            case TimeRef():
                out.append(slack_date(part))
            case _:
                out.append(_text(part, span))
    return "".join(out)


SLACK_DATE_FORMAT = {
    TimeStyle.MOMENT: "{date_short_pretty} {time}",
    TimeStyle.RELATIVE: "{ago}",
}


def slack_date(time: TimeRef) -> str:
    """`<!date^EPOCH^FORMAT|fallback>`: Slack writes the moment in each reader's time zone;
    clients that cannot show the fallback (escaped, so it stays words)."""
    fallback = escape(time.text).replace("|", "/")
    return f"<!date^{time.epoch}^{SLACK_DATE_FORMAT[time.style]}|{fallback}>"


def _text(text: str, span: str) -> str:
    for char, look_alike in _LOOK_ALIKE.get(span, {}).items():
        text = text.replace(char, look_alike)
    return escape(text)


def bold(value: Content, limit: int = MAX_TEXT) -> str:
    """`*value*` that user text cannot break: no `*` or line break of it closes the span."""
    inner = cut(mrkdwn(value, span=BOLD).strip(), limit - 2)
    return f"*{inner}*" if inner else ""


def cut(markup: str, limit: int) -> str:
    """At most `limit` characters of mrkdwn, never ending inside an entity or a mention."""
    if len(markup) <= limit:
        return markup
    head = markup[: max(limit - 1, 0)]
    return _OPEN_TOKEN.sub("", head) + "…"


def _chunks(lines: Iterable[str], size: int = MAX_TEXT) -> list[str]:
    """Lines joined into texts of at most `size` characters, split between lines; a line
    longer than `size` is free text and continues in the next text. Blank texts are left out
    (Slack refuses a section without text)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > size:
            head = cut(line, size)
            rest = line[len(head) - 1 :]
            if current.strip():
                chunks.append(current)
            current = ""
            chunks.append(head)
            line = rest
        joined = f"{current}\n{line}" if current else line
        if current and len(joined) > size:
            if current.strip():
                chunks.append(current)
            current = line
        else:
            current = joined
    if current.strip():
        chunks.append(current)
    return chunks


def table_chunks(table: Table, size: int = MAX_TEXT) -> list[str]:
    """Monospace code blocks of whole rows, each closed in its own section and headed by the
    column names; status cells get their emoji after the block (outside the code, where
    emoji render). A row is never split: only a row longer than a whole section is cut."""
    shown = (
        [(h, mrkdwn(h, span=CODE)) for h in table.headers],
        *([(plain(cell), mrkdwn(cell, span=CODE)) for cell in row] for row in table.rows),
    )
    widths = [len(h) for h in table.headers]
    for row in shown[1:]:
        for i, (display, _) in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(display))

    def line(cells: list[tuple[str, str]]) -> str:
        return "  ".join(
            markup + " " * (w - len(display))
            for (display, markup), w in zip(cells, widths, strict=False)
        ).rstrip()

    status_col = table.headers.index("status") if "status" in table.headers else None
    header = line(shown[0])
    longest_emoji = max((len(e) for e in STATUS_EMOJI.values()), default=0) + 2
    room = size - 2 * len(CODE) - len(header) - 1 - longest_emoji
    chunks: list[str] = []
    body: list[str] = []
    legend: list[str] = []

    def text(rows: Sequence[str], marks: Sequence[str]) -> str:
        code = f"{CODE}{chr(10).join([header, *rows])}{CODE}"
        return f"{code}\n{' '.join(marks)}" if marks else code

    for cells, source in zip(shown[1:], table.rows, strict=True):
        shown_row = cut(line(cells), room)
        mark = (
            [STATUS_EMOJI.get(plain(source[status_col]), ":grey_question:")]
            if status_col is not None
            else []
        )
        if body and len(text([*body, shown_row], [*legend, *mark])) > size:
            chunks.append(text(body, legend))
            body, legend = [], []
        body.append(shown_row)
        legend += mark
    chunks.append(text(body, legend))
    return chunks


TABLE_BLOCK_CHARS = 8000
"""What one table block may weigh (its JSON), so a page holds it beside the reply's title,
fields, footer and buttons within the message budget."""
TABLE_CELL_TEXT = 500
"""A cell's text is cut (with an ellipsis) past this; ids and names are far shorter."""


def _raw(text: str) -> Block:
    # raw_text is shown as written: never parsed as mrkdwn, so no mention or link comes of it.
    return {"type": "raw_text", "text": cut(text, TABLE_CELL_TEXT) if text.strip() else "-"}


def _rich_cell(elements: list[Block]) -> Block:
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": elements}],
    }


def _cell(value: Content, *, status: bool) -> Block:
    """A table cell: raw text, or rich text where it holds the core's own mentions (user and
    channel elements) or a status with its emoji."""
    parts = parts_of(value)
    if status:
        name = STATUS_EMOJI.get(plain(value), ":grey_question:").strip(":")
        return _rich_cell(
            [{"type": "emoji", "name": name}, {"type": "text", "text": " " + plain(value)}]
        )
    if not any(isinstance(p, UserRef | ChannelRef) for p in parts):
        return _raw(plain(value))
    elements: list[Block] = []
    for part in parts:
        match part:
            case UserRef(user_id=user_id) if _SLACK_ID.fullmatch(user_id):
                elements.append({"type": "user", "user_id": user_id})
            case ChannelRef(channel_id=channel_id) if _SLACK_ID.fullmatch(channel_id):
                elements.append({"type": "channel", "channel_id": channel_id})
            case str() if part:
                elements.append({"type": "text", "text": cut(part, TABLE_CELL_TEXT)})
            case str():
                pass
            case _:
                elements.append({"type": "text", "text": plain(rich(part))})
    return _rich_cell(elements or [{"type": "text", "text": "-"}])


def table_blocks(table: Table) -> list[Block] | None:
    """Slack's table blocks for the table, each headed by the column names and holding whole
    rows (at most Slack's 100 rows, and TABLE_BLOCK_CHARS): one per message page, since a
    message takes one table. None when the table is wider than a table block's 20 cells."""
    width = len(table.headers)
    if not width or width > limits.TABLE_CELLS:
        return None
    status_col = table.headers.index("status") if "status" in table.headers else None
    header = [_raw(h) for h in table.headers]
    blocks: list[Block] = []
    rows: list[list[Block]] = []
    weight = size_of([{"type": "table", "rows": [header]}])
    for source in table.rows:
        cells = [_cell(c, status=i == status_col) for i, c in enumerate(source[:width])]
        cells += [_raw("")] * (width - len(cells))
        row_weight = len(json.dumps(cells, ensure_ascii=False)) + 1
        full = len(rows) + 1 >= limits.TABLE_ROWS or weight + row_weight > TABLE_BLOCK_CHARS
        if rows and full:
            blocks.append(_table(header, rows, width))
            rows, weight = [], size_of([{"type": "table", "rows": [header]}])
        rows.append(cells)
        weight += row_weight
    blocks.append(_table(header, rows, width))
    return blocks


def _table(header: list[Block], rows: list[list[Block]], width: int) -> Block:
    return {
        "type": "table",
        "column_settings": [{"is_wrapped": True} for _ in range(width)],
        "rows": [header, *rows],
    }


def button_element(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{button.action}",
        "text": {"type": "plain_text", "text": cut(button.label, limits.BUTTON_TEXT)},
        "value": button.value[: limits.BUTTON_VALUE],
    }
    if button.style is ButtonStyle.PRIMARY:
        element["style"] = "primary"
    elif button.style is ButtonStyle.DANGER:
        element["style"] = "danger"
    if button.confirm:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": cut(f"{button.label}?", limits.CONFIRM_TITLE)},
            "text": {"type": "plain_text", "text": cut(button.confirm, limits.CONFIRM_TEXT)},
            "confirm": {"type": "plain_text", "text": cut(button.label, limits.CONFIRM_BUTTON)},
            "deny": {"type": "plain_text", "text": "Keep it"},
        }
    return element


def fallback_text(reply: Reply) -> str:
    """The text Slack shows in notifications and where blocks cannot render; it is parsed as
    mrkdwn too, so it is escaped like the blocks."""
    return cut(mrkdwn(reply.title), limits.FALLBACK_TEXT)


def _mrkdwn_object(text: str) -> Block:
    # verbatim: Slack must not turn bare words such as @here or #general into mentions or
    # links; the only mentions are the ones written here from UserRef and ChannelRef.
    return {"type": "mrkdwn", "text": text if text.strip() else "\u200b", "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn_object(text)}


def _field_text(name: str, value: Content, limit: int) -> str:
    head = bold(name, limit)
    return f"{head}\n{cut(mrkdwn(value), limit - len(head) - 1)}"


def _head(reply: Reply) -> list[Block]:
    emoji = TONE_EMOJI[reply.tone]
    blocks: list[Block] = [_section(emoji + bold(reply.title, MAX_TEXT - len(emoji)))]
    inline = [f for f in reply.fields if f.inline]
    for start in range(0, len(inline), MAX_FIELDS):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn_object(_field_text(f.name, f.value, MAX_FIELD))
                    for f in inline[start : start + MAX_FIELDS]
                ],
            }
        )
    blocks.extend(
        _section(_field_text(item.name, item.value, MAX_TEXT))
        for item in reply.fields
        if not item.inline
    )
    # Room is kept for the body's first block, the footer, the page note and the buttons.
    return blocks[: limits.MESSAGE_BLOCKS - 4]


def _body(reply: Reply) -> list[Block]:
    blocks: list[Block] = []
    if reply.table is not None:
        tables = table_blocks(reply.table)
        if tables is not None:
            blocks.extend(tables)
        else:  # wider than a table block: monospace rows instead
            blocks.extend(_section(chunk) for chunk in table_chunks(reply.table))
    if reply.lines:
        blocks.extend(_section(chunk) for chunk in _chunks(mrkdwn(line) for line in reply.lines))
    return blocks


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn_object(cut(text, limits.CONTEXT_TEXT))]}


def _actions(buttons: Sequence[Block]) -> list[Block]:
    return [{"type": "actions", "elements": list(buttons)}] if buttons else []


def more_button(token: str, page: int, count: int) -> Block:
    """Shows page `page` (0-based) of `count`; the token names the reply the adapter keeps."""
    return {
        "type": "button",
        "action_id": MORE_ACTION,
        "text": {"type": "plain_text", "text": f"More ({page + 1} of {count})"},
        "value": f"{token}:{page}",
    }


def size_of(blocks: Sequence[Block]) -> int:
    """What the blocks weigh against Slack's unwritten total (their JSON)."""
    return len(json.dumps(list(blocks), ensure_ascii=False))


def _tables(blocks: Sequence[Block]) -> int:
    return sum(1 for block in blocks if block.get("type") == "table")


def _fits(blocks: Sequence[Block]) -> bool:
    """Within the block count and size, with at most one table (Slack takes one a message)."""
    return (
        len(blocks) <= limits.MESSAGE_BLOCKS
        and size_of(blocks) <= limits.MESSAGE_BLOCK_CHARS
        and _tables(blocks) <= 1
    )


_PAGE_NOTE = 400
"""What a page's note and More button weigh at most, kept free while a page is filled."""


def _split(reply: Reply) -> list[list[Block]]:
    """The body's blocks in pages: each page takes whole blocks (whole table rows) while the
    message stays within Slack's block count and size with its fixed parts."""
    head, body = _head(reply), _body(reply)
    tail = [_context(mrkdwn(reply.footer))] if reply.footer else []
    buttons = [button_element(b) for b in reply.buttons[: limits.ACTIONS_ELEMENTS - 1]]
    first = [*head, *tail, *_actions(buttons)]
    later = [_section(bold(rich(reply.title, " (continued)")))]
    pages: list[list[Block]] = [[]]
    for block in body:
        fixed = first if len(pages) == 1 else later
        trial = [*fixed, *pages[-1], block]
        room = (
            len(trial) + 2 <= limits.MESSAGE_BLOCKS
            and size_of(trial) + _PAGE_NOTE <= limits.MESSAGE_BLOCK_CHARS
            and _tables(trial) <= 1
        )
        if pages[-1] and not room:
            pages.append([])
        pages[-1].append(block)
    return pages


def _whole(reply: Reply) -> list[Block]:
    head = _head(reply)
    tail = [_context(mrkdwn(reply.footer))] if reply.footer else []
    all_buttons = [button_element(b) for b in reply.buttons[: limits.ACTIONS_ELEMENTS]]
    return [*head, *_body(reply), *tail, *_actions(all_buttons)]


def reply_pages(reply: Reply) -> int:
    """How many messages the reply takes on Slack (a More button leads from one to the next)."""
    return 1 if _fits(_whole(reply)) else len(_split(reply))


def reply_blocks(reply: Reply, *, page: int = 0, more_token: str | None = None) -> list[Block]:
    """One message's blocks: the whole reply when it fits, else page `page` of it.

    Every page keeps within Slack's limits by whole blocks: content is cut, the buttons never
    are (they stay on the first page), and a page that is not the last ends with a note and,
    given a `more_token` the adapter can answer, a More button for the next page.
    """
    whole = _whole(reply)
    if _fits(whole):
        return whole
    head = _head(reply)
    tail = [_context(mrkdwn(reply.footer))] if reply.footer else []
    pages = _split(reply)
    page = min(max(page, 0), len(pages) - 1)
    count = len(pages)
    more: list[Block] = []
    note: list[Block] = []
    if page + 1 < count:
        if more_token is not None:
            more = [more_button(more_token, page + 1, count)]
            note = [_context(f"Page {page + 1} of {count}: More shows the next.")]
        else:
            note = [_context(f"Page {page + 1} of {count}: the rest did not fit in a message.")]
    elif count > 1:
        note = [_context(f"Page {page + 1} of {count}.")]
    if page == 0:
        buttons = [button_element(b) for b in reply.buttons[: limits.ACTIONS_ELEMENTS - 1]]
        return [*head, *pages[0], *tail, *note, *_actions([*buttons, *more])]
    later = [_section(bold(rich(reply.title, " (continued)")))]
    return [*later, *pages[page], *note, *_actions(more)]
