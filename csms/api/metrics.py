"""Request metrics of the API, by route template (``/v1/stations/{station_id}``, never the
identity itself, so the label set stays small)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms import metrics


class MetricsMiddleware:
    """Counts requests by method, route and status, and times them to the first byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        timed = False

        def observe() -> None:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            metrics.HTTP_SECONDS.labels(scope["method"], path).observe(
                time.perf_counter() - started)

        async def sending(message: Message) -> None:
            nonlocal status, timed
            if message["type"] == "http.response.start":
                status = message["status"]
                observe()
                timed = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not timed:
                observe()
            route: Any = scope.get("route")
            metrics.HTTP_REQUESTS.labels(scope["method"], getattr(route, "path", None)
                                         or "unmatched", str(status)).inc()
