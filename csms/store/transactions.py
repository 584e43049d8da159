"""Transactions and their TransactionEvents.

Every event is kept. A repeat is the same station, transaction and seqNo *and* the same content
(its ``digest``: event type, timestamp, trigger reason, meter values); it changes nothing. A
different event that reuses a seqNo (stations that number every event 0, or restart their
counter) is stored and applied like any other, and the transaction is marked
``seq_no_reused`` (with one warning). The ``transactions`` row is derived from the events:

- its live fields (EVSE, charging state, last trigger) come from the latest event in
  (timestamp, seqNo) order, so an offline event that arrives late never overwrites newer
  state; once an Ended is applied, only a later Ended changes them, and the charging state is
  the Ended's own (or none);
- start, end and the energy registers are taken from the earliest and latest times seen,
  whatever the arrival order, from values in Wh only (see :mod:`csms.store.metering`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import structlog

from csms.store import events_feed
from csms.store.arrays import json_literal, literal
from csms.store.base import StoreError
from csms.store.db import Db, connection
from csms.store.metering import (
    HEARTBEATS,
    RAW_INSERT,
    MeterCodes,
    MeterSample,
    MeterValueRow,
    insert_meter_values,
    meter_arguments,
    meter_values,
    renumber,
    upsert_sql,
)

log = structlog.get_logger("csms.store.transactions")

IMPORT_REGISTER = "Energy.Active.Import.Register"
EXPORT_REGISTER = "Energy.Active.Export.Register"


@dataclass
class TxEvent:
    """One TransactionEvent, as the blocks layer hands it to the store."""

    transaction_id: str
    seq_no: int
    event_type: str
    timestamp: datetime
    trigger_reason: str
    offline: bool = False
    charging_state: str | None = None
    stopped_reason: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransactionSummary:
    """A transaction as listed, with energy imported and exported (Wh) and duration (s)."""

    station_id: str
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    started_at: datetime | None
    ended_at: datetime | None
    stopped_reason: str | None
    charging_state: str | None
    last_seq_no: int | None
    offline: bool
    energy_imported_wh: float | None
    energy_exported_wh: float | None
    duration_s: float | None


@dataclass
class TransactionDetail(TransactionSummary):
    """A transaction in full: its summary, its events in (timestamp, seqNo) order and its
    meter values."""

    id_token_type: str | None = None
    stop_id_token: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    energy_import_start: float | None = None
    energy_import_end: float | None = None
    energy_export_start: float | None = None
    energy_export_end: float | None = None
    seq_no_reused: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    meter_values: list[MeterValueRow] = field(default_factory=list)


def content_digest(event: TxEvent, samples: Sequence[MeterSample]) -> int:
    """A 64-bit hash of what tells two events with one seqNo apart: event type, time, trigger
    reason and meter values (never 0, which marks events stored before digests)."""
    content = orjson.dumps([
        event.event_type, event.timestamp.timestamp(), event.trigger_reason,
        [(s.timestamp.timestamp(), s.measurand, s.phase, s.location, s.context, s.unit, s.value)
         for s in samples],
    ])
    digest = int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big", signed=True)
    return digest or 1


def _bounds(samples: list[MeterSample]) -> tuple[Any, ...]:
    """The register readings of :data:`_TRANSACTION_TYPES`: the import register's first
    value, its time, last value and its time among the totals in ``samples`` (None when there
    is none), then the export register's. Of totals with the same time, the first in
    ``samples`` counts."""
    # One pass over the samples: this runs for every TransactionEvent stored.
    first: dict[str, MeterSample] = {}
    last: dict[str, MeterSample] = {}
    for s in samples:
        measurand = s.measurand
        if ((measurand != IMPORT_REGISTER and measurand != EXPORT_REGISTER)
                or s.phase is not None or not s.unit_valid):
            continue
        held = first.get(measurand)
        if held is None or s.timestamp < held.timestamp:
            first[measurand] = s
        held = last.get(measurand)
        if held is None or s.timestamp > held.timestamp:
            last[measurand] = s
    bounds: list[Any] = []
    for measurand in (IMPORT_REGISTER, EXPORT_REGISTER):
        a, b = first.get(measurand), last.get(measurand)
        bounds += (None, None, None, None) if a is None or b is None else (
            a.value, a.timestamp, b.value, b.timestamp)
    return tuple(bounds)


def _unnest(columns: str) -> str:
    """``unnest($1::text::type[], ...) AS e(name, ...)`` of ``columns``, "name type, name
    type, ...": one array parameter per column, in order, each an array literal
    (:mod:`csms.store.arrays`)."""
    pairs = [column.split() for column in columns.split(",")]
    arrays = ", ".join(f"${i}::text::{kind}[]" for i, (_, kind) in enumerate(pairs, 1))
    return f"unnest({arrays}) AS e({', '.join(name for name, _ in pairs)})"


#: What an event brings its transaction beside the event's own columns: the ids of a remote
#: start and of a reservation, and the register readings among its samples (:func:`_bounds`);
#: the parameters :func:`_transaction_columns` makes.
_TRANSACTION_TYPES = (
    "remote_start_id integer, reservation_id integer,"
    " imp_first float8, imp_first_at timestamptz, imp_last float8, imp_last_at timestamptz,"
    " exp_first float8, exp_first_at timestamptz, exp_last float8, exp_last_at timestamptz")


def _transaction_columns(items: Sequence[StationEvent]) -> tuple[str, ...]:
    """The parameters of :data:`_TRANSACTION_TYPES`: one array literal per column."""
    bounds = [_bounds(s) for _, _, s in items]
    return tuple(map(literal, (
        [i[1].remote_start_id for i in items], [i[1].reservation_id for i in items],
        *([b[k] for b in bounds] for k in range(8)))))


# ``newer``: the event comes after the one the live fields were taken from, in (timestamp,
# seqNo) order; ``live``: it sets them (an event after the Ended does not reopen anything).
def _apply(events: str) -> str:
    """The UPDATE applying new events to their transactions; ``events``: a FROM item ``e``
    with the columns :data:`_APPLY` unnests (``reused``: another event had its seqNo)."""
    return f"""
