"""Slack adapter: Block Kit's documented limits, written down once for rendering and tests.

Sources: the Block Kit reference pages (https://docs.slack.dev/reference/block-kit/blocks,
.../block-elements/button-element, .../composition-objects/confirmation-dialog-object,
.../blocks/table-block, .../surfaces/modals), which slack_sdk's models also check
(`slack_sdk.models.blocks`: SectionBlock.text_max_length 3000, fields_max_length 10,
ButtonElement.text_max_length 75, value_max_length 2000, action_id_max_length 255).
"""

from __future__ import annotations

MESSAGE_BLOCKS = 50
"""Blocks in one message ("up to 50 blocks"; modals and Home tabs take 100)."""
MESSAGE_BLOCK_CHARS = 12_000
"""The text all of a message's blocks may hold together. Slack documents no total, but
answers `msg_blocks_too_long` a little above 13,000 characters of blocks
(https://github.com/slackapi/bolt-js/issues/2509); this budget stays under it."""
MESSAGE_TEXT = 40_000
"""chat.postMessage `text` (the fallback); longer is truncated by Slack."""
FALLBACK_TEXT = 3000
"""What the renderer puts in the fallback `text` (a notification's line, not the message)."""
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
TABLE_ROWS = 100
TABLE_CELLS = 20
MODAL_TITLE = 24
MODAL_BUTTON = 24
MODAL_BLOCKS = 100
MODAL_PRIVATE_METADATA = 3000
INPUT_LABEL = 2000
INPUT_HINT = 2000
PLACEHOLDER = 150
INPUT_MAX_LENGTH = 3000
"""plain_text_input's max_length may be at most 3000."""
OPTION_TEXT = 75
OPTION_VALUE = 150
SELECT_OPTIONS = 100
