"""Meter values: stored one row per meter value (a station's timestamp, EVSE and transaction
with its sampled values), read one row per sampled value through ``meter_values_between``
(raw or compacted alike, see :mod:`csms.store.meter_data` and docs/scale.md).

Values are stored in the canonical unit of their measurand, after their multiplier (see
:mod:`csms.blocks.units`): 5 kWh, or ``value 5, unit Wh, multiplier 3``, is stored as 5000 Wh,
with the unit and multiplier as sent beside it. A value whose unit does not fit its measurand
is stored as sent with ``unit_valid`` false; readers that compute leave it out.

A sampled value identical to one stored before (same station, EVSE, transaction, timestamp,
measurand, phase, location, context, unit as sent and value) is stored once: stations repeat
readings (the Transaction.Begin value inside the Ended event, a MeterValues resent after a lost
answer).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import asyncpg
import orjson

from csms.store.arrays import json_literal, literal
from csms.store.db import Db, connection
from csms.store.live import INTEREST, LIVE_CHANNEL, LiveType


@dataclass(slots=True)
class MeterSample:
    """One sampled value, ready to store (slots: a batch makes thousands)."""

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


@dataclass(slots=True)
class MeterValueRow(MeterSample):
    """A stored sampled value, with its station."""

    station_id: str = ""


# A meter value (station, time, EVSE, transaction) is one row of meter_raw holding its sampled
# values; one statement stores a batch. A row already stored gets the sampled values it lacks
# appended (ON CONFLICT on its unique index: no probe of its own), and is left alone when it
# holds them all: a repeat is stored once. Values arrive as one flat array, each row a slice.
# Stores rows (timestamp, evse_id, kind_set, station_id, transaction_id, vals, signed) into
# meter_raw with the merge described above; the rows come from the SELECT put in its middle.
RAW_INSERT = """
INSERT INTO meter_raw AS r (timestamp, evse_id, kind_set, station_id, transaction_id, vals,
                            signed)
{rows}
ON CONFLICT (station_id, timestamp, evse_id, transaction_id) DO UPDATE
   SET (kind_set, vals, signed, received_at) = (
       SELECT m.kind_set, m.vals, m.signed, now()
         FROM meter_merge(r.kind_set, r.vals, r.signed, EXCLUDED.kind_set, EXCLUDED.vals,
                          EXCLUDED.signed) m)
 WHERE NOT meter_contains(r.kind_set, r.vals, EXCLUDED.kind_set, EXCLUDED.vals)
"""


def upsert_sql(first: int = 1, events: str = "") -> str:
    """The statement storing the rows of :func:`meter_arguments`, its nine parameters (array
    literals, see :mod:`csms.store.arrays`) numbered from ``first``.

    ``events``: a relation of the TransactionEvents stored with these rows (``station_id``,
    ``transaction_id``, ``evse_id`` as applied): a transaction's rows are then stored only if
    its event is there (not a repeat), and take its EVSE when they have none.
    """
    evse, source = "k.evse_id", ""
    if events:
        evse = "coalesce(k.evse_id, a.evse_id)"
        source = f"""
  LEFT JOIN {events} a ON a.station_id = k.station_id AND a.transaction_id = k.transaction_id
 WHERE k.transaction_id IS NULL OR a.station_id IS NOT NULL"""
    sql = RAW_INSERT.format(rows=f"""\
