"""The bot's aiohttp app: an unexpected error in a route is a 500 and one log line."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from bot.infra.metrics import Metrics
from bot.infra.web import WebServer, build_web_app


async def test_a_route_that_raises_is_a_500_with_one_line_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(_request: web.Request) -> web.Response:
        raise KeyError("sk-user-data-that-must-not-be-logged")

    app = build_web_app(metrics=Metrics(), checks={})
    app.router.add_post("/broken", broken)
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"http://127.0.0.1:{server.port}/broken", data=b"x") as response,
            ):
                status = response.status
                answer = await response.json()
    finally:
        await server.stop()
    assert (status, answer) == (500, {"error": "internal error"})
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    line = loud[0].getMessage()
    assert "POST /broken failed: KeyError at " in line
    assert "test_web.py" in line, "where it was raised"
    assert "sk-user-data" not in line
    assert not any(r.exc_info or r.exc_text for r in caplog.records)
