"""The fleet as grid dispatch sees it: plugged-in EVs with their latest SoC and charging needs,
the latest power readings, energy registers, driver settings, the EVs of each event and the
dispatcher's control steps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store import meter_minutes
from csms.store.commands import node_alive
from csms.store.db import Db
from csms.store.grid.records import DriverSettings, RegisterSample
from csms.store.transactions import EXPORT_REGISTER, IMPORT_REGISTER


@dataclass(frozen=True)
class PluggedIn:
    """A running transaction with what is known of its EV."""

    station_id: str
    evse_id: int
    transaction_id: str
    id_token: str | None
    started_at: datetime | None
    subprotocol: str | None
    online: bool
    soc_percent: float | None
    charging_needs: dict[str, Any] | None
    departure_time: datetime | None


_PLUGGED = f"""
SELECT t.station_id, t.evse_id, t.transaction_id, t.id_token, t.started_at, s.subprotocol,
       (s.node_id IS NOT NULL AND {node_alive()}) AS online,
       soc.value, needs.charging_needs, needs.departure_time
  FROM transactions t
  JOIN stations s ON s.id = t.station_id
  LEFT JOIN nodes n ON n.node_id = s.node_id
  LEFT JOIN LATERAL (
       SELECT r.minute FROM meter_rollups r
        WHERE r.station_id = t.station_id AND r.evse_id = t.evse_id AND r.soc IS NOT NULL
          AND r.minute >= date_trunc('minute', least(t.started_at, t.created_at))
        ORDER BY r.minute DESC LIMIT 1) rolled ON true
  LEFT JOIN LATERAL (
       SELECT coalesce(
           (SELECT value FROM meter_station_values(
                    t.station_id, coalesce(rolled.minute,
                                           least(t.started_at, t.created_at) - interval '1 day'),
                    NULL) m
             WHERE m.transaction_id = t.transaction_id
               AND m.measurand = 'SoC' AND m.unit_valid ORDER BY m.timestamp DESC LIMIT 1),
           (SELECT value FROM meter_station_values(
                    t.station_id, least(t.started_at, t.created_at) - interval '1 day',
                    rolled.minute) m
             WHERE rolled.minute IS NOT NULL AND m.transaction_id = t.transaction_id
               AND m.measurand = 'SoC' AND m.unit_valid ORDER BY m.timestamp DESC LIMIT 1))
           AS value) soc ON true
  LEFT JOIN LATERAL (
       SELECT charging_needs, departure_time FROM ev_charging_needs e
        WHERE e.station_id = t.station_id AND e.evse_id = t.evse_id
          AND e.received_at >= coalesce(t.started_at, t.created_at) - interval '5 minutes'
        ORDER BY e.id DESC LIMIT 1) needs ON true
 WHERE t.ended_at IS NULL AND t.evse_id IS NOT NULL AND t.evse_id > 0
   AND ($1::text IS NULL OR t.station_id IN (
        SELECT station_id FROM grid_station_groups WHERE group_name = $1))
   AND ($2::text[] IS NULL OR t.station_id = ANY($2::text[]))
 ORDER BY t.station_id, t.evse_id
