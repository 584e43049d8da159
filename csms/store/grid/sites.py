"""Sites: their limits, their stations, and the building load measured at each.

The building load is what the site draws without its chargers. It comes from the site's main
meter (EVSE 0 of its meter station, measuring the grid connection: building plus chargers) less
the chargers' own net import at the same moment, or else from readings imported from the
site's meter data. Powers in kW, import positive at the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.store.base import StoreError
from csms.store.db import Db, connection


class SiteExists(StoreError):
    """A site of that name is already there."""


@dataclass(frozen=True)
class Site:
    """A grid connection: ``import_kw`` and ``export_kw`` limits (0 export: non-export)."""

    name: str
    import_kw: float
    export_kw: float
    meter_station_id: str | None = None
    stations: tuple[str, ...] = ()

    @property
    def non_export(self) -> bool:
        """Whether the interconnection forbids export."""
        return self.export_kw == 0


@dataclass(frozen=True)
class BuildingLoad:
    """The building's load at a moment and where the figure came from (``meter``: the main
    meter less the chargers; ``imported``: meter data; ``unknown``: nothing fresh, taken as
    0)."""

    kw: float
    source: str
    at: datetime | None = None
    connection_kw: float | None = None


async def add_site(db: Db, site: Site) -> None:
    """Store a new site; raises SiteExists."""
    done = await db.fetchval(
        "INSERT INTO grid_sites (name, import_kw, export_kw, meter_station_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING name",
        site.name, site.import_kw, site.export_kw, site.meter_station_id)
    if done is None:
        raise SiteExists(f"site {site.name} already exists")


async def change_site(db: Db, name: str, *, import_kw: float | None = None,
                      export_kw: float | None = None, meter_station_id: str | None = None,
                      clear_meter: bool = False) -> bool:
    """Change a site's limits or meter; False when there is no such site."""
    status = await db.execute(
        "UPDATE grid_sites SET import_kw = coalesce($2, import_kw),"
        " export_kw = coalesce($3, export_kw), meter_station_id = CASE WHEN $5 THEN NULL"
        " ELSE coalesce($4, meter_station_id) END, updated_at = now() WHERE name = $1",
        name, import_kw, export_kw, meter_station_id, clear_meter)
    return status != "UPDATE 0"


async def assign(db: Db, name: str, station_ids: Sequence[str]) -> list[str]:
    """Put stations at a site (moving them from any other); returns the ids that are not
    registered stations (not assigned). Raises LookupError when there is no such site."""
    async with connection(db) as conn, conn.transaction():
        if await conn.fetchval("SELECT 1 FROM grid_sites WHERE name = $1", name) is None:
            raise LookupError(f"no site {name}")
        known = {r[0] for r in await conn.fetch(
            "SELECT id FROM stations WHERE id = ANY($1::text[])", list(station_ids))}
        await conn.executemany(
            "INSERT INTO grid_site_stations (station_id, site) VALUES ($1, $2)"
            " ON CONFLICT (station_id) DO UPDATE SET site = EXCLUDED.site",
            [(s, name) for s in station_ids if s in known])
    return [s for s in station_ids if s not in known]


_SITES = ("SELECT s.name, s.import_kw, s.export_kw, s.meter_station_id,"
          " coalesce(array_agg(m.station_id ORDER BY m.station_id)"
          "   FILTER (WHERE m.station_id IS NOT NULL), '{}')"
          " FROM grid_sites s LEFT JOIN grid_site_stations m ON m.site = s.name")


async def list_sites(db: Db) -> list[Site]:
    """Every site with its stations, by name."""
    rows = await db.fetch(f"{_SITES} GROUP BY s.name ORDER BY s.name")
    return [Site(r[0], r[1], r[2], r[3], tuple(r[4])) for r in rows]


async def get_site(db: Db, name: str) -> Site | None:
    """One site, or None."""
    row = await db.fetchrow(f"{_SITES} WHERE s.name = $1 GROUP BY s.name", name)
    return None if row is None else Site(row[0], row[1], row[2], row[3], tuple(row[4]))


async def site_of_stations(db: Db, station_ids: Sequence[str]) -> dict[str, str]:
    """station -> site, for the stations of ``station_ids`` that are at a site."""
    rows = await db.fetch("SELECT station_id, site FROM grid_site_stations"
                          " WHERE station_id = ANY($1::text[])", list(station_ids))
    return {r[0]: r[1] for r in rows}


