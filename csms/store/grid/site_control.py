"""The site controller's state: the ChargingStationMaxProfile it keeps on each station, its
latest plan per site and each EVSE's share, and what the grid events hold. Powers in kW,
import positive."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db, connection


@dataclass(frozen=True)
class StationCap:
    """The cap the controller wants on a station, the one the station accepted last (None:
    none), and how the last call went (``accepted``, ``pending``: not delivered, ``refused``)."""

    station_id: str
    profile_id: int
    wanted_kw: float
    installed_kw: float | None
    status: str
    reason: str | None
    attempted_at: datetime


@dataclass(frozen=True)
class PlanRow:
    """A site's latest plan: the room under its import limit and what is left of it."""

    site: str
    planned_at: datetime
    node_id: str
    import_kw: float
    building_kw: float
    building_source: str
    connection_kw: float | None
    room_kw: float
    allocated_kw: float
    headroom_kw: float
    trigger: str


@dataclass(frozen=True)
class ShareRow:
    """One EVSE's share in a site's plan (``evse_id`` 0: a station with no car)."""

    station_id: str
    evse_id: int
    transaction_id: str | None
    kind: str
    want_kw: float
    minimum_kw: float
    share_kw: float
    measured_kw: float | None


async def station_caps(db: Db, station_ids: Sequence[str] | None) -> dict[str, StationCap]:
    """The station caps the controller keeps (of ``station_ids``, or all), by station."""
    rows = await db.fetch("SELECT station_id, profile_id, wanted_kw, installed_kw, status,"
                          " reason, attempted_at FROM grid_site_caps"
                          " WHERE $1::text[] IS NULL OR station_id = ANY($1::text[])",
                          None if station_ids is None else list(station_ids))
    return {r[0]: StationCap(*r) for r in rows}


async def save_caps(db: Db, caps: Iterable[StationCap]) -> None:
    """Store the outcome of cap calls (one row per station, replaced)."""
    await db.executemany(
        "INSERT INTO grid_site_caps (station_id, profile_id, wanted_kw, installed_kw, status,"
        " reason, attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (station_id) DO UPDATE SET profile_id = EXCLUDED.profile_id,"
        " wanted_kw = EXCLUDED.wanted_kw, installed_kw = EXCLUDED.installed_kw,"
        " status = EXCLUDED.status, reason = EXCLUDED.reason,"
        " attempted_at = EXCLUDED.attempted_at",
        [(c.station_id, c.profile_id, c.wanted_kw, c.installed_kw, c.status, c.reason,
          c.attempted_at) for c in caps])


async def forget_caps(db: Db, station_ids: Sequence[str]) -> None:
    """Drop the cap rows of stations the controller no longer manages."""
    await db.execute("DELETE FROM grid_site_caps WHERE station_id = ANY($1::text[])",
                     list(station_ids))


async def capped_stations(db: Db, station_ids: Sequence[str]) -> set[str]:
    """The stations of ``station_ids`` that hold the cap the controller wants now."""
    rows = await db.fetch("SELECT station_id FROM grid_site_caps WHERE status = 'accepted'"
                          " AND station_id = ANY($1::text[])", list(station_ids))
    return {r[0] for r in rows}


async def event_holds(db: Db) -> dict[tuple[str, int], float]:
    """(station, EVSE) -> the setpoint (kW, export positive; 0 when none yet) of every EV a
    grid event in progress controls (taking part, not set aside: an EV set aside follows no
    event's profile, and charges like any other)."""
    rows = await db.fetch(
        "SELECT m.station_id, m.evse_id, coalesce(m.setpoint_kw, 0) FROM grid_event_evs m"
        " JOIN grid_events e ON e.id = m.event_id WHERE e.status = 'active'"
        " AND m.state = 'in' AND NOT m.finished")
    out: dict[tuple[str, int], float] = {}
    for station, evse, kw in rows:
        # two events never hold the same EV; keep the larger charge if the rows overlap
        out[(station, evse)] = min(out.get((station, evse), kw), kw)
    return out