"""


async def plugged_in(db: Db, group: str | None = None,
                     stations: Sequence[str] | None = None) -> list[PluggedIn]:
    """Running transactions (of one station group, of ``stations``, or all), with latest SoC
    and needs.

    The latest SoC is the transaction's latest sample (the control loop wants the reading of
    seconds ago, which the rollups may not hold yet), read from the latest rolled-up minute of
    its EVSE with a SoC on: every SoC sample after that minute was written after the rollup
    job's watermark, so it is in the samples read. Only a transaction whose EVSE reports no
    SoC (AC) reads all its samples since it started, as before."""
    rows = await db.fetch(_PLUGGED, group, None if stations is None else list(stations))
    return [PluggedIn(*r) for r in rows]


async def transactions_running(db: Db, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (station, transaction) pairs have not ended."""
    rows = await db.fetch(
        "SELECT station_id, transaction_id FROM transactions WHERE ended_at IS NULL"
        " AND (station_id, transaction_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r[0], r[1]) for r in rows}


async def online_stations(db: Db, station_ids: Sequence[str]) -> set[str]:
    """Which of the stations a live node holds now."""
    rows = await db.fetch(
        "SELECT s.id FROM stations s JOIN nodes n ON n.node_id = s.node_id"
        f" WHERE s.id = ANY($1::text[]) AND {node_alive()}",
        list(station_ids))
    return {r[0] for r in rows}


async def latest_power(db: Db, station_ids: Sequence[str],
                       since: datetime) -> dict[tuple[str, str], tuple[float, datetime]]:
    """Latest net export kW (export minus import) per (station, transaction) since ``since``,
    with the time of the sample.

    Raw samples, not minutes: the control loop needs the reading of the last seconds (a
    minute's mean power would lag a setpoint change by up to a minute, and the minute now
    running is not rolled up yet); ``since`` is a few control intervals back, so the read is a
    few rows per station from the day's raw partition."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (station_id, transaction_id, measurand) station_id, transaction_id,"
        " measurand, timestamp, value FROM meter_values_between($2, NULL)"
        " WHERE station_id = ANY($1::text[]) AND transaction_id IS NOT NULL"
        " AND measurand IN ('Power.Active.Export', 'Power.Active.Import') AND phase IS NULL"
        " AND unit_valid"
        " ORDER BY station_id, transaction_id, measurand, timestamp DESC",
        list(station_ids), since)
    parts: dict[tuple[str, str], dict[str, tuple[datetime, float]]] = {}
    for station, tx, measurand, at, watts in rows:
        parts.setdefault((station, tx), {})[measurand] = (at, watts / 1000.0)
    out = {}
    for key, found in parts.items():
        exp = found.get("Power.Active.Export")
        imp = found.get("Power.Active.Import")
        at = max(t for t, _ in found.values())
        out[key] = ((exp[1] if exp else 0.0) - (imp[1] if imp else 0.0), at)
    return out


def _carried(by_time: dict[datetime, dict[str, float]]) -> list[RegisterSample]:
    """Register readings by time as samples: one with only one register carries the other
    forward (0 before the first)."""
    out = []
    exp = imp = None
    for at in sorted(by_time):
        exp = by_time[at].get(EXPORT_REGISTER, exp)
        imp = by_time[at].get(IMPORT_REGISTER, imp)
        if exp is not None or imp is not None:
            out.append(RegisterSample(at, exp or 0.0, imp or 0.0))
    return out


async def register_series(db: Db, keys: Sequence[tuple[str, str]], start: datetime,
                          end: datetime) -> dict[tuple[str, str], list[RegisterSample]]:
    """Every energy-register sample per (station, transaction) between ``start`` and ``end``,
    in Wh; a sample with only one register carries the other forward. Reads every raw sample:
    the reference :func:`register_minutes` is checked against, and what needs each sample."""
    rows = await db.fetch(
        "SELECT station_id, transaction_id, timestamp, measurand, value"
        " FROM meter_values_between($3, $4::timestamptz + interval '1 microsecond')"
        " WHERE station_id = ANY($1::text[]) AND transaction_id = ANY($2::text[])"
        " AND timestamp BETWEEN $3 AND $4 AND measurand IN ($5, $6) AND phase IS NULL"
        " AND unit_valid"
        " ORDER BY timestamp",
        list({k[0] for k in keys}), list({k[1] for k in keys}), start, end, EXPORT_REGISTER,
        IMPORT_REGISTER)
    wanted = set(keys)
    merged: dict[tuple[str, str], dict[datetime, dict[str, float]]] = {}
    for station, tx, at, measurand, wh in rows:
        if (station, tx) in wanted:
            merged.setdefault((station, tx), {}).setdefault(at, {})[measurand] = wh
    return {k: _carried(merged.get(k, {})) for k in keys}


async def register_minutes(db: Db, keys: Sequence[tuple[str, str]], start: datetime,
                           end: datetime, exact_at: Iterable[datetime] = ()
                           ) -> dict[tuple[str, str], list[RegisterSample]]:
    """Like :func:`register_series`, from the minutes (:mod:`csms.store.meter_minutes`): each
    whole minute of the transaction gives its first and last register reading, the minutes
    holding ``start``, ``end``, the transaction's start and end and each time of ``exact_at``
    give every sample. Interpolated (:func:`csms.grid.mv.register_at`) at a minute boundary,
    at a time of ``exact_at``, or at a sample's time, the series gives the value of
    :func:`register_series` (the readings on both sides of such a time are in both); between
    readings of one minute it interpolates over the minute. Samples of the EVSE without a
    transaction while the transaction runs count as its own."""
    found = await meter_minutes.transaction_minutes(
        db, keys, start, end, (IMPORT_REGISTER, EXPORT_REGISTER), exact_at)
    out = {}
    for key, part in found.items():
        by_time: dict[datetime, dict[str, float]] = {}
        for at, measurand, wh in part.samples:
            by_time.setdefault(at, {})[measurand] = wh
        for m in part.minutes:
            if m.last_at is None:
                continue
            if m.first_at is not None and m.first_at != m.last_at:
                first = by_time.setdefault(m.first_at, {})
                if m.first_import is not None:
                    first[IMPORT_REGISTER] = m.first_import
                if m.first_export is not None:
                    first[EXPORT_REGISTER] = m.first_export
            last = by_time.setdefault(m.last_at, {})
            if m.import_register is not None:
                last[IMPORT_REGISTER] = m.import_register
            if m.export_register is not None:
                last[EXPORT_REGISTER] = m.export_register
        out[key] = _carried(by_time)
    return out


async def soc_between(db: Db, keys: Sequence[tuple[str, str]], start: datetime, end: datetime,
                      *, raw: bool = False
                      ) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(first, last) SoC % reported between ``start`` and ``end`` for each (station,
    transaction) of ``keys``; (None, None) for one that reported none. From the minutes (each
    minute keeps its first and last SoC; the minutes at either end are read raw), or with
    ``raw`` from every sample: the same figures."""
    if not raw:
        found = await meter_minutes.transaction_minutes(db, keys, start, end, ("SoC",))
        out: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        for key, part in found.items():
            points = [(at, v) for at, _, v in part.samples]
            for m in part.minutes:
                if m.soc is not None:
                    # within the minute: before a sample at the next minute's start
                    points += [(m.minute, m.first_soc),
                               (m.minute + meter_minutes.LAST_INSTANT, m.soc)]
            points.sort(key=lambda p: p[0])
            out[key] = (points[0][1], points[-1][1]) if points else (None, None)
        return out
    rows = await db.fetch(
        "SELECT k.station_id, k.transaction_id,"
        "  (SELECT value FROM meter_station_values(k.station_id, $3,"
        "                                          $4::timestamptz + interval '1 us') m"
        "    WHERE m.transaction_id = k.transaction_id AND measurand = 'SoC' AND unit_valid"
        "     AND timestamp BETWEEN $3 AND $4 ORDER BY timestamp LIMIT 1),"
        "  (SELECT value FROM meter_station_values(k.station_id, $3,"
        "                                          $4::timestamptz + interval '1 us') m"
        "    WHERE m.transaction_id = k.transaction_id AND measurand = 'SoC' AND unit_valid"
        "     AND timestamp BETWEEN $3 AND $4 ORDER BY timestamp DESC LIMIT 1)"
        " FROM unnest($1::text[], $2::text[]) AS k(station_id, transaction_id)",
        [k[0] for k in keys], [k[1] for k in keys], start, end)
    by_key = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    return {k: by_key.get(k, (None, None)) for k in keys}


# -- driver settings -----------------------------------------------------------------------

_DRIVER_COLUMNS = ("kind, key, floor_soc, departure, timezone, need_soc, need_kwh,"
                   " capacity_kwh, opt_out")


async def save_driver_settings(db: Db, settings: DriverSettings) -> None:
    """Store (replace) a driver's settings."""
    await db.execute(
        f"INSERT INTO grid_driver_settings ({_DRIVER_COLUMNS}, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) ON CONFLICT (kind, key) DO UPDATE"
        " SET floor_soc = $3, departure = $4, timezone = $5, need_soc = $6, need_kwh = $7,"
        " capacity_kwh = $8, opt_out = $9, updated_at = now()",
        settings.kind, settings.key, settings.floor_soc, settings.departure, settings.timezone,
        settings.need_soc, settings.need_kwh, settings.capacity_kwh, settings.opt_out)


async def driver_settings_for(
    db: Db, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], DriverSettings]:
    """The settings of each (kind, key) asked that has some, in one query: keys match whatever
    their case, the exact spelling first."""
    if not keys:
        return {}
    columns = ", ".join(f"d.{c.strip()}" for c in _DRIVER_COLUMNS.split(","))
    rows = await db.fetch(
        f"SELECT DISTINCT ON (q.kind, q.key) q.kind, q.key, {columns}"
        "  FROM unnest($1::text[], $2::text[]) AS q(kind, key)"
        "  JOIN grid_driver_settings d ON d.kind = q.kind AND lower(d.key) = lower(q.key)"
        " ORDER BY q.kind, q.key, d.key = q.key DESC",
        [k for k, _ in keys], [v for _, v in keys])
    return {(r[0], r[1]): DriverSettings(*r[2:]) for r in rows}


