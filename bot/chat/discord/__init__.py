"""Discord adapter: the `/finetune` app-command group, persistent buttons, embeds and notices."""

import warnings

with warnings.catch_warnings():
    # discord.py imports audioop for voice, which Python 3.11+ deprecates; no voice is used
    # here, and the test run turns every warning into an error.
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    import discord  # noqa: F401
