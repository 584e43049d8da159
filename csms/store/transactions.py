"""Transactions and their TransactionEvents.

Every event is kept (a retry with the same station, transaction id and seqNo is a no-op). The
``transactions`` row is derived from the events: its live fields (EVSE, charging state, last
trigger) come from the event with the highest seqNo seen so far, so an offline event that arrives
late never overwrites newer state; start, end and the energy registers are taken from the
earliest and latest times seen, whatever the arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection
from csms.store.metering import MeterSample, MeterValueRow, insert_meter_values, meter_values
from csms.store.records import StoreError

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
    """A transaction in full: its summary, its events in seqNo order and its meter values."""

    id_token_type: str | None = None
    stop_id_token: str | None = None
    remote_start_id: int | None = None
    energy_import_start: float | None = None
    energy_import_end: float | None = None
    energy_export_start: float | None = None
    energy_export_end: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    meter_values: list[MeterValueRow] = field(default_factory=list)


def _register_bounds(
    samples: list[MeterSample], measurand: str
) -> tuple[float | None, datetime | None, float | None, datetime | None]:
    """(first value, its time, last value, its time) of a register's totals among ``samples``."""
    totals = [s for s in samples if s.measurand == measurand and s.phase is None]
    if not totals:
        return None, None, None, None
    first = min(totals, key=lambda s: s.timestamp)
    last = max(totals, key=lambda s: s.timestamp)
    return first.value, first.timestamp, last.value, last.timestamp


_APPLY = """
UPDATE transactions t SET
    started_at = LEAST(t.started_at, $3),
    ended_at = CASE WHEN $4 = 'Ended' THEN $3 ELSE t.ended_at END,
    stopped_reason = CASE WHEN $4 = 'Ended' THEN coalesce($5, 'Local') ELSE t.stopped_reason END,
    evse_id = CASE WHEN t.last_seq_no IS NULL OR $2 > t.last_seq_no
                   THEN coalesce($6, t.evse_id) ELSE coalesce(t.evse_id, $6) END,
    connector_id = CASE WHEN t.last_seq_no IS NULL OR $2 > t.last_seq_no
                   THEN coalesce($7, t.connector_id) ELSE coalesce(t.connector_id, $7) END,
    charging_state = CASE WHEN t.last_seq_no IS NULL OR $2 > t.last_seq_no
                   THEN coalesce($8, t.charging_state) ELSE t.charging_state END,
    last_trigger_reason = CASE WHEN t.last_seq_no IS NULL OR $2 > t.last_seq_no
                   THEN $9 ELSE t.last_trigger_reason END,
    last_event_at = CASE WHEN t.last_seq_no IS NULL OR $2 > t.last_seq_no
                   THEN $3 ELSE t.last_event_at END,
    last_seq_no = GREATEST(t.last_seq_no, $2),
    id_token = CASE WHEN $10::text IS NULL OR $4 = 'Ended' THEN t.id_token
                    WHEN $4 = 'Started' OR t.id_token IS NULL THEN $10 ELSE t.id_token END,
    id_token_type = CASE WHEN $10::text IS NULL OR $4 = 'Ended' THEN t.id_token_type
                    WHEN $4 = 'Started' OR t.id_token IS NULL THEN $11 ELSE t.id_token_type END,
    stop_id_token = CASE WHEN $4 = 'Ended' AND $10::text IS NOT NULL THEN $10
                    ELSE t.stop_id_token END,
    stop_id_token_type = CASE WHEN $4 = 'Ended' AND $10::text IS NOT NULL THEN $11
                    ELSE t.stop_id_token_type END,
    remote_start_id = coalesce(t.remote_start_id, $12),
    reservation_id = coalesce(t.reservation_id, $13),
    offline = t.offline OR $14,
    energy_import_start = CASE WHEN $16::timestamptz IS NOT NULL AND
        (t.energy_import_start_at IS NULL OR $16 < t.energy_import_start_at)
        THEN $15 ELSE t.energy_import_start END,
    energy_import_start_at = LEAST(t.energy_import_start_at, $16),
    energy_import_end = CASE WHEN $18::timestamptz IS NOT NULL AND
        (t.energy_import_end_at IS NULL OR $18 >= t.energy_import_end_at)
        THEN $17 ELSE t.energy_import_end END,
    energy_import_end_at = GREATEST(t.energy_import_end_at, $18),
    energy_export_start = CASE WHEN $20::timestamptz IS NOT NULL AND
        (t.energy_export_start_at IS NULL OR $20 < t.energy_export_start_at)
        THEN $19 ELSE t.energy_export_start END,
    energy_export_start_at = LEAST(t.energy_export_start_at, $20),
    energy_export_end = CASE WHEN $22::timestamptz IS NOT NULL AND
        (t.energy_export_end_at IS NULL OR $22 >= t.energy_export_end_at)
        THEN $21 ELSE t.energy_export_end END,
    energy_export_end_at = GREATEST(t.energy_export_end_at, $22),
    updated_at = now()
FROM transactions old
WHERE t.station_id = $1 AND t.transaction_id = $23
  AND old.station_id = t.station_id AND old.transaction_id = t.transaction_id
RETURNING t.evse_id, old.evse_id AS old_evse_id
"""


