"""Fixtures for the Discord adapter tests: importing bot.discord first silences audioop."""

import bot.discord  # noqa: F401  # before any bare `import discord` in the test modules
