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
from csms.store.live import INTEREST, LIVE_CHANNEL, meter_payloads


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


# One statement stores a batch: the values not stored before (a repeat is found with one probe
# of the (station_id, timestamp) index, a nested-loop anti join). A look-up of its own before
# a COPY cost one more statement per batch, which at a fleet's steady rate (batches of a few
# messages) doubled PostgreSQL's CPU per message (docs/performance.md).
_INSERT_NEW = """
INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp, measurand, phase,
                          location, unit, context, value, signed_meter_value, sent_unit,
                          sent_multiplier, unit_valid)
SELECT k.* FROM unnest($1::text[], $2::integer[], $3::text[], $4::timestamptz[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::float8[],
                       $11::jsonb[], $12::text[], $13::smallint[], $14::boolean[])
       AS k(station_id, evse_id, transaction_id, timestamp, measurand, phase, location, unit,
            context, value, signed_meter_value, sent_unit, sent_multiplier, unit_valid)
 WHERE NOT EXISTS (
       SELECT 1 FROM meter_values v
        WHERE v.station_id = k.station_id AND v.timestamp = k.timestamp
          AND v.measurand = k.measurand AND v.value = k.value AND v.context = k.context
          AND v.location = k.location AND v.phase IS NOT DISTINCT FROM k.phase
          AND v.evse_id IS NOT DISTINCT FROM k.evse_id
          AND v.transaction_id IS NOT DISTINCT FROM k.transaction_id)
"""

# The same insert, announcing each (station, EVSE)'s latest SoC and power on the live channel
# (csms.store.live) in the same statement: no round trip more per batch, and the NOTIFY is
# sent at the commit of the values it announces.
_INSERT_AND_ANNOUNCE = f"""
WITH stored AS ({_INSERT_NEW} RETURNING 1),
     announced AS (SELECT pg_notify($15, p) FROM unnest($16::text[]) AS p)
SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM announced)
"""


async def insert_meter_values(db: Db, station_id: str, samples: Sequence[MeterSample]) -> int:
    """Store the samples of one station that are not stored yet (see the module docstring);
    return how many were stored."""
    async with connection(db) as conn:
        return await store_meter_values(conn, [(station_id, s) for s in samples])


async def store_meter_values(
    conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]]
) -> int:
    """Store many stations' samples, ``(station_id, sample)`` pairs, that are not stored yet
    (neither before nor earlier in ``samples``), in one statement; returns how many were
    stored."""
    seen: set[tuple[object, ...]] = set()
    fresh: list[tuple[str, MeterSample]] = []
    for station_id, s in samples:
        identity = (station_id, s.evse_id, s.transaction_id, s.timestamp, s.measurand, s.phase,
                    s.location, s.context, s.value)
        if identity not in seen:
            seen.add(identity)
            fresh.append((station_id, s))
    if not fresh:
        return 0
    columns = (
        [station_id for station_id, _ in fresh],
        [s.evse_id for _, s in fresh],
        [s.transaction_id for _, s in fresh],
        [s.timestamp for _, s in fresh],
        [s.measurand for _, s in fresh],
        [s.phase for _, s in fresh],
        [s.location for _, s in fresh],
        [s.unit for _, s in fresh],
        [s.context for _, s in fresh],
        [s.value for _, s in fresh],
        [s.signed_meter_value for _, s in fresh],
        [s.sent_unit for _, s in fresh],
        [s.sent_multiplier for _, s in fresh],
        [s.unit_valid for _, s in fresh],
    )
    announced = meter_payloads(fresh) if await INTEREST.wanted(conn) else []
    if announced:
        stored, _ = await conn.fetchrow(_INSERT_AND_ANNOUNCE, *columns, LIVE_CHANNEL, announced)
        return int(stored)
    # nobody watching: the plain insert (the CTE form costs PostgreSQL ~20 % more CPU)
    status = await conn.execute(_INSERT_NEW, *columns)
    return int(status.rsplit(" ", 1)[-1])


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
