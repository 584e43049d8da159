"""The operator dashboard, served by ``csms api`` under ``/dashboard``: server-rendered pages
of the fleet, grid events and stations, kept live by the API's stream, with charts drawn by
uPlot (shipped in ``static/``, MIT, nothing fetched from elsewhere at run time)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from csms.api.dashboard import access, page_stream, pages, station_page

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the dashboard's routes and static files to the API's app."""
    for module in (access, page_stream, pages, station_page):
        app.include_router(module.router)
    app.mount(access.PREFIX + "/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get(access.PREFIX, include_in_schema=False)
    async def dashboard_root() -> RedirectResponse:
        return RedirectResponse(access.PREFIX + "/", status_code=307)