SELECT k.timestamp, {evse}, k.kind_set, k.station_id, k.transaction_id,
       ((SELECT $6::text::float8[]))[k.lo:k.hi], k.signed::jsonb
  FROM unnest($1::text::text[], $2::text::timestamptz[], $3::text::integer[],
              $4::text::text[], $5::text::integer[], $7::text::integer[], $8::text::integer[],
              $9::text::text[])
       AS k(station_id, timestamp, evse_id, transaction_id, kind_set, lo, hi, signed){source}""")
    return renumber(sql, first - 1)


def renumber(sql: str, offset: int) -> str:
    """``sql`` with every parameter ``$n`` made ``$(n + offset)`` (to put it beside others)."""
    if not offset:
        return sql
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + offset}", sql)


_UPSERT = upsert_sql()

#: Stations ($1: their ids) that sent a Heartbeat now (csms.store.stations.record_heartbeats).
#: (An array literal, see :mod:`csms.store.arrays`.)
HEARTBEATS = ("UPDATE stations SET last_heartbeat_at = now()"
              " WHERE id IN (SELECT unnest($1::text::text[]))")

# _UPSERT recording the Heartbeats of a group commit in the same statement ($10: station ids):
# one round trip less for the batch (csms.store.batch).
_UPSERT_AND_HEARTBEATS = f"""
WITH heartbeat AS ({renumber(HEARTBEATS, 9)})""" + _UPSERT

# The same, saying how many sampled values each written row gained (the statement's snapshot
# does not see its own writes, so the sub-select finds the row as it was).
_UPSERT_COUNTED = _UPSERT + """
RETURNING cardinality(r.vals) - coalesce((
    SELECT cardinality(o.vals) FROM meter_raw o
     WHERE o.station_id = r.station_id AND o.timestamp = r.timestamp
       AND o.evse_id IS NOT DISTINCT FROM r.evse_id
       AND o.transaction_id IS NOT DISTINCT FROM r.transaction_id), 0)
