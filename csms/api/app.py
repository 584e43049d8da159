"""The API's application: routers, error handling, and the process's live parts (pool,
operations client, feed hub, webhook deliverer), opened and closed with the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from csms.api import (
    api_keys,
    calls,
    dashboard,
    drivers,
    errors,
    events,
    fleet,
    meter_values,
    programs,
    sites,
    stations,
    stream,
    tokens,
    transactions,
    webhooks,
)
from csms.api import profiles as profiles_routes
from csms.api.context import ApiSettings, ApiState
from csms.api.health import router as health_router
from csms.api.metrics import MetricsMiddleware
from csms.api.outbox import Deliverer
from csms.operations.client import Operations
from csms.store import events_feed
from csms.store.db import open_pool

DESCRIPTION = """\
The V2G CSMS over HTTP: stations, any OCPP call to a station, transactions and meter values,
charging profiles, fleet capacity, demand-response programs and grid events (dispatch in,
reports out), drivers' settings, a live stream of what happens, and signed webhooks.

Authenticate with `Authorization: Bearer KEY` (`csms api-keys create NAME --scope SCOPE`).
Errors are `{"error": {"code": ..., "message": ...}}`. List routes return
`{"items": [...], "next_cursor": ...}`; pass `next_cursor` as `?cursor=` for the next page.
"""

#: background upkeep: flush keys' last use, prune the feed
UPKEEP_S = 10.0
PRUNE_EVERY_S = 3600.0


async def _prune_feed(state: ApiState) -> None:
    while True:
        with contextlib.suppress(Exception):
            await events_feed.prune(state.pool)
        await asyncio.sleep(PRUNE_EVERY_S)


def create_app(settings: ApiSettings) -> FastAPI:
    """The ASGI application of an API process on ``settings.database_url``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url, min_size=1, max_size=settings.pool_size)
        ops = Operations(pool, settings.database_url)
        hub = stream.FeedHub(pool, settings.database_url)
        state = ApiState(settings, pool, ops, hub)
        deliverer = Deliverer(pool, settings) if settings.webhooks else None
        tasks: list[asyncio.Task[None]] = []
        try:
            await ops.start()
            await hub.start()
            if deliverer is not None:
                hub.wakers.append(deliverer.wake)
                await deliverer.start()
            app.state.api = state
            tasks = [asyncio.create_task(state.keys.flush_every(pool, UPKEEP_S)),
                     asyncio.create_task(_prune_feed(state))]
            yield
        finally:
            for task in [*tasks, *state.tasks]:
                task.cancel()
            with contextlib.suppress(Exception):
                await state.keys.flush(pool)
            if deliverer is not None:
                await deliverer.stop()
            await hub.stop()
            await ops.stop()
            await pool.close()

    app = FastAPI(
        title="V2G CSMS API", version="1", description=DESCRIPTION, lifespan=lifespan,
        docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
        default_response_class=JSONResponse,
    )
    errors.install(app)
    app.add_middleware(MetricsMiddleware)
    app.include_router(health_router)
    for module in (stations, calls, transactions, meter_values, profiles_routes, fleet,
                   programs, events, drivers, sites, tokens, stream, webhooks, api_keys):
        app.include_router(module.router)
    dashboard.install(app)
    return app
