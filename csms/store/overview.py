"""What the operator dashboard shows, read in few queries: the fleet's EVSEs with their latest
readings, a station's connection history and commands, and meter curves (power and SoC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.commands import node_alive
from csms.store.db import Db
from csms.store.events_feed import FeedType, decode_data


@dataclass(frozen=True)
class EvseRow:
    """One EVSE of the fleet (or a station without EVSEs: ``evse_id`` None) as listed."""

    station_id: str
    connected: bool
    vendor_name: str | None
    model: str | None
    evse_id: int | None
    status: str | None
    transaction_id: str | None
    id_token: str | None
    started_at: datetime | None
    soc_percent: float | None
    import_kw: float | None
    export_kw: float | None
    sampled_at: datetime | None


def _latest(measurand: str, alias: str) -> str:
    return f"""LEFT JOIN LATERAL (
       SELECT value, timestamp FROM meter_values m
        WHERE m.station_id = t.station_id AND m.transaction_id = t.transaction_id
          AND m.measurand = '{measurand}' AND m.phase IS NULL AND m.unit_valid
        ORDER BY m.timestamp DESC LIMIT 1) {alias} ON true"""


_FLEET = f"""
SELECT s.id, coalesce(s.node_id IN (SELECT n.node_id FROM nodes n WHERE {node_alive()}), false),
       s.vendor_name, s.model, e.evse_id,
       (SELECT c.status FROM connectors c WHERE c.station_id = s.id AND c.evse_id = e.evse_id
         ORDER BY c.status_at DESC LIMIT 1),
       t.transaction_id, t.id_token, t.started_at,
       soc.value, imp.value / 1000.0, exp.value / 1000.0,
       greatest(soc.timestamp, imp.timestamp, exp.timestamp)
  FROM stations s
  LEFT JOIN evses e ON e.station_id = s.id AND e.evse_id > 0
  LEFT JOIN LATERAL (
       SELECT station_id, transaction_id, id_token, started_at FROM transactions x
        WHERE x.station_id = s.id AND x.evse_id = e.evse_id AND x.ended_at IS NULL
        ORDER BY x.started_at DESC NULLS LAST LIMIT 1) t ON true
  {_latest("SoC", "soc")}
  {_latest("Power.Active.Import", "imp")}
  {_latest("Power.Active.Export", "exp")}
 WHERE $1::text IS NULL OR s.id = $1
 ORDER BY s.id, e.evse_id
"""


async def fleet_rows(db: Db, station_id: str | None = None) -> list[EvseRow]:
    """Every station's EVSEs (or one station's): online, status, running transaction,
    latest SoC and power."""
    return [EvseRow(*r) for r in await db.fetch(_FLEET, station_id)]


@dataclass(frozen=True)
class ConnectionChange:
    """A station connecting or disconnecting, from the feed (kept a week)."""

    at: datetime
    connected: bool
    data: dict[str, Any]


async def connection_history(db: Db, station_id: str, limit: int = 50) -> list[ConnectionChange]:
    """The station's latest connections and disconnections, newest first."""
    rows = await db.fetch(
        "SELECT at, type, data FROM feed_events WHERE type = ANY($1::text[])"
        " AND data->>'station_id' = $2 ORDER BY id DESC LIMIT $3",
        [FeedType.STATION_CONNECTED.value, FeedType.STATION_DISCONNECTED.value], station_id,
        limit)
    return [ConnectionChange(r["at"], r["type"] == FeedType.STATION_CONNECTED.value,
                             decode_data(r["data"])) for r in rows]


@dataclass(frozen=True)
class CommandRow:
    """A call the CSMS sent (or meant to send) to a station, and what came of it."""

    id: int
    action: str
    status: str
    created_at: datetime
    answered_at: datetime | None
    payload: dict[str, Any]
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None


async def station_commands(db: Db, station_id: str, limit: int = 30) -> list[CommandRow]:
    """The station's latest commands, newest first."""
    rows = await db.fetch(
        "SELECT id, action, status, created_at, answered_at, payload, response, error_code,"
        " error_description FROM commands WHERE station_id = $1 ORDER BY id DESC LIMIT $2",
        station_id, limit)
    return [CommandRow(**dict(r)) for r in rows]


@dataclass(frozen=True)
class Curve:
    """One transaction's power (net export kW, export minus import) and SoC (%) samples."""

    power: list[tuple[datetime, float]]
    soc: list[tuple[datetime, float]]


async def curves(db: Db, keys: Sequence[tuple[str, str]], start: datetime | None = None,
                 end: datetime | None = None) -> dict[tuple[str, str], Curve]:
    """Power and SoC samples of each (station, transaction) of ``keys`` (between ``start``
    and ``end`` when given), in time order; a sample with only one of import and export
    power carries the other forward. Every raw sample, not minutes: the curves (the
    dashboard's, the event PNG's) draw each reading at its time."""
    rows = await db.fetch(
        "SELECT station_id, transaction_id, timestamp, measurand, value FROM meter_values"
        " WHERE station_id = ANY($1::text[]) AND transaction_id = ANY($2::text[])"
        " AND ($3::timestamptz IS NULL OR timestamp >= $3)"
        " AND ($4::timestamptz IS NULL OR timestamp <= $4)"
        " AND measurand IN ('SoC', 'Power.Active.Import', 'Power.Active.Export')"
        " AND phase IS NULL AND unit_valid ORDER BY timestamp",
        list({k[0] for k in keys}), list({k[1] for k in keys}), start, end)
    wanted = set(keys)
    power: dict[tuple[str, str], dict[datetime, dict[str, float]]] = {}
    out = {k: Curve([], []) for k in keys}
    for station, tx, at, measurand, value in rows:
        key = (station, tx)
        if key not in wanted:
            continue
        if measurand == "SoC":
            out[key].soc.append((at, value))
        else:
            power.setdefault(key, {}).setdefault(at, {})[measurand] = value
    for key, by_time in power.items():
        imp = exp = 0.0
        for at in sorted(by_time):
            imp = by_time[at].get("Power.Active.Import", imp)
            exp = by_time[at].get("Power.Active.Export", exp)
            out[key].power.append((at, (exp - imp) / 1000.0))
    return out
