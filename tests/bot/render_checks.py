"""Test helpers: the whole of a Slack and a Discord rendering of a Reply checked at once: no
live mention but the structured ones, bold and code spans balanced, markdown escaped."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View

from bot.chat.discord import limits as dl
from bot.chat.discord.buttons import custom_id, fits
from bot.chat.discord.render import MORE_ACTION as DISCORD_MORE
from bot.chat.discord.render import code_cell, page_count, render
from bot.chat.slack import limits as sl
from bot.chat.slack.blocks import (
    MAX_FIELDS,
    MORE_ACTION,
    fallback_text,
    mrkdwn,
    reply_blocks,
    reply_pages,
    size_of,
    table_blocks,
    table_chunks,
)
from handlers.replies import Reply, UserRef, plain, refs_of
from tests.bot.markup import (
    assert_discord_inert,
    assert_discord_markdown_escaped,
    assert_slack_inert,
    assert_slack_mrkdwn_blocks_verbatim,
    json_strings,
    mrkdwn_texts,
)

SLACK_USER, SLACK_CHANNEL = "U1", "C1"
DISCORD_USER, DISCORD_CHANNEL = "123456789012345678", "223456789012345678"
"""The ids of the structured references the tests put beside hostile text."""

Json = dict[str, Any]

_TITLE = re.compile(r"(:[a-z_]+: )?(\*[^*\n]+\*)?|\u200b")
_FIELD = re.compile(r"(\*[^*\n]+\*)?\n[\s\S]*|\u200b")  # a blank field: a zero-width space
_CODE = re.compile(r"```[^`]*```(\n[^`]*)?")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def check_slack(reply: Reply) -> None:
    """Slack's blocks and fallback text: inert, verbatim, bold and code spans balanced."""
    blocks = reply_blocks(reply)
    assert_slack_inert(
        [*mrkdwn_texts(blocks), fallback_text(reply)],
        users={SLACK_USER, DISCORD_USER},
        channels={SLACK_CHANNEL, DISCORD_CHANNEL},
    )
    assert_slack_mrkdwn_blocks_verbatim(blocks)
    title = blocks[0]["text"]["text"]
    assert _TITLE.fullmatch(title), f"the title's bold is broken: {title!r}"
    if isinstance(reply.title, str) and reply.title.strip() and len(reply.title) < 100:
        # Escaped, not dropped: the words come back (with look-alikes for * and newlines).
        shown = _unescape(title.split("*", 1)[1][:-1])
        assert shown == reply.title.replace("*", "\u2217").replace("\n", " ").strip()
    sections = iter(blocks[1:])
    inline = [f for f in reply.fields if f.inline]
    for _ in range(0, len(inline), MAX_FIELDS):
        for item in next(sections)["fields"]:
            assert _FIELD.fullmatch(item["text"]), f"a field name's bold is broken: {item}"
    for _ in (f for f in reply.fields if not f.inline):
        text = next(sections)["text"]["text"]
        assert _FIELD.fullmatch(text), f"a field name's bold is broken: {text!r}"
    if reply.table is not None:
        tables = table_blocks(reply.table)
        if tables is not None:
            assert next(sections) == tables[0], "the table block follows the fields"
        else:
            for chunk in table_chunks(reply.table):
                assert next(sections)["text"]["text"] == chunk
                assert _CODE.fullmatch(chunk), f"the table's code block is broken: {chunk!r}"


