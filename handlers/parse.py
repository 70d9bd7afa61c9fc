"""Core layer: the text grammar shared by Slack and the console.

`/finetune start file=train.jsonl model=gpt-4.1-mini epochs=3` -> StartRequest. Values may be
quoted; bare words fill the command's positional options in order. Every failure is a UsageError.
"""

from __future__ import annotations

import re
import shlex

from handlers.errors import UsageError
from handlers.replies import CommandRef
from handlers.requests import (
    KEY_IN_TEXT,
    SPECS,
    HelpRequest,
    Request,
    build_request,
    resolve_command,
)
from handlers.secrets import looks_like_secret

PREFIXES = ("/finetune", "finetune", "/ft")
MAX_LINE = 4000
_OPTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse(text: str) -> Request:
    """Turn one command line into a typed request, or raise UsageError."""
    if looks_like_secret(text):
        # Before anything below can quote a token back into the channel.
        raise UsageError(KEY_IN_TEXT, usage=SPECS["setup"].usage_ref)
    if len(text) > MAX_LINE:
        raise UsageError(
            f"The command is too long ({len(text)} characters, at most {MAX_LINE}).",
            usage=_usage_guess(text),
        )
    try:
        tokens = shlex.split(text, comments=False, posix=True)
    except ValueError as error:
        if not _takes_free_text(text):
            raise UsageError(
                f"Could not read the command: {error} (check your quotes).",
                usage=_usage_guess(text),
            ) from None
        tokens = text.split()  # a prompt such as "What's new?" is text, not shell quoting
    if tokens and tokens[0].lower() in PREFIXES:
        tokens = tokens[1:]
    if not tokens:
        return HelpRequest()
    command, *rest = tokens
    spec = resolve_command(command)
    if spec is None:
        return build_request(command, {})  # raises the unknown-command error
    values: dict[str, object] = {}
    positionals = list(spec.positionals)
    tail = spec.positionals[-1] if spec.positionals and spec.positionals[-1].rest else None
    for token in rest:
        name, sep, value = token.partition("=")
        if tail is not None and tail.name in values and not (sep and spec.option(name)):
            values[tail.name] = f"{values[tail.name]} {token}"  # the prompt goes on
            continue
        if sep and _OPTION_NAME.match(name):
            option = spec.option(name)
            if option is None:
                build_request(spec.name, {name: value})  # raises the unknown-option error
                raise AssertionError("unreachable")
            if option.name in values:
                raise UsageError(f"Option '{option.name}' is given twice.", usage=spec.usage_ref)
            values[option.name] = value
        else:
            if not positionals:
                raise UsageError(
                    f"Unexpected '{token[:40]}' for {spec.name}; options are written key=value.",
                    usage=spec.usage_ref,
                )
            option = positionals.pop(0)
            if option.name in values:
                raise UsageError(f"Option '{option.name}' is given twice.", usage=spec.usage_ref)
            values[option.name] = token
    return build_request(spec.name, values)


def _takes_free_text(text: str) -> bool:
    words = text.split()[:2]
    if words and words[0].lower() in PREFIXES:
        words = words[1:]
    spec = resolve_command(words[0]) if words else None
    return spec is not None and any(o.rest for o in spec.options)


def _usage_guess(text: str) -> str | CommandRef:
    """The usage of the command the line seems to name, for lines that do not tokenize."""
    words = text.split()[:2]
    if words and words[0].lower() in PREFIXES:
        words = words[1:]
    spec = resolve_command(words[0]) if words else None
    return spec.usage_ref if spec else "/finetune help"


__all__ = ["SPECS", "parse"]