UPDATE transactions t SET
    started_at = LEAST(t.started_at, e.ts),
    ended_at = CASE WHEN e.event_type = 'Ended' AND (t.ended_at IS NULL OR e.newer)
                    THEN e.ts ELSE t.ended_at END,
    stopped_reason = CASE WHEN e.event_type = 'Ended' AND (t.ended_at IS NULL OR e.newer)
                     THEN coalesce(e.stopped_reason, 'Local') ELSE t.stopped_reason END,
    evse_id = CASE WHEN e.live THEN coalesce(e.evse_id, t.evse_id)
                   ELSE coalesce(t.evse_id, e.evse_id) END,
    connector_id = CASE WHEN e.live THEN coalesce(e.connector_id, t.connector_id)
                   ELSE coalesce(t.connector_id, e.connector_id) END,
    charging_state = CASE WHEN e.live AND e.event_type = 'Ended' THEN e.charging_state
                   WHEN e.live THEN coalesce(e.charging_state, t.charging_state)
                   ELSE t.charging_state END,
    last_trigger_reason = CASE WHEN e.live THEN e.trigger_reason ELSE t.last_trigger_reason END,
    last_event_at = CASE WHEN e.live THEN e.ts ELSE t.last_event_at END,
    last_seq_no = CASE WHEN e.live THEN e.seq_no ELSE t.last_seq_no END,
    id_token = CASE WHEN e.id_token IS NULL OR e.event_type = 'Ended' THEN t.id_token
                    WHEN e.event_type = 'Started' OR t.id_token IS NULL THEN e.id_token
                    ELSE t.id_token END,
    id_token_type = CASE WHEN e.id_token IS NULL OR e.event_type = 'Ended' THEN t.id_token_type
                    WHEN e.event_type = 'Started' OR t.id_token IS NULL THEN e.id_token_type
                    ELSE t.id_token_type END,
    stop_id_token = CASE WHEN e.event_type = 'Ended' AND e.id_token IS NOT NULL THEN e.id_token
                    ELSE t.stop_id_token END,
    stop_id_token_type = CASE WHEN e.event_type = 'Ended' AND e.id_token IS NOT NULL
                    THEN e.id_token_type
                    ELSE t.stop_id_token_type END,
    remote_start_id = coalesce(t.remote_start_id, e.remote_start_id),
    reservation_id = coalesce(t.reservation_id, e.reservation_id),
    offline = t.offline OR e.offline,
    seq_no_reused = t.seq_no_reused OR e.reused,
    energy_import_start = CASE WHEN e.imp_first_at IS NOT NULL AND
        (t.energy_import_start_at IS NULL OR e.imp_first_at < t.energy_import_start_at)
        THEN e.imp_first ELSE t.energy_import_start END,
    energy_import_start_at = LEAST(t.energy_import_start_at, e.imp_first_at),
    energy_import_end = CASE WHEN e.imp_last_at IS NOT NULL AND
        (t.energy_import_end_at IS NULL OR e.imp_last_at >= t.energy_import_end_at)
        THEN e.imp_last ELSE t.energy_import_end END,
    energy_import_end_at = GREATEST(t.energy_import_end_at, e.imp_last_at),
    energy_export_start = CASE WHEN e.exp_first_at IS NOT NULL AND
        (t.energy_export_start_at IS NULL OR e.exp_first_at < t.energy_export_start_at)
        THEN e.exp_first ELSE t.energy_export_start END,
    energy_export_start_at = LEAST(t.energy_export_start_at, e.exp_first_at),
    energy_export_end = CASE WHEN e.exp_last_at IS NOT NULL AND
        (t.energy_export_end_at IS NULL OR e.exp_last_at >= t.energy_export_end_at)
        THEN e.exp_last ELSE t.energy_export_end END,
    energy_export_end_at = GREATEST(t.energy_export_end_at, e.exp_last_at),
    updated_at = now()