async def save_plan(db: Db, plan: PlanRow, shares: Sequence[ShareRow]) -> None:
    """Replace a site's plan and its shares."""
    async with connection(db) as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO grid_site_plans (site, planned_at, node_id, import_kw, building_kw,"
            " building_source, connection_kw, room_kw, allocated_kw, headroom_kw, trigger)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (site) DO UPDATE SET planned_at = EXCLUDED.planned_at,"
            " node_id = EXCLUDED.node_id, import_kw = EXCLUDED.import_kw,"
            " building_kw = EXCLUDED.building_kw, building_source = EXCLUDED.building_source,"
            " connection_kw = EXCLUDED.connection_kw, room_kw = EXCLUDED.room_kw,"
            " allocated_kw = EXCLUDED.allocated_kw, headroom_kw = EXCLUDED.headroom_kw,"
            " trigger = EXCLUDED.trigger",
            plan.site, plan.planned_at, plan.node_id, plan.import_kw, plan.building_kw,
            plan.building_source, plan.connection_kw, plan.room_kw, plan.allocated_kw,
            plan.headroom_kw, plan.trigger)
        await conn.execute("DELETE FROM grid_site_shares WHERE site = $1", plan.site)
        await conn.executemany(
            "INSERT INTO grid_site_shares (site, station_id, evse_id, transaction_id, kind,"
            " want_kw, minimum_kw, share_kw, measured_kw)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [(plan.site, s.station_id, s.evse_id, s.transaction_id, s.kind, s.want_kw,
              s.minimum_kw, s.share_kw, s.measured_kw) for s in shares])


async def site_plan(db: Db, site: str) -> tuple[PlanRow | None, list[ShareRow]]:
    """A site's latest plan and its shares (by station and EVSE), or (None, [])."""
    row = await db.fetchrow(
        "SELECT site, planned_at, node_id, import_kw, building_kw, building_source,"
        " connection_kw, room_kw, allocated_kw, headroom_kw, trigger FROM grid_site_plans"
        " WHERE site = $1", site)
    if row is None:
        return None, []
    shares = await db.fetch(
        "SELECT station_id, evse_id, transaction_id, kind, want_kw, minimum_kw, share_kw,"
        " measured_kw FROM grid_site_shares WHERE site = $1 ORDER BY station_id, evse_id", site)
    return PlanRow(*row), [ShareRow(*r) for r in shares]



async def mean_power(db: Db, station_ids: Sequence[str], window_start: datetime,
                     since: datetime) -> dict[tuple[str, int], float]:
    """(station, EVSE) -> net import kW (EVSE 0: a main meter): the mean of its samples from
    ``window_start``, or, with none there, its latest sample from ``since``."""
    rows = await db.fetch(
        "SELECT station_id, evse_id, measurand, timestamp >= $2 AS inside, value"
        " FROM meter_values WHERE station_id = ANY($1::text[]) AND timestamp >= $3"
        " AND measurand IN ('Power.Active.Import', 'Power.Active.Export') AND phase IS NULL"
        " AND unit_valid AND evse_id IS NOT NULL ORDER BY timestamp",
        list(station_ids), window_start, since)
    inside: dict[tuple[str, int], dict[str, list[float]]] = {}
    latest: dict[tuple[str, int], dict[str, float]] = {}
    for station, evse, measurand, within, watts in rows:
        key = (station, evse)
        latest.setdefault(key, {})[measurand] = watts / 1000.0
        if within:
            inside.setdefault(key, {}).setdefault(measurand, []).append(watts / 1000.0)
    out = {}
    for key, found in latest.items():
        seen = inside.get(key)
        if seen:
            imp = seen.get("Power.Active.Import", [])
            exp = seen.get("Power.Active.Export", [])
            out[key] = ((sum(imp) / len(imp) if imp else 0.0)
                        - (sum(exp) / len(exp) if exp else 0.0))
        else:
            out[key] = found.get("Power.Active.Import", 0.0) - found.get(
                "Power.Active.Export", 0.0)
    return out


async def limited_stations(db: Db, ours: dict[str, int | None]) -> set[str]:
    """The stations of ``ours`` (station -> the id of the controller's cap, None: none yet)
    that hold another profile on EVSE 0, or an external limit not cleared."""
    rows = await db.fetch(
        "SELECT DISTINCT p.station_id FROM installed_charging_profiles p"
        " JOIN unnest($1::text[], $2::int[]) AS o (station_id, profile_id)"
        "   ON o.station_id = p.station_id"
        " WHERE p.evse_id = 0 AND p.profile_id IS DISTINCT FROM o.profile_id"
        " UNION SELECT station_id FROM charging_limits"
        " WHERE cleared_at IS NULL AND station_id = ANY($1::text[])",
        list(ours), list(ours.values()))
    return {r[0] for r in rows}