async def get_driver_settings(db: Db, kind: str, key: str) -> DriverSettings | None:
    """A driver's settings (keys match whatever their case, the exact spelling first), or
    None."""
    return (await driver_settings_for(db, [(kind, key)])).get((kind, key))


async def list_driver_settings(db: Db) -> list[DriverSettings]:
    """Every driver's settings."""
    rows = await db.fetch(f"SELECT {_DRIVER_COLUMNS} FROM grid_driver_settings"
                          " ORDER BY kind, key")
    return [DriverSettings(*r) for r in rows]


async def opt_out_of_event(db: Db, event_id: int, kind: str, key: str) -> None:
    """Exclude a driver's vehicle from one event."""
    await db.execute("INSERT INTO grid_event_opt_outs (event_id, kind, key) VALUES ($1, $2, $3)"
                     " ON CONFLICT DO NOTHING", event_id, kind, key)


async def event_opt_outs(db: Db, event_id: int) -> set[tuple[str, str]]:
    """(kind, key) pairs opted out of an event (token keys lower-cased)."""
    rows = await db.fetch("SELECT kind, key FROM grid_event_opt_outs WHERE event_id = $1",
                          event_id)
    return {(k, v.lower() if k == "token" else v) for k, v in rows}


# -- the EVs of an event and the control steps ---------------------------------------------