FROM (
    SELECT e.*, n.newer, n.newer AND (e.event_type = 'Ended' OR o.ended_at IS NULL) AS live,
           o.evse_id AS old_evse_id, o.seq_no_reused AS old_reused
      FROM {events}
      JOIN transactions o ON o.station_id = e.station_id AND o.transaction_id = e.transaction_id
     CROSS JOIN LATERAL (SELECT o.last_event_at IS NULL
                                OR (e.ts, e.seq_no) >= (o.last_event_at, o.last_seq_no)) n(newer)
) e
WHERE t.station_id = e.station_id AND t.transaction_id = e.transaction_id
RETURNING t.station_id, t.transaction_id, t.evse_id, e.old_evse_id,
          t.seq_no_reused AND NOT e.old_reused AS newly_reused
"""


_APPLY = _apply(_unnest(
    "station_id text, transaction_id text, seq_no bigint, ts timestamptz, event_type text,"
    " stopped_reason text, evse_id integer, connector_id integer, charging_state text,"
    " trigger_reason text, id_token text, id_token_type text, offline boolean, reused boolean,"
    " " + _TRANSACTION_TYPES))


# A repeat (same seqNo and digest, or an event stored before digests, digest 0) is skipped;
# ``reused``: another event with this seqNo was stored before (the statement's snapshot does
# not see the row it inserts).
# The transactions are opened (their rows made when new) by the same statement: the foreign
# key is checked at its end, when the rows its WITH inserted are there (one round trip less).
_EVENT_TYPES = ("station_id text, transaction_id text, seq_no bigint, digest bigint,"
                " event_type text, timestamp timestamptz, trigger_reason text, offline boolean,"
                " charging_state text, stopped_reason text, evse_id integer,"
                " connector_id integer, id_token text, id_token_type text, payload jsonb")
_EVENT_COLUMNS = ", ".join(column.split()[0] for column in _EVENT_TYPES.split(","))

# The events of ``e`` not stored before go in; returns each with ``reused``.
_INSERT_NEW = f"""
INSERT INTO transaction_events AS n ({_EVENT_COLUMNS})
SELECT {_EVENT_COLUMNS} FROM {{events}}
 WHERE NOT EXISTS (SELECT 1 FROM transaction_events o
                    WHERE o.station_id = e.station_id AND o.transaction_id = e.transaction_id
                      AND o.seq_no = e.seq_no AND o.digest IN (e.digest, 0))
