"""Discord adapter: the API's documented limits, written down once for rendering and tests.

Sources: Discord's API reference (https://discord.com/developers/docs):
resources/message#embed-object-embed-limits (title 256, description 4096, 25 fields, field
name 256 and value 1024, footer 2048, author 256, 6000 characters over all embeds of a
message), resources/message#create-message (content 2000, 10 embeds, 10 files),
components/reference (custom_id 100, button label 80, 5 action rows of 5 buttons, select
25 options, text input label 45, value and max_length 4000, placeholder 100, modal title 45,
5 components), interactions/application-commands (autocomplete: 25 choices, name and value
100; option and command descriptions 100), resources/channel#start-thread (name 100).
"""

from __future__ import annotations

EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER_TEXT = 2048
AUTHOR_NAME = 256
MESSAGE_EMBED_CHARS = 6000
"""Title, description, field names and values, footer and author of every embed, summed."""
MESSAGE_EMBEDS = 10
MESSAGE_CONTENT = 2000
MESSAGE_FILES = 10
CUSTOM_ID = 100
BUTTON_LABEL = 80
ROW_BUTTONS = 5
MESSAGE_ROWS = 5
SELECT_OPTIONS = 25
MODAL_TITLE = 45
MODAL_COMPONENTS = 5
TEXT_INPUT_LABEL = 45
TEXT_INPUT_VALUE = 4000
"""A text input's value, default and max_length."""
TEXT_INPUT_PLACEHOLDER = 100
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100
COMMAND_DESCRIPTION = 100
THREAD_NAME = 100
NONCE = 25