async def import_load(db: Db, name: str, readings: Sequence[tuple[datetime, float]]) -> int:
    """Store building-load readings (replacing any at the same times); returns how many."""
    async with connection(db) as conn, conn.transaction():
        if await conn.fetchval("SELECT 1 FROM grid_sites WHERE name = $1", name) is None:
            raise LookupError(f"no site {name}")
        await conn.executemany(
            "INSERT INTO grid_site_load (site, at, building_kw) VALUES ($1, $2, $3)"
            " ON CONFLICT (site, at) DO UPDATE SET building_kw = EXCLUDED.building_kw",
            [(name, at, kw) for at, kw in readings])
    return len(readings)


async def connection_power(db: Db, station_id: str, since: datetime
                           ) -> tuple[float, datetime] | None:
    """Latest net import (kW) at a main meter (EVSE 0) since ``since``, with its time.

    Raw samples, not the per-minute rollups: the site limit is kept on the reading of the
    last seconds (``since`` is the staleness bound, a minute at most), which a minute's mean
    would blur and the rollup job may not have reached."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (measurand) measurand, timestamp, value FROM meter_values"
        " WHERE station_id = $1 AND evse_id = 0 AND timestamp >= $2 AND phase IS NULL"
        " AND measurand IN ('Power.Active.Import', 'Power.Active.Export') AND unit_valid"
        " ORDER BY measurand, timestamp DESC", station_id, since)
    if not rows:
        return None
    found = {r[0]: (r[1], r[2] / 1000.0) for r in rows}
    imp = found.get("Power.Active.Import")
    exp = found.get("Power.Active.Export")
    at = max(t for t, _ in found.values())
    return (imp[1] if imp else 0.0) - (exp[1] if exp else 0.0), at


async def chargers_import(db: Db, station_ids: Sequence[str], since: datetime) -> float:
    """Net import (kW) of the chargers of ``station_ids`` now: each EVSE's latest power sample
    since ``since`` (import minus export). Raw samples, at the same moment as the main
    meter's (see :func:`connection_power`)."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (station_id, evse_id, measurand) measurand, value FROM meter_values"
        " WHERE station_id = ANY($1::text[]) AND evse_id > 0 AND timestamp >= $2"
        " AND measurand IN ('Power.Active.Import', 'Power.Active.Export') AND phase IS NULL"
        " AND unit_valid ORDER BY station_id, evse_id, measurand, timestamp DESC",
        list(station_ids), since)
    return sum((v if m == "Power.Active.Import" else -v) / 1000.0 for m, v in rows)


async def imported_load(db: Db, name: str, at: datetime) -> tuple[float, datetime] | None:
    """The imported building load in force at ``at`` (the latest reading at most an hour
    before), or None."""
    row = await db.fetchrow(
        "SELECT building_kw, at FROM grid_site_load WHERE site = $1 AND at <= $2"
        " AND at > $2 - interval '1 hour' ORDER BY at DESC LIMIT 1", name, at)
    return None if row is None else (row[0], row[1])


async def load_readings(db: Db, name: str, start: datetime, end: datetime
                        ) -> list[tuple[datetime, float]]:
    """Imported building-load readings in ``[start - 1h, end]``."""
    rows = await db.fetch(
        "SELECT at, building_kw FROM grid_site_load WHERE site = $1 AND at <= $3"
        " AND at > $2::timestamptz - interval '1 hour' ORDER BY at", name, start, end)
    return [(r[0], r[1]) for r in rows]


async def building_load(db: Db, site: Site, now: datetime, stale_s: float = 60.0
                        ) -> BuildingLoad:
    """The building's load at ``now``: the main meter's latest reading (at most ``stale_s``
    old) less the site's chargers, else the imported reading in force, else unknown (0)."""
    if site.meter_station_id is not None:
        since = now - timedelta(seconds=stale_s)
        found = await connection_power(db, site.meter_station_id, since)
        if found is not None:
            chargers = await chargers_import(db, site.stations, since)
            return BuildingLoad(max(0.0, found[0] - chargers), "meter", found[1], found[0])
    imported = await imported_load(db, site.name, now)
    if imported is not None:
        return BuildingLoad(imported[0], "imported", imported[1])
    return BuildingLoad(0.0, "unknown")
