"""Infrastructure: the aiohttp web server: /healthz, /readyz, /metrics, no handler crash."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.infra.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


@web.middleware
async def answer_every_request(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An unexpected error in any route is a 500 and one log line, never a traceback dump.

    The line names the route, the error's type and where it was raised; never the error's
    text or the request, which may carry user data or a secret.
    """
    try:
        return await handler(request)
    except web.HTTPException:
        raise  # aiohttp's own answers (404, 405, 413) are responses, not failures
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        log.error(
            "%s %s failed: %s at %s", request.method, request.path, type(error).__name__, where
        )
        return web.json_response({"error": "internal error"}, status=500)


def build_web_app(*, metrics: Metrics, checks: dict[str, ReadinessCheck]) -> web.Application:
    app = web.Application(middlewares=[answer_every_request])

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        results: dict[str, str] = {}
        ready = True
        for name, check in checks.items():
            try:
                ok, detail = await check()
            except Exception as error:  # a failing check means not ready, never a 500
                ok, detail = False, type(error).__name__
            results[name] = "ok" if ok else f"failing: {detail}"
            ready = ready and ok
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status=200 if ready else 503,
        )

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(
            text=await metrics.render(),
            headers={"Content-Type": CONTENT_TYPE, "X-Content-Type-Options": "nosniff"},
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


class WebServer:
    """Starts and stops the aiohttp site on the running loop."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self._port = port
        self.port = port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, backlog=1024)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("web server listening", extra={"host": self._host, "port": self.port})

    async def stop(self) -> None:
        await self._runner.cleanup()