ON CONFLICT (station_id, transaction_id, seq_no, digest) DO NOTHING
RETURNING n.station_id, n.transaction_id,
    EXISTS (SELECT 1 FROM transaction_events o
             WHERE o.station_id = n.station_id AND o.transaction_id = n.transaction_id
               AND o.seq_no = n.seq_no) AS reused
"""

_INSERT_EVENTS = """
WITH opened AS (
    INSERT INTO transactions (station_id, transaction_id)
    SELECT DISTINCT * FROM unnest($1::text::text[], $2::text::text[])
                               AS k(station_id, transaction_id)
     ORDER BY 1, 2
    ON CONFLICT (station_id, transaction_id) DO NOTHING
)""" + _INSERT_NEW.format(events=_unnest(_EVENT_TYPES))

# The EVSE of a transaction's samples stored without one, once known: raw rows move to their
# EVSE (merged into a row there, if one has the same time); compacted rows likewise unless a
# row of that EVSE and hour exists (then they keep no EVSE).
_RELABEL = """
WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::integer[])
                         AS k(station_id, transaction_id, evse_id)),
moved AS (
    DELETE FROM meter_raw m USING k
     WHERE m.station_id = k.station_id AND m.transaction_id = k.transaction_id
       AND m.evse_id IS NULL
    RETURNING m.timestamp, k.evse_id, m.kind_set, m.station_id, m.transaction_id, m.vals,
              m.signed)
""" + RAW_INSERT.format(rows="SELECT * FROM moved")

_RELABEL_COMPACT = """
UPDATE meter_compact m SET evse_id = k.evse_id
  FROM unnest($1::text[], $2::text[], $3::integer[]) AS k(station_id, transaction_id, evse_id)
 WHERE m.station_id = k.station_id AND m.transaction_id = k.transaction_id
   AND m.evse_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM meter_compact o
                    WHERE o.station_id = m.station_id AND o.hour = m.hour
                      AND o.evse_id = k.evse_id AND o.transaction_id = m.transaction_id)