def check_discord(reply: Reply) -> None:
    """Discord's message: pings only `reply.mentions`, text inert and markdown escaped."""
    message = render(reply)
    pinged = [m for m in reply.mentions if m.isdigit()]
    allowed = message.allowed_mentions.to_dict()
    assert allowed["parse"] == [], "no @everyone, @here or role is ever allowed"
    assert allowed.get("users", []) == [int(m) for m in pinged]
    assert not allowed.get("roles")
    assert message.content == (" ".join(f"<@{m}>" for m in pinged) or None)
    embed = message.embed.to_dict()
    texts = [text for key, text in json_strings(embed) if key not in ("type", "url")]
    assert_discord_inert(
        [*texts, message.content or ""], users={DISCORD_USER}, channels={DISCORD_CHANNEL}
    )
    assert_discord_markdown_escaped(message.embed.title or "")
    for item in message.embed.fields:
        assert_discord_markdown_escaped(item.name or "")
        assert_discord_markdown_escaped(item.value or "")
    description = message.embed.description or ""
    if reply.table is not None:
        # The renderer's code block ends the description; no backtick of a cell is in it.
        start = description.rfind("```", 0, len(description) - 3)
        block, description = description[start:], description[:start]
        assert block.endswith("```")
        assert "`" not in block[3:-3]
    pinged_refs = {UserRef(user_id=m) for m in reply.mentions}
    if any(r not in pinged_refs for r in refs_of([reply.title])):
        assert description.startswith("**")
        description = description[2:].replace("**", "", 1)
    description = re.sub(r"(?m)^-# ", "", description)
    assert_discord_markdown_escaped(description)


# ---------------------------------------------------------------------------- platform limits
# What each platform refuses, checked on the JSON that goes over the wire (the fakes answer
# it as the platforms do). The limits are the adapters' own modules, cited there.


