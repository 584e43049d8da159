"""Meter values: one row per sampled value, indexed by station and time.

Values are stored in the canonical unit of their measurand, after their multiplier (see
:mod:`csms.blocks.units`): 5 kWh, or ``value 5, unit Wh, multiplier 3``, is stored as 5000 Wh,
with the unit and multiplier as sent beside it. A value whose unit does not fit its measurand
is stored as sent with ``unit_valid`` false; readers that compute leave it out.

A sampled value identical to one stored before (same station, EVSE, transaction, timestamp,
measurand, phase, location, context and value) is stored once: stations repeat readings (the
Transaction.Begin value inside the Ended event, a MeterValues resent after a lost answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from csms.store.db import Db, connection


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
    sent_unit: str | None = None  #: the unit as the station sent it (None: not sent)
    sent_multiplier: int | None = None  #: the multiplier as sent (None: not sent)
    unit_valid: bool = True  #: False: the unit does not fit the measurand (stored as sent)


@dataclass
class MeterValueRow(MeterSample):
    """A stored sampled value, with its station."""

    station_id: str = ""


_INSERT = """
INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp, measurand, phase,
                          location, unit, context, value, signed_meter_value, sent_unit,
                          sent_multiplier, unit_valid)
SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::float8[], $11::jsonb[],
                         $12::text[], $13::smallint[], $14::boolean[])
"""


async def insert_meter_values(db: Db, station_id: str, samples: Sequence[MeterSample]) -> int:
    """Store the samples of one station that are not stored yet (see the module docstring),
    in one transaction; return how many were stored."""
    async with connection(db) as conn, conn.transaction():
        fresh = [s for _, s in await _new_samples(conn, [(station_id, s) for s in samples])]
        if fresh:
            await _insert(conn, station_id, fresh)
    return len(fresh)


async def _insert(conn: asyncpg.Connection, station_id: str, samples: list[MeterSample]) -> None:
    await conn.execute(
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
        [s.sent_unit for s in samples],
        [s.sent_multiplier for s in samples],
        [s.unit_valid for s in samples],
    )


_COPY_COLUMNS = ("station_id", "evse_id", "transaction_id", "timestamp", "measurand", "phase",
                 "location", "unit", "context", "value", "sent_unit", "sent_multiplier",
                 "unit_valid")


async def copy_meter_values(
    conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]]
) -> int:
    """Store many stations' samples, ``(station_id, sample)`` pairs, that are not stored yet,
    with one COPY (and one INSERT per station for the rare signed ones), inside the caller's
    transaction; returns how many were stored."""
    records = []
    signed: dict[str, list[MeterSample]] = {}
    fresh = await _new_samples(conn, samples)
    for station_id, s in fresh:
        if s.signed_meter_value is None:
            records.append((station_id, s.evse_id, s.transaction_id, s.timestamp, s.measurand,
                            s.phase, s.location, s.unit, s.context, s.value, s.sent_unit,
                            s.sent_multiplier, s.unit_valid))
        else:
            signed.setdefault(station_id, []).append(s)
    if records:
        await conn.copy_records_to_table("meter_values", columns=_COPY_COLUMNS, records=records)
    for station_id, rows in signed.items():
        await _insert(conn, station_id, rows)
    return len(fresh)


def _identity(station_id: str, s: MeterSample) -> tuple[object, ...]:
    """What makes two sampled values the same reading (the columns of _AT_SAME_TIMES)."""
    return (station_id, s.evse_id, s.transaction_id, s.timestamp, s.measurand, s.phase,
            s.location, s.context, s.value)


# Stored values at the (station, timestamp) of the new ones: the index on (station_id,
# timestamp) finds them, and in the usual case there are none.
# LATERAL: one index lookup per key, whatever the planner estimates for the unnest (a hash join
# would read the whole table).
_AT_SAME_TIMES = """
SELECT m.station_id, m.evse_id, m.transaction_id, m.timestamp, m.measurand, m.phase, m.location,
       m.context, m.value
  FROM unnest($1::text[], $2::timestamptz[]) AS k(station_id, timestamp)
 CROSS JOIN LATERAL (
       SELECT * FROM meter_values v
        WHERE v.station_id = k.station_id AND v.timestamp = k.timestamp) m
"""


async def _new_samples(
    conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]]
) -> list[tuple[str, MeterSample]]:
    """``samples`` less those stored before and those repeated within ``samples``."""
    if not samples:
        return []
    keys = {(station_id, s.timestamp) for station_id, s in samples}
    rows = await conn.fetch(_AT_SAME_TIMES, [k[0] for k in keys], [k[1] for k in keys])
    seen = {tuple(r) for r in rows}
    fresh = []
    for station_id, s in samples:
        identity = _identity(station_id, s)
        if identity not in seen:
            seen.add(identity)
            fresh.append((station_id, s))
    return fresh


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
       value, signed_meter_value, sent_unit, sent_multiplier, unit_valid
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
