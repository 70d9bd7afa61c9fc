"""Fixtures for the adapter tests: the gallery of every reply kind, gathered once."""

from __future__ import annotations

import asyncio

import pytest

from tests.bot.reply_gallery import Gallery, gather


@pytest.fixture(scope="session")
def reply_gallery(tmp_path_factory: pytest.TempPathFactory) -> Gallery:
    """Every reply kind the core makes (tests/bot/reply_gallery.py), for both platforms'
    limit tests; gathered once a run since it trains a hundred sandbox jobs."""
    return asyncio.run(gather(tmp_path_factory.mktemp("gallery")))
