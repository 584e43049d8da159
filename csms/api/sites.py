"""``/v1/sites``: grid connections, their import and export limits, their stations and the
building's load."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Path

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import conflict, invalid, not_found, responses
from csms.grid.site_control import site_status
from csms.store.base import utcnow
from csms.store.grid import sites as store

router = APIRouter(prefix="/v1/sites", tags=["grid"])
SiteName = Annotated[str, Path(max_length=64)]


async def _out(ctx: Ctx, site: store.Site) -> g.Site:
    load = await store.building_load(ctx.pool, site, utcnow())
    plan = await site_status(ctx.pool, site.name)
    return g.Site(name=site.name, import_kw=site.import_kw, export_kw=site.export_kw,
                  meter_station_id=site.meter_station_id, non_export=site.non_export,
                  stations=list(site.stations), building_kw=round(load.kw, 3),
                  building_source=load.source, building_at=load.at,  # type: ignore[arg-type]
                  control=g.SiteControl(**plan))


async def _check_meter(ctx: Ctx, station_id: str | None) -> None:
    if station_id is not None and await ctx.pool.fetchval(
            "SELECT 1 FROM stations WHERE id = $1", station_id) is None:
        raise invalid(f"meter_station_id: no station {station_id}")


@router.get("", response_model=list[g.Site], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403))
async def list_sites(ctx: Ctx) -> list[g.Site]:
    """Every site, by name, with the building's load now."""
    return [await _out(ctx, s) for s in await store.list_sites(ctx.pool)]


@router.get("/{name}", response_model=g.Site, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def get_site(ctx: Ctx, name: SiteName) -> g.Site:
    """One site."""
    site = await store.get_site(ctx.pool, name)
    if site is None:
        raise not_found(f"no site {name}")
    return await _out(ctx, site)


@router.post("", status_code=201, response_model=g.Site, dependencies=[needs(Scope.DISPATCH)],
             responses=responses(401, 403, 409, 422))
async def create_site(ctx: Ctx, body: g.SiteIn) -> g.Site:
    """Add a site (409 when the name is taken)."""
    await _check_meter(ctx, body.meter_station_id)
    try:
        await store.add_site(ctx.pool, store.Site(body.name, body.import_kw, body.export_kw,
                                                  body.meter_station_id))
    except store.SiteExists as exc:
        raise conflict(str(exc)) from None
    return await get_site(ctx, body.name)


@router.put("/{name}/stations", response_model=g.Site, dependencies=[needs(Scope.DISPATCH)],
            responses=responses(401, 403, 404, 422))
async def assign_stations(ctx: Ctx, name: SiteName, body: g.SiteStations) -> g.Site:
    """Put stations at the site (422 naming any unknown station; then none is assigned)."""
    known = {r[0] for r in await ctx.pool.fetch(
        "SELECT id FROM stations WHERE id = ANY($1::text[])", body.stations)}
    unknown = [s for s in body.stations if s not in known]
    if unknown:
        raise invalid(f"stations: unknown station(s) {', '.join(unknown[:20])}")
    try:
        await store.assign(ctx.pool, name, body.stations)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    return await get_site(ctx, name)


@router.post("/{name}/building-load", status_code=204, dependencies=[needs(Scope.DISPATCH)],
             responses=responses(401, 403, 404, 422))
async def import_building_load(ctx: Ctx, name: SiteName, body: g.BuildingLoad) -> None:
    """Import the building's load readings (each holds until the next, at most an hour)."""
    try:
        # a time without an offset is UTC, as in OCPP
        await store.import_load(ctx.pool, name, [
            (r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC), r.building_kw)
            for r in body.readings])
    except LookupError as exc:
        raise not_found(str(exc)) from None