"""

_KindKey = tuple[str, str | None, str, str | None, str, str | None, int | None, bool]


def _kind_key(s: MeterSample) -> _KindKey:
    return (s.measurand, s.phase, s.location, s.unit, s.context, s.sent_unit, s.sent_multiplier,
            s.unit_valid)


class MeterCodes:
    """The codes this database gives kinds of sampled values and sets of kinds.

    Codes learnt outside a transaction are kept (they are committed); inside one they are
    used but not kept, as a rollback would take them back.
    """

    def __init__(self) -> None:
        self.kinds: dict[_KindKey, int] = {}
        self.sets: dict[tuple[int, ...], int] = {}

    async def kind_ids(self, conn: asyncpg.Connection, keys: Sequence[_KindKey]) -> list[int]:
        async def create(missing: list[_KindKey]) -> list[int]:
            rows = await conn.fetch(
                "SELECT meter_kind_id(m, p, l, u, c, su, sm, uv) FROM unnest("
                "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
                " $7::smallint[], $8::boolean[]) WITH ORDINALITY AS k(m, p, l, u, c, su, sm, uv, i)"
                " ORDER BY i",
                *([k[f] for k in missing] for f in range(8)))
            return [r[0] for r in rows]
        return await _codes(conn, self.kinds, keys, create)

    async def set_ids(self, conn: asyncpg.Connection,
                      sets: Sequence[tuple[int, ...]]) -> list[int]:
        async def create(missing: list[tuple[int, ...]]) -> list[int]:
            rows = await conn.fetch(
                "SELECT meter_kind_set_id(s::integer[]) FROM unnest($1::text[])"
                " WITH ORDINALITY AS k(s, i) ORDER BY i",
                [literal(m) for m in missing])
            return [r[0] for r in rows]
        return await _codes(conn, self.sets, sets, create)

    async def prepare(self, conn: asyncpg.Connection,
                      samples: Sequence[tuple[str, MeterSample]]) -> None:
        """Learn (and create) the codes ``samples`` need; call it outside a transaction so that
        the writes inside find every code known."""
        if self._all_known(samples):
            return
        rows = _rows(samples)
        keys = [kind for members in rows.values() for kind, _ in members]
        if all(k in self.kinds for k in keys):
            kinds = [self.kinds[k] for k in keys]
        else:
            kinds = await self.kind_ids(conn, keys)
        sets, i = [], 0
        for members in rows.values():
            sets.append(tuple(kinds[i:i + len(members)]))
            i += len(members)
        if not all(s in self.sets for s in sets):
            await self.set_ids(conn, sets)

    def _all_known(self, samples: Sequence[tuple[str, MeterSample]]) -> bool:
        """True when every kind and every row's set of kinds is known: the common case, checked
        without :func:`_rows`' de-duplication (a row with a repeated value then reads as
        unknown, and :meth:`prepare` looks at it the long way)."""
        kinds = self.kinds
        rows: dict[_RowKey, list[int]] = {}
        for station_id, s in samples:
            kind = kinds.get(_kind_key(s))
            if kind is None:
                return False
            rows.setdefault((station_id, s.timestamp, s.evse_id, s.transaction_id),
                            []).append(kind)
        return all(tuple(members) in self.sets for members in rows.values())


_Key = TypeVar("_Key", bound=tuple[object, ...])


async def _codes(conn: asyncpg.Connection, known: dict[_Key, int], keys: Sequence[_Key],
                 create: Callable[[list[_Key]], Awaitable[list[int]]]) -> list[int]:
    """The code of each of ``keys``: from ``known``, or made by ``create`` for those it lacks
    (each once). Codes made outside a transaction are kept in ``known``; inside one they are
    used but not kept, as a rollback would take them back."""
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if not missing:
        return [known[k] for k in keys]
    found = dict(zip(missing, await create(missing), strict=True))
    if not conn.is_in_transaction():
        known.update(found)
    return [found[k] if k in found else known[k] for k in keys]


_RowKey = tuple[str, datetime, int | None, str | None]


def _rows(samples: Sequence[tuple[str, MeterSample]]
          ) -> dict[_RowKey, list[tuple[_KindKey, MeterSample]]]:
    """The samples by meter_raw row, each sampled value (kind and value) once, with its kind."""
    rows: dict[_RowKey, list[tuple[_KindKey, MeterSample]]] = {}
    seen: set[tuple[object, ...]] = set()
    for station_id, s in samples:
        key = (station_id, s.timestamp, s.evse_id, s.transaction_id)
        kind = _kind_key(s)
        identity = (key, kind, s.value)
        if identity not in seen:
            seen.add(identity)
            rows.setdefault(key, []).append((kind, s))
    return rows


# What a watching dashboard is told of each batch (csms.store.live).
SOC = "SoC"
POWER_IMPORT = "Power.Active.Import"
POWER_EXPORT = "Power.Active.Export"
_ANNOUNCED = (SOC, POWER_IMPORT, POWER_EXPORT)


def meter_payloads(samples: Sequence[tuple[str, MeterSample]]) -> list[str]:
    """One ``meter.sampled`` payload per (station, EVSE) in ``samples`` that measured SoC or
    power: the latest value of each (SoC in %, power in kW), with the sample time.

    Values whose unit did not fit, per-phase values and samples outside an EVSE are left out.
    """
    latest: dict[tuple[str, int], dict[str, tuple[datetime, float, str | None]]] = {}
    for station_id, s in samples:
        if (s.measurand not in _ANNOUNCED or s.phase is not None or not s.unit_valid
                or not s.evse_id):
            continue
        found = latest.setdefault((station_id, s.evse_id), {})
        held = found.get(s.measurand)
        if held is None or held[0] <= s.timestamp:
            found[s.measurand] = (s.timestamp, s.value, s.transaction_id)
    out = []
    for (station_id, evse_id), found in latest.items():
        at = max(t for t, _, _ in found.values())
        tx = next((x for _, _, x in found.values() if x is not None), None)
        body: dict[str, object] = {"type": LiveType.METER_SAMPLED.value, "at": at.isoformat(),
                                   "data": {"station_id": station_id, "evse_id": evse_id,
                                            "transaction_id": tx, "at": at.isoformat()}}
        data = body["data"]
        assert isinstance(data, dict)
        if SOC in found:
            data["soc_percent"] = found[SOC][1]
        if POWER_IMPORT in found:
            data["import_kw"] = found[POWER_IMPORT][1] / 1000.0
        if POWER_EXPORT in found:
            data["export_kw"] = found[POWER_EXPORT][1] / 1000.0
        out.append(orjson.dumps(body).decode())
    return out


async def insert_meter_values(db: Db, station_id: str, samples: Sequence[MeterSample]) -> int:
    """Store the samples of one station that are not stored yet (see the module docstring);
    return how many were stored."""
    async with connection(db) as conn:
        return await store_meter_values(conn, [(station_id, s) for s in samples], count=True)


async def meter_arguments(conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]],
                          codes: MeterCodes) -> tuple[str, ...] | None:
    """The nine parameters of :func:`upsert_sql` storing ``samples`` (None: nothing to store),
    each sampled value once; codes not known yet are learnt (a query)."""
    rows = _rows(samples)
    if not rows:
        return None
    keys = [kind for members in rows.values() for kind, _ in members]
    kinds = await codes.kind_ids(conn, keys)
    kind_sets, i = [], 0
    for members in rows.values():
        kind_sets.append(tuple(kinds[i:i + len(members)]))
        i += len(members)
    set_ids = await codes.set_ids(conn, kind_sets)
    values: list[float] = []
    lo: list[int] = []
    hi: list[int] = []
    signed: list[list[dict | None] | None] = []  # a row's signed values, one per value
    for members in rows.values():
        lo.append(len(values) + 1)
        values.extend(s.value for _, s in members)
        hi.append(len(values))
        if any(s.signed_meter_value is not None for _, s in members):
            signed.append([s.signed_meter_value for _, s in members])
        else:
            signed.append(None)
    return (*map(literal, (
        [k[0] for k in rows], [k[1] for k in rows], [k[2] for k in rows], [k[3] for k in rows],
        set_ids, values, lo, hi)), json_literal(signed))


async def store_meter_values(
    conn: asyncpg.Connection, samples: Sequence[tuple[str, MeterSample]], *,
    codes: MeterCodes | None = None, count: bool = False, heartbeats: Sequence[str] = (),
) -> int:
    """Store many stations' samples, ``(station_id, sample)`` pairs, that are not stored yet
    (neither before nor earlier in ``samples``), in one statement. With ``count``, returns
    how many were stored (else 0: the count costs a look-up per row).

    ``codes``: the codes known so far (see :class:`MeterCodes`; the group commit keeps one).
    ``heartbeats``: stations whose Heartbeat the same statement records
    (:func:`csms.store.stations.record_heartbeats`; not with ``count``).
    """
    if count and heartbeats:
        raise ValueError("heartbeats are recorded by the uncounted statement only")
    args = await meter_arguments(conn, samples, codes or MeterCodes())
    if args is None:
        if heartbeats:
            await conn.execute(HEARTBEATS, literal(heartbeats))
        return 0
    if count:
        stored = sum(r[0] for r in await conn.fetch(_UPSERT_COUNTED, *args))
    else:
        stored = 0
        if heartbeats:
            await conn.execute(_UPSERT_AND_HEARTBEATS, *args, literal(heartbeats))
        else:
            await conn.execute(_UPSERT, *args)
    if await INTEREST.wanted(conn):
        # A dashboard watches: each (station, EVSE)'s latest SoC and power announced on the
        # live channel (csms.store.live), sent at the commit of the values it announces.
        announced = meter_payloads(samples)
        if announced:
            await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
                               LIVE_CHANNEL, announced)
    return stored


def _filters(
    station_id: str | None,
    since: datetime | None,
    until: datetime | None,
    transaction_id: str | None,
    measurands: Sequence[str] | None,
) -> tuple[str, list[object]]:
    """The WHERE clause over meter_values_between($1, $2) and its arguments, [since, until)
    first."""
    clauses: list[str] = []
    args: list[object] = [since, until]
    for clause, value in (
        ("station_id = ${}", station_id),
        ("transaction_id = ${}", transaction_id),
        ("measurand = ANY(${}::text[])", list(measurands) if measurands else None),
    ):
        if value is not None:
            args.append(value)
            clauses.append(clause.format(len(args)))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, args


# In MeterValueRow's field order: rows are built positionally (an export makes 100,000s).
_SELECT = """
SELECT evse_id, transaction_id, timestamp, measurand, phase, location, unit, context, value,
       signed_meter_value, sent_unit, sent_multiplier, unit_valid, station_id
  FROM meter_values_between($1, $2) {where}
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
    return [MeterValueRow(*r) for r in rows]


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
            yield MeterValueRow(*r)
