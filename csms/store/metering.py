"""Meter values: one row per sampled value, indexed by station and time.

Values are stored scaled by their unitOfMeasure multiplier (``value * 10**multiplier``), so a
reading of 5 kWh sent as ``value 5, unit Wh, multiplier 3`` is stored as 5000 Wh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from csms.store.db import Db


@dataclass
class MeterSample:
    """One sampled value, ready to store."""

    evse_id: int | None
    transaction_id: str | None
    timestamp: datetime
    measurand: str
    phase: str | None
    location: str
    unit: str | None
    context: str
    value: float
    signed_meter_value: dict | None = None


@dataclass
class MeterValueRow(MeterSample):
    """A stored sampled value, with its station."""

    station_id: str = ""


_INSERT = """
INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp, measurand, phase,
                          location, unit, context, value, signed_meter_value)
SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::float8[], $11::jsonb[])
"""


async def insert_meter_values(db: Db, station_id: str, samples: Sequence[MeterSample]) -> int:
    """Store the samples of one station in one statement; return how many were stored."""
    if not samples:
        return 0
    await db.execute(
        _INSERT,
        station_id,
        [s.evse_id for s in samples],
        [s.transaction_id for s in samples],
        [s.timestamp for s in samples],
        [s.measurand for s in samples],
        [s.phase for s in samples],
        [s.location for s in samples],
        [s.unit for s in samples],
        [s.context for s in samples],
        [s.value for s in samples],
        [s.signed_meter_value for s in samples],
    )
    return len(samples)


_COPY_COLUMNS = ("station_id", "evse_id", "transaction_id", "timestamp", "measurand", "phase",
                 "location", "unit", "context", "value")


async def copy_meter_values(
    conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]]
) -> int:
    """Store many stations' samples, ``(station_id, sample)`` pairs, with one COPY (and one
    INSERT per station for the rare signed ones); returns how many were stored."""
    records = []
    signed: dict[str, list[MeterSample]] = {}
    for station_id, s in samples:
        if s.signed_meter_value is None:
            records.append((station_id, s.evse_id, s.transaction_id, s.timestamp, s.measurand,
                            s.phase, s.location, s.unit, s.context, s.value))
        else:
            signed.setdefault(station_id, []).append(s)
    if records:
        await conn.copy_records_to_table("meter_values", columns=_COPY_COLUMNS, records=records)
    for station_id, rows in signed.items():
        await insert_meter_values(conn, station_id, rows)
    return len(samples)


def _filters(
    station_id: str | None,
    since: datetime | None,
    until: datetime | None,
    transaction_id: str | None,
    measurands: Sequence[str] | None,
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    for clause, value in (
        ("station_id = ${}", station_id),
        ("timestamp >= ${}", since),
        ("timestamp < ${}", until),
        ("transaction_id = ${}", transaction_id),
        ("measurand = ANY(${}::text[])", list(measurands) if measurands else None),
    ):
        if value is not None:
            args.append(value)
            clauses.append(clause.format(len(args)))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, args


_SELECT = """
SELECT station_id, evse_id, transaction_id, timestamp, measurand, phase, location, unit, context,
       value, signed_meter_value
  FROM meter_values {where}
 ORDER BY station_id, timestamp, evse_id, measurand, phase NULLS FIRST
"""


async def meter_values(
    db: Db,
    *,
    station_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    transaction_id: str | None = None,
    measurands: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[MeterValueRow]:
    """Stored sampled values matching every given filter (time range is [since, until)),
    ordered by station and time."""
    where, args = _filters(station_id, since, until, transaction_id, measurands)
    sql = _SELECT.format(where=where)
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    rows = await db.fetch(sql, *args)
    return [MeterValueRow(**dict(r)) for r in rows]


async def stream_meter_values(
    conn: asyncpg.Connection,
    *,
    station_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    transaction_id: str | None = None,
    measurands: Sequence[str] | None = None,
    batch: int = 1000,
) -> AsyncIterator[MeterValueRow]:
    """Like :func:`meter_values`, but yields rows through a server-side cursor, so an export of
    any size runs in constant memory. Needs a connection (not a pool); opens its own transaction.
    """
    where, args = _filters(station_id, since, until, transaction_id, measurands)
    async with conn.transaction():
        async for r in conn.cursor(_SELECT.format(where=where), *args, prefetch=batch):
            yield MeterValueRow(**dict(r))
