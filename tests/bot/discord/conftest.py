"""Fixtures for the Discord adapter tests: importing bot.chat.discord first silences audioop."""

import bot.chat.discord  # noqa: F401  # before any bare `import discord` in the test modules