async def record_transaction_event(
    db: Db, station_id: str, event: TxEvent, samples: list[MeterSample]
) -> bool:
    """Store a TransactionEvent and its sampled values, and fold it into the transaction.

    Returns False, changing nothing, when this (station, transaction, seqNo) was stored before.
    Samples whose EVSE is not given take the transaction's EVSE, as soon as it is known.
    """
    async with connection(db) as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO transactions (station_id, transaction_id) VALUES ($1, $2)
            ON CONFLICT (station_id, transaction_id) DO NOTHING
            """,
            station_id,
            event.transaction_id,
        )
        inserted = await conn.fetchval(
            """
            INSERT INTO transaction_events (station_id, transaction_id, seq_no, event_type,
                timestamp, trigger_reason, offline, charging_state, stopped_reason, evse_id,
                connector_id, id_token, id_token_type, payload)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (station_id, transaction_id, seq_no) DO NOTHING
            RETURNING true
            """,
            station_id,
            event.transaction_id,
            event.seq_no,
            event.event_type,
            event.timestamp,
            event.trigger_reason,
            event.offline,
            event.charging_state,
            event.stopped_reason,
            event.evse_id,
            event.connector_id,
            event.id_token,
            event.id_token_type,
            event.payload,
        )
        if not inserted:
            return False
        imp = _register_bounds(samples, IMPORT_REGISTER)
        exp = _register_bounds(samples, EXPORT_REGISTER)
        applied = await conn.fetchrow(
            _APPLY,
            station_id,
            event.seq_no,
            event.timestamp,
            event.event_type,
            event.stopped_reason,
            event.evse_id,
            event.connector_id,
            event.charging_state,
            event.trigger_reason,
            event.id_token,
            event.id_token_type,
            event.remote_start_id,
            event.reservation_id,
            event.offline,
            *imp,
            *exp,
            event.transaction_id,
        )
        evse_id = applied["evse_id"]
        for s in samples:
            if s.evse_id is None:
                s.evse_id = evse_id
        if evse_id is not None and applied["old_evse_id"] is None:
            # The EVSE became known only now (its event arrived late): label earlier samples.
            await conn.execute(
                "UPDATE meter_values SET evse_id = $3"
                " WHERE station_id = $1 AND transaction_id = $2 AND evse_id IS NULL",
                station_id,
                event.transaction_id,
                evse_id,
            )
        await insert_meter_values(conn, station_id, samples)
    return True


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
) -> list[TransactionSummary]:
    """Transactions, newest first; filtered by station, by open (active=True) or ended
    (active=False), and by start time >= since."""
    clauses, args = [], []
    if station_id is not None:
        args.append(station_id)
        clauses.append(f"station_id = ${len(args)}")
    if active is not None:
        clauses.append("ended_at IS NULL" if active else "ended_at IS NOT NULL")
    if since is not None:
        args.append(since)
        clauses.append(f"started_at >= ${len(args)}")
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
    """A transaction with its events (seqNo order) and meter values (time order), or None.

    Without ``station_id``, raises StoreError if several stations used that transaction id.
    """
    args: list[object] = [transaction_id]
    where = "transaction_id = $1"
    if station_id is not None:
        args.append(station_id)
        where += " AND station_id = $2"
    rows = await db.fetch(
        f"""{_SUMMARY}, id_token_type, stop_id_token, remote_start_id, energy_import_start,
            energy_import_end, energy_export_start, energy_export_end
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
          FROM transaction_events WHERE station_id = $1 AND transaction_id = $2 ORDER BY seq_no
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