def _over(problems: list[str], what: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        problems.append(f"{what} holds {len(value)} characters, more than {limit}")


def discord_message_problems(body: Json) -> list[str]:
    """Why Discord would answer 50035 Invalid Form Body to this message (empty: it would not)."""
    problems: list[str] = []
    _over(problems, "content", body.get("content"), dl.MESSAGE_CONTENT)
    embeds = body.get("embeds") or []
    if len(embeds) > dl.MESSAGE_EMBEDS:
        problems.append(f"{len(embeds)} embeds, more than {dl.MESSAGE_EMBEDS}")
    total = 0
    for i, embed in enumerate(embeds):
        fields = embed.get("fields") or []
        texts = [
            embed.get("title"),
            embed.get("description"),
            (embed.get("footer") or {}).get("text"),
            (embed.get("author") or {}).get("name"),
            *(f.get("name") for f in fields),
            *(f.get("value") for f in fields),
        ]
        total += sum(len(t) for t in texts if t)
        _over(problems, f"embed {i} title", embed.get("title"), dl.EMBED_TITLE)
        _over(problems, f"embed {i} description", embed.get("description"), dl.EMBED_DESCRIPTION)
        _over(
            problems, f"embed {i} footer", (embed.get("footer") or {}).get("text"), dl.FOOTER_TEXT
        )
        if len(fields) > dl.EMBED_FIELDS:
            problems.append(f"embed {i} has {len(fields)} fields, more than {dl.EMBED_FIELDS}")
        for field in fields:
            if not field.get("name") or not field.get("value"):
                problems.append(f"embed {i} has a field without a name or a value: {field}")
            _over(problems, f"embed {i} field name", field.get("name"), dl.FIELD_NAME)
            _over(problems, f"embed {i} field value", field.get("value"), dl.FIELD_VALUE)
        description = embed.get("description") or ""
        if description.count("```") % 2:
            problems.append(f"embed {i} description has an unclosed code block")
    if total > dl.MESSAGE_EMBED_CHARS:
        problems.append(f"the embeds hold {total} characters, more than {dl.MESSAGE_EMBED_CHARS}")
    rows = body.get("components") or []
    if len(rows) > dl.MESSAGE_ROWS:
        problems.append(f"{len(rows)} action rows, more than {dl.MESSAGE_ROWS}")
    for row in rows:
        buttons = row.get("components") or []
        if len(buttons) > dl.ROW_BUTTONS:
            problems.append(f"a row of {len(buttons)} buttons, more than {dl.ROW_BUTTONS}")
        for button in buttons:
            _over(problems, "button label", button.get("label"), dl.BUTTON_LABEL)
            _over(problems, "custom_id", button.get("custom_id"), dl.CUSTOM_ID)
    return problems


def discord_modal_problems(modal: Json) -> list[str]:
    """Why Discord would refuse to open this modal (the user sees the interaction fail)."""
    problems: list[str] = []
    _over(problems, "modal title", modal.get("title"), dl.MODAL_TITLE)
    _over(problems, "modal custom_id", modal.get("custom_id"), dl.CUSTOM_ID)
    rows = modal.get("components") or []
    if not 1 <= len(rows) <= dl.MODAL_COMPONENTS:
        problems.append(f"{len(rows)} modal components, not 1 to {dl.MODAL_COMPONENTS}")
    for row in rows:
        for item in row.get("components") or [row.get("component") or {}]:
            label = item.get("label") or row.get("label")
            if not label:
                problems.append(f"a text input without a label: {item}")
            _over(problems, f"label {label!r}", label, dl.TEXT_INPUT_LABEL)
            _over(problems, "text input custom_id", item.get("custom_id"), dl.CUSTOM_ID)
            _over(problems, "placeholder", item.get("placeholder"), dl.TEXT_INPUT_PLACEHOLDER)
            most = item.get("max_length")
            if most is not None and not 1 <= most <= dl.TEXT_INPUT_VALUE:
                problems.append(f"max_length {most} is not 1 to {dl.TEXT_INPUT_VALUE}")
            value = item.get("value")
            if value is not None:
                _over(
                    problems,
                    f"value of {item.get('custom_id')}",
                    value,
                    most or dl.TEXT_INPUT_VALUE,
                )
    return problems


def discord_choices_problems(choices: list[Json]) -> list[str]:
    """Why Discord would drop this autocomplete answer (the user sees no suggestions)."""
    problems: list[str] = []
    if len(choices) > dl.CHOICES:
        problems.append(f"{len(choices)} choices, more than {dl.CHOICES}")
    for choice in choices:
        _over(problems, "choice name", choice.get("name"), dl.CHOICE_NAME)
        value = choice.get("value")
        _over(problems, "choice value", value if isinstance(value, str) else None, dl.CHOICE_VALUE)
        if not choice.get("name"):
            problems.append(f"a choice without a name: {choice}")
    return problems


def slack_blocks_problems(blocks: list[Json], text: str | None = None) -> list[str]:
    """Why Slack would answer invalid_blocks or msg_blocks_too_long: slack_sdk's own model
    checks, and the documented limits it does not check."""
    problems: list[str] = []
    if len(blocks) > sl.MESSAGE_BLOCKS:
        problems.append(f"{len(blocks)} blocks, more than {sl.MESSAGE_BLOCKS}")
    if size_of(blocks) > sl.MESSAGE_BLOCK_CHARS:
        problems.append(f"the blocks weigh {size_of(blocks)}, more than {sl.MESSAGE_BLOCK_CHARS}")
    _over(problems, "text", text, sl.MESSAGE_TEXT)
    tables = sum(1 for block in blocks if block.get("type") == "table")
    if tables > 1:
        problems.append(f"{tables} tables in one message (Slack: only_one_table_allowed)")
    for block in blocks:
        try:
            SlackBlock.parse(block).validate_json()  # type: ignore[union-attr]
        except SlackObjectFormationError as error:
            problems.append(f"slack_sdk refuses {block.get('type')}: {error}")
        problems += _slack_block_problems(block)
    return problems


def _table_cell_problems(cell: Json) -> list[str]:
    match cell.get("type"):
        case "raw_text":
            return [] if str(cell.get("text", "")).strip() else ["a raw_text cell with no text"]
        case "rich_text":
            sections = cell.get("elements") or []
            parts = [e for s in sections for e in s.get("elements", [])]
            kinds = {"text", "emoji", "user", "channel"}
            if not parts or any(p.get("type") not in kinds for p in parts):
                return [f"a rich_text cell of {[p.get('type') for p in parts]}"]
            return []
        case other:
            return [f"a table cell of type {other}"]


def _slack_block_problems(block: Json) -> list[str]:
    problems: list[str] = []
    match block.get("type"):
        case "table":
            rows = block.get("rows") or []
            if not 1 <= len(rows) <= sl.TABLE_ROWS:
                problems.append(f"a table of {len(rows)} rows")
            widths = {len(row) for row in rows}
            if len(widths) != 1 or not 1 <= max(widths) <= sl.TABLE_CELLS:
                problems.append(f"table rows of {sorted(widths)} cells")
            for row in rows:
                for cell in row:
                    problems += _table_cell_problems(cell)
        case "section":
            objs = [*([block["text"]] if "text" in block else []), *block.get("fields", [])]
            if not objs:
                problems.append("a section with neither text nor fields")
            for obj in objs:
                if not str(obj.get("text", "")).strip():
                    problems.append(f"a section with empty text: {block}")
                if str(obj.get("text", "")).count("```") % 2:
                    problems.append(f"a section with an unclosed code block: {obj['text'][:80]!r}")
            for item in block.get("fields", []):
                _over(problems, "section field", item.get("text"), sl.FIELD_TEXT)
        case "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= sl.CONTEXT_ELEMENTS:
                problems.append(f"a context of {len(elements)} elements")
            for item in elements:
                _over(problems, "context text", item.get("text"), sl.CONTEXT_TEXT)
                if not str(item.get("text", "")).strip():
                    problems.append("a context with empty text")
        case "header":
            _over(problems, "header", block["text"]["text"], sl.HEADER_TEXT)
        case "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= sl.ACTIONS_ELEMENTS:
                problems.append(f"an actions block of {len(elements)} elements")
            for item in elements:
                _over(problems, "button text", item["text"]["text"], sl.BUTTON_TEXT)
                _over(problems, "action_id", item.get("action_id"), sl.ACTION_ID)
                _over(problems, "button value", item.get("value"), sl.BUTTON_VALUE)
                confirm = item.get("confirm") or {}
                _over(
                    problems,
                    "confirm title",
                    (confirm.get("title") or {}).get("text"),
                    sl.CONFIRM_TITLE,
                )
                _over(
                    problems,
                    "confirm text",
                    (confirm.get("text") or {}).get("text"),
                    sl.CONFIRM_TEXT,
                )
                _over(
                    problems,
                    "confirm button",
                    (confirm.get("confirm") or {}).get("text"),
                    sl.CONFIRM_BUTTON,
                )
    return problems


def slack_view_problems(view: Json) -> list[str]:
    """Why views.open would answer invalid_arguments for this modal."""
    problems: list[str] = []
    try:
        View(**view).validate_json()
    except SlackObjectFormationError as error:
        problems.append(f"slack_sdk refuses the view: {error}")
    _over(problems, "modal title", view["title"]["text"], sl.MODAL_TITLE)
    _over(problems, "private_metadata", view.get("private_metadata"), sl.MODAL_PRIVATE_METADATA)
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            problems += _slack_block_problems(block)
            continue
        _over(problems, "input label", block["label"]["text"], sl.INPUT_LABEL)
        _over(problems, "input hint", (block.get("hint") or {}).get("text"), sl.INPUT_HINT)
        element = block.get("element") or {}
        _over(
            problems, "placeholder", (element.get("placeholder") or {}).get("text"), sl.PLACEHOLDER
        )
        most = element.get("max_length")
        if most is not None and not 1 <= most <= sl.INPUT_MAX_LENGTH:
            problems.append(f"max_length {most} is not 1 to {sl.INPUT_MAX_LENGTH}")
        initial = element.get("initial_value")
        if initial is not None and most is not None:
            _over(problems, f"initial value of {element.get('action_id')}", initial, most)
        for option in element.get("options", []):
            _over(problems, "option text", option["text"]["text"], sl.OPTION_TEXT)
            _over(problems, "option value", option.get("value"), sl.OPTION_VALUE)
    return problems


def slack_pages(reply: Reply) -> list[list[Json]]:
    """Every message a reply takes on Slack, each page as the More button shows it."""
    return [reply_blocks(reply, page=p, more_token="t0") for p in range(reply_pages(reply))]


def check_slack_limits(reply: Reply) -> None:
    """Every page within Slack's limits, every table row whole in one section, every button
    of the reply kept, and a More button on every page but the last."""
    pages = slack_pages(reply)
    for blocks in [*pages, reply_blocks(reply)]:
        problems = slack_blocks_problems(blocks, fallback_text(reply))
        assert not problems, problems
    texts = [t for blocks in pages for t in mrkdwn_texts(blocks)]
    tables = [b for blocks in pages for b in blocks if b["type"] == "table"]
    shown_rows = [[_cell_text(c) for c in row] for t in tables for row in t["rows"][1:]]
    if reply.table is not None and tables:
        # Every row whole in one table row, in order; a cell is cut only past its limit.
        assert len(shown_rows) == len(reply.table.rows)
        for row, shown in zip(reply.table.rows, shown_rows, strict=True):
            for cell, text in zip(row, shown, strict=False):
                want = plain(cell).strip() or "-"
                assert text.strip() == want or (text.endswith("…") and len(want) > 500), (
                    f"cell cut: {want[:80]!r} shown as {text[:80]!r}"
                )
    elif reply.table is not None:
        for row in reply.table.rows:
            cells = [mrkdwn(c, span="```") for c in row if plain(c)]
            assert any(all(c in t for c in cells) for t in texts), f"row cut: {cells}"
    actions = [
        (e["action_id"], e.get("value"))
        for blocks in pages
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    for button in reply.buttons[: sl.ACTIONS_ELEMENTS - 1]:
        assert (f"ftbot_{button.action}", button.value[: sl.BUTTON_VALUE]) in actions, button
    for number, blocks in enumerate(pages):
        more = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
        has_more = any(e["action_id"] == MORE_ACTION for e in more)
        assert has_more == (number + 1 < len(pages)), (number, len(pages))


def _cell_text(cell: Json) -> str:
    """What a table cell shows, as plain text (a user or channel element as its mention)."""
    if cell["type"] == "raw_text":
        return str(cell["text"])
    out = []
    for part in (e for s in cell["elements"] for e in s["elements"]):
        match part["type"]:
            case "text":
                out.append(part["text"])
            case "user":
                out.append(f"@{part['user_id']}")
            case "channel":
                out.append(f"#{part['channel_id']}")
    return "".join(out)


def discord_pages(reply: Reply) -> list[Json]:
    """Every message a reply takes on Discord, as the JSON discord.py sends."""
    out = []
    for page in range(page_count(reply)):
        message = render(reply, page=page, more_token="t0")
        out.append(
            {
                "content": message.content,
                "embeds": [e.to_dict() for e in message.embeds],
                "components": message.view.to_components() if message.view else [],
            }
        )
    return out


def check_discord_limits(reply: Reply) -> None:
    """Every message within Discord's limits, every table row whole on one line of one
    embed, every button of the reply kept, and a More button on every page but the last."""
    pages = discord_pages(reply)
    for body in pages:
        problems = discord_message_problems(body)
        assert not problems, problems
    lines = [
        line
        for body in pages
        for e in body["embeds"]
        for line in (e.get("description") or "").splitlines()
    ]
    if reply.table is not None:
        for row in reply.table.rows:
            cells = [code_cell(c) for c in row if plain(c)]
            assert any(all(c in line for c in cells) for line in lines), f"row cut: {cells}"
    custom_ids = [
        b["custom_id"] for body in pages for row in body["components"] for b in row["components"]
    ]
    for button in reply.buttons[: dl.ROW_BUTTONS * dl.MESSAGE_ROWS - 1]:
        if fits(button.action, button.value):
            assert custom_id(button.action, button.value) in custom_ids, button
    for number, body in enumerate(pages):
        ids = [b["custom_id"] for row in body["components"] for b in row["components"]]
        has_more = any(i.startswith(f"ftbot:{DISCORD_MORE}:") for i in ids)
        assert has_more == (number + 1 < len(pages)), (number, len(pages))