"""

#: One station's TransactionEvent and its sampled values, as batched by the store.
StationEvent = tuple[str, TxEvent, list[MeterSample]]


async def record_transaction_event(
    db: Db, station_id: str, event: TxEvent, samples: list[MeterSample]
) -> bool:
    """Store a TransactionEvent and its sampled values, and fold it into the transaction.

    Returns False, changing nothing, when this event was stored before (same seqNo, same
    content).
    Samples whose EVSE is not given take the transaction's EVSE, as soon as it is known.
    """
    async with connection(db) as conn, conn.transaction():
        (stored,) = await record_transaction_events(conn, [(station_id, event, samples)])
        if stored:
            await insert_meter_values(conn, station_id, samples)
    return stored


async def record_transaction_events(
    conn: asyncpg.Connection, items: Sequence[StationEvent],
    evse_known: set[tuple[str, str]] | None = None,
) -> list[bool]:
    """Store many stations' TransactionEvents in a few statements, inside the caller's
    transaction; returns, per item, whether it was new (False: stored before, nothing changed).

    Each (station, transaction) may appear once in ``items``. The sampled values are not
    stored here: the caller stores those of the new events (their EVSE is filled in with the
    transaction's EVSE when missing), so that one statement can take a whole batch's samples.
    ``evse_known`` receives the (station, transaction) of each new event whose transaction's
    EVSE is known.
    """
    if not items:
        return []
    columns = _event_columns(items)
    inserted = {(r[0], r[1]): r[2] for r in await conn.fetch(_INSERT_EVENTS, *columns)}
    new = [i for i in items if (i[0], i[1].transaction_id) in inserted]
    if not new:
        return [False] * len(items)
    rows = await conn.fetch(_APPLY, *map(literal, (
        [i[0] for i in new], [i[1].transaction_id for i in new], [i[1].seq_no for i in new],
        [i[1].timestamp for i in new], [i[1].event_type for i in new],
        [i[1].stopped_reason for i in new], [i[1].evse_id for i in new],
        [i[1].connector_id for i in new], [i[1].charging_state for i in new],
        [i[1].trigger_reason for i in new], [i[1].id_token for i in new],
        [i[1].id_token_type for i in new], [i[1].offline for i in new],
        [inserted[(i[0], i[1].transaction_id)] for i in new],
    )), *_transaction_columns(new))
    evses = await _applied(conn, rows, evse_known)
    await events_feed.emit_transactions(conn, [(i[0], i[1]) for i in new])
    for station_id, event, samples in new:
        evse_id = evses[(station_id, event.transaction_id)]
        for sample in samples:
            if sample.evse_id is None:
                sample.evse_id = evse_id
    return [(i[0], i[1].transaction_id) in inserted for i in items]


def _event_columns(items: Sequence[StationEvent]) -> tuple[str, ...]:
    """The parameters of :data:`_INSERT_EVENTS`: one array literal per column."""
    return (
        *map(literal, (
            [i[0] for i in items], [i[1].transaction_id for i in items],
            [i[1].seq_no for i in items], [content_digest(i[1], i[2]) for i in items],
            [i[1].event_type for i in items],
            [i[1].timestamp for i in items], [i[1].trigger_reason for i in items],
            [i[1].offline for i in items], [i[1].charging_state for i in items],
            [i[1].stopped_reason for i in items], [i[1].evse_id for i in items],
            [i[1].connector_id for i in items], [i[1].id_token for i in items],
            [i[1].id_token_type for i in items])),
        json_literal([i[1].payload for i in items]),
    )


async def _applied(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record],
                   evse_known: set[tuple[str, str]] | None
                   ) -> dict[tuple[str, str], int | None]:
    """After :func:`_apply`'s rows: each transaction's EVSE; a reused seqNo logged, samples
    stored without EVSE labelled once their transaction's EVSE is known."""
    evses = {(r[0], r[1]): r[2] for r in rows}
    if evse_known is not None:
        evse_known.update(key for key, evse in evses.items() if evse is not None)
    for r in rows:
        if r[4]:
            log.warning("transaction_seq_no_reused", station_id=r[0], transaction_id=r[1],
                        detail="events with one seqNo but different content: each is kept, "
                               "applied in (timestamp, seqNo) order")
    relabel = [((r[0], r[1]), r[2]) for r in rows if r[2] is not None and r[3] is None]
    if relabel:
        # The EVSE became known only now (its event arrived late): label earlier samples.
        for statement in (_RELABEL, _RELABEL_COMPACT):
            await conn.execute(statement, [k[0] for k, _ in relabel],
                               [k[1] for k, _ in relabel], [e for _, e in relabel])
    return evses


# Updated events of open transactions whose EVSE is known, with the batch's other sampled
# values and heartbeats, in one statement (no BEGIN and COMMIT: one statement is one
# transaction): the events not stored before go in, are applied to their transactions, and
# their samples are stored with the transaction's EVSE when they carry none.
_UPDATES_SOURCE = _unnest(f"{_EVENT_TYPES}, {_TRANSACTION_TYPES}")

_STORED_UPDATES = """(SELECT src.*, src.timestamp AS ts, stored.reused
                  FROM src JOIN stored USING (station_id, transaction_id)) e"""

_UPDATES = f"""
WITH src AS MATERIALIZED (SELECT * FROM {_UPDATES_SOURCE}),
stored AS ({_INSERT_NEW.format(events="src e")}),
applied AS ({_apply(_STORED_UPDATES)}),
heartbeat AS ({renumber(HEARTBEATS, 34)}),
samples AS ({upsert_sql(26, events="applied")})
SELECT * FROM applied
"""


async def record_updates(
    conn: asyncpg.Connection, items: Sequence[StationEvent],
    samples: Sequence[tuple[str, MeterSample]], heartbeats: Sequence[str], codes: MeterCodes,
    evse_known: set[tuple[str, str]] | None = None,
) -> list[bool]:
    """Store Updated TransactionEvents of transactions already open with a known EVSE, the
    events' sampled values and other ``samples`` (MeterValues), and ``heartbeats``, in one
    statement, outside any transaction: what :func:`record_transaction_events` and the sampled
    values' statement (with the heartbeats) do in three, between BEGIN and COMMIT.

    ``samples`` holds the events' samples too, as sent (the statement gives them their
    transaction's EVSE and leaves out those of repeated events). Returns, per item, whether it
    was new. A transaction that has no row makes the statement fail (its events' foreign key):
    the caller then stores the batch the long way.
    """
    meter = await meter_arguments(conn, samples, codes) or ("{}",) * 9
    rows = await conn.fetch(_UPDATES, *_event_columns(items), *_transaction_columns(items),
                            *meter, literal(heartbeats))
    evses = await _applied(conn, rows, evse_known)
    return [(i[0], i[1].transaction_id) in evses for i in items]


_SUMMARY = """
SELECT station_id, transaction_id, evse_id, connector_id, id_token, started_at, ended_at,
       stopped_reason, charging_state, last_seq_no, offline,
       energy_import_end - energy_import_start AS energy_imported_wh,
       energy_export_end - energy_export_start AS energy_exported_wh,
       extract(epoch FROM coalesce(ended_at, last_event_at) - started_at)::float8 AS duration_s
"""


async def list_transactions(
    db: Db,
    *,
    station_id: str | None = None,
    active: bool | None = None,
    since: datetime | None = None,
    limit: int = 100,
    after: tuple[datetime, str, str] | None = None,
) -> list[TransactionSummary]:
    """Transactions, newest first; filtered by station, by open (active=True) or ended
    (active=False), and by start time >= since. ``after`` (start, station, transaction id of
    the last one of the previous page) continues a listing."""
    clauses, args = [], []
    if station_id is not None:
        args.append(station_id)
        clauses.append(f"station_id = ${len(args)}")
    if active is not None:
        clauses.append("ended_at IS NULL" if active else "ended_at IS NOT NULL")
    if since is not None:
        args.append(since)
        clauses.append(f"started_at >= ${len(args)}")
    if after is not None:
        args.extend(after)
        n = len(args)
        clauses.append(f"(started_at < ${n - 2} OR (started_at = ${n - 2}"
                       f" AND (station_id, transaction_id) > (${n - 1}, ${n})))")
    args.append(limit)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await db.fetch(
        f"{_SUMMARY} FROM transactions {where} ORDER BY started_at DESC NULLS LAST,"
        f" station_id, transaction_id LIMIT ${len(args)}",
        *args,
    )
    return [TransactionSummary(**dict(r)) for r in rows]


async def get_transaction(
    db: Db, transaction_id: str, *, station_id: str | None = None
) -> TransactionDetail | None:
    """A transaction with its events ((timestamp, seqNo) order) and meter values (time order),
    or None.

    Without ``station_id``, raises StoreError if several stations used that transaction id.
    """
    args: list[object] = [transaction_id]
    where = "transaction_id = $1"
    if station_id is not None:
        args.append(station_id)
        where += " AND station_id = $2"
    rows = await db.fetch(
        f"""{_SUMMARY}, id_token_type, stop_id_token, remote_start_id, reservation_id,
            energy_import_start, energy_import_end, energy_export_start, energy_export_end,
            seq_no_reused
            FROM transactions WHERE {where}""",
        *args,
    )
    if not rows:
        return None
    if len(rows) > 1:
        stations = ", ".join(sorted(r["station_id"] for r in rows))
        raise StoreError(
            f"transaction {transaction_id!r} exists on several stations ({stations}); "
            "name the station"
        )
    detail = TransactionDetail(**dict(rows[0]))
    events = await db.fetch(
        """
        SELECT seq_no, event_type, timestamp, trigger_reason, offline, charging_state,
               stopped_reason, evse_id, connector_id, id_token, received_at
          FROM transaction_events WHERE station_id = $1 AND transaction_id = $2
         ORDER BY timestamp, seq_no, received_at
        """,
        detail.station_id,
        transaction_id,
    )
    detail.events = [dict(e) for e in events]
    detail.meter_values = await meter_values(
        db, station_id=detail.station_id, transaction_id=transaction_id
    )
    return detail


async def active_transaction_ids(db: Db, station_id: str, evse_id: int | None = None) -> list[str]:
    """Ids of the station's transactions that have not ended (on one EVSE, if given)."""
    rows = await db.fetch(
        """
        SELECT transaction_id FROM transactions
         WHERE station_id = $1 AND ended_at IS NULL AND ($2::integer IS NULL OR evse_id = $2)
         ORDER BY started_at
        """,
        station_id,
        evse_id,
    )
    return [r["transaction_id"] for r in rows]