EV_COLUMNS = ("station_id", "evse_id", "transaction_id", "id_token", "version", "state",
              "reason", "soc_start", "floor_soc", "departure_at", "departure_soc",
              "capacity_kwh", "nameplate_kw", "setpoint_kw", "profile_id",
              "meter_interval_restore", "finished", "joined_at")


async def save_event_evs(db: Db, event_id: int, rows: Iterable[dict[str, Any]]) -> None:
    """Insert or update EVs of an event (each dict holds columns of :data:`EV_COLUMNS`)."""
    rows = list(rows)
    if not rows:
        return
    cols = [c for c in EV_COLUMNS if c in rows[0]]
    placeholders = ", ".join(f"${i}" for i in range(2, len(cols) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols
                        if c not in ("station_id", "evse_id"))
    await db.executemany(
        f"INSERT INTO grid_event_evs (event_id, {', '.join(cols)}) VALUES ($1, {placeholders})"
        f" ON CONFLICT (event_id, station_id, evse_id) DO UPDATE SET {updates},"
        " updated_at = now()",
        [(event_id, *(r[c] for c in cols)) for r in rows])


async def update_event_evs(db: Db, event_id: int, rows: Iterable[dict[str, Any]]) -> None:
    """Change some columns of EVs already in an event (each dict has station_id, evse_id and
    the columns to set, the same in every dict)."""
    rows = list(rows)
    if not rows:
        return
    cols = [c for c in EV_COLUMNS if c in rows[0] and c not in ("station_id", "evse_id")]
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=4))
    await db.executemany(
        f"UPDATE grid_event_evs SET {sets}, updated_at = now()"
        " WHERE event_id = $1 AND station_id = $2 AND evse_id = $3",
        [(event_id, r["station_id"], r["evse_id"], *(r[c] for c in cols)) for r in rows])


async def event_evs(db: Db, event_id: int) -> list[dict[str, Any]]:
    """The EVs of an event, by station."""
    rows = await db.fetch(f"SELECT {', '.join(EV_COLUMNS)} FROM grid_event_evs"
                          " WHERE event_id = $1 ORDER BY station_id, evse_id", event_id)
    return [dict(r) for r in rows]


async def record_step(db: Db, event_id: int, step: int, at: datetime, *,
                      target_kw: float | None, measured_kw: float, planned_kw: float,
                      capacity_kw: float, shortfall_kw: float, correction_kw: float,
                      setpoints: dict[str, float], set_aside: dict[str, str]) -> None:
    """Store one control step."""
    await db.execute(
        "INSERT INTO grid_control_steps (event_id, step, at, target_kw, measured_kw, planned_kw,"
        " capacity_kw, shortfall_kw, correction_kw, setpoints, set_aside)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11::text::jsonb)"
        " ON CONFLICT (event_id, step) DO NOTHING",
        event_id, step, at, target_kw, measured_kw, planned_kw, capacity_kw, shortfall_kw,
        correction_kw, json.dumps(setpoints), json.dumps(set_aside))


async def control_steps(db: Db, event_id: int) -> list[dict[str, Any]]:
    """An event's control steps in order."""
    rows = await db.fetch(
        "SELECT step, at, target_kw, measured_kw, planned_kw, capacity_kw, shortfall_kw,"
        " correction_kw, setpoints::text, set_aside::text FROM grid_control_steps"
        " WHERE event_id = $1 ORDER BY step", event_id)
    out = []
    for r in rows:
        d = dict(r)
        d["setpoints"] = json.loads(d.pop("setpoints"))
        d["set_aside"] = json.loads(d.pop("set_aside"))
        out.append(d)
    return out
