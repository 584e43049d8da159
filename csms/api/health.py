"""``/healthz`` (the process answers), ``/readyz`` (its database answers) and ``/metrics``
(Prometheus), without a key: for load balancers, orchestrators and scrapers.

The same three routes serve ``csms serve --metrics-port`` (:func:`create_probe_app`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from csms import metrics
from csms.api import models as m
from csms.api.errors import error_response, responses

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0

PoolOf = Callable[[Request], asyncpg.Pool | None]


def _api_pool(request: Request) -> asyncpg.Pool | None:
    state = getattr(request.app.state, "api", None)
    return None if state is None else state.pool


async def ready(pool: asyncpg.Pool | None) -> Response:
    """200 when ``pool`` answers a query within :data:`READY_TIMEOUT_S`, else 503."""
    if pool is not None:
        try:
            await asyncio.wait_for(pool.fetchval("SELECT 1"), READY_TIMEOUT_S)
            return JSONResponse({"status": "ok"})
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
    return error_response(503, "database_unavailable", "the database does not answer")


def add_probes(router: APIRouter, pool_of: PoolOf) -> None:
    """Add the three routes to ``router``, reading the database through ``pool_of``."""

    @router.get("/healthz", response_model=m.Health)
    async def healthz() -> m.Health:
        """The process is alive."""
        return m.Health(status="ok")

    @router.get("/readyz", response_model=m.Health, responses=responses(503))
    async def readyz(request: Request) -> Response:
        """The database answers."""
        return await ready(pool_of(request))

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                 "description": "Prometheus text format"}})
    async def metrics_route() -> Response:
        """Prometheus metrics (every worker's, added up)."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


add_probes(router, _api_pool)


def create_probe_app(pool_of: Callable[[], asyncpg.Pool | None]) -> FastAPI:
    """The probes alone, for ``csms serve --metrics-port``."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    probes = APIRouter()
    add_probes(probes, lambda _request: pool_of())
    app.include_router(probes)
    return app
