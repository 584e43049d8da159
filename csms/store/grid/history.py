"""The fleet's history as the plug-in forecast reads it: each EVSE's sessions (plugged-in
periods) and its SoC by hour, from stored transactions and the per-minute meter data
(:mod:`csms.store.meter_minutes`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db
from csms.store.meter_data import rollup_watermark


@dataclass(frozen=True)
class Session:
    """One plugged-in period of an EVSE (open: ``end`` None)."""

    station_id: str
    evse_id: int
    start: datetime
    end: datetime | None


async def sessions(db: Db, start: datetime, end: datetime,
                   group: str | None = None) -> list[Session]:
    """Transactions overlapping ``[start, end]`` (of one station group, or all)."""
    rows = await db.fetch(
        "SELECT t.station_id, t.evse_id, coalesce(t.started_at, t.created_at), t.ended_at"
        "  FROM transactions t WHERE t.evse_id > 0"
        "   AND coalesce(t.started_at, t.created_at) < $2"
        "   AND (t.ended_at IS NULL OR t.ended_at > $1)"
        "   AND ($3::text IS NULL OR t.station_id IN ("
        "        SELECT station_id FROM grid_station_groups WHERE group_name = $3))"
        " ORDER BY 1, 2, 3", start, end, group)
    return [Session(r[0], r[1], r[2], r[3]) for r in rows]


async def hourly_soc(db: Db, start: datetime, end: datetime, group: str | None = None
                     ) -> list[tuple[str, int, datetime, float]]:
    """(station, evse, hour, mean SoC %) of every hour with SoC readings in ``[start, end)``:
    the mean over the hour's minutes of each minute's last SoC, from the per-minute rollups
    (and the samples written since the rollup job last ran). A minute is fine enough for a
    model of SoC by hour of the week, and weeks of a fleet's minutes are a fraction of its
    samples."""
    rows = await db.fetch(
        "SELECT m.station_id, m.evse_id, date_trunc('hour', m.minute) AS hour, avg(m.soc)"
        "  FROM meter_minutes(ARRAY(SELECT id FROM stations WHERE $3::text IS NULL OR id IN ("
        "         SELECT station_id FROM grid_station_groups WHERE group_name = $3)), $1, $2,"
        "       $4) m"
        " WHERE m.soc IS NOT NULL AND m.evse_id > 0 AND m.minute >= $1"
        " GROUP BY 1, 2, 3", start, end, group, await rollup_watermark(db))
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def evse_capacities(db: Db) -> dict[tuple[str, int], tuple[float | None, float | None]]:
    """(battery kWh, charger kW) each EVSE's latest charging needs reported, where known."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (station_id, evse_id) station_id, evse_id,"
        "  (charging_needs -> 'dcChargingParameters' ->> 'evEnergyCapacity')::float8,"
        "  (charging_needs -> 'dcChargingParameters' ->> 'evMaxPower')::float8"
        "  FROM ev_charging_needs ORDER BY station_id, evse_id, id DESC")
    return {(r[0], r[1]): (r[2] / 1000.0 if r[2] else None, r[3] / 1000.0 if r[3] else None)
            for r in rows}
