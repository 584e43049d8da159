"""Diagnostics read back (N02, N07, N09, N10): the events stations reported, whether a
monitoring report is complete, and customer information requests with the data they returned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db


@dataclass(frozen=True)
class EventRecord:
    """One NotifyEvent entry as stored."""

    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    event_notification_type: str
    component_name: str
    variable_name: str
    cause: int | None
    tech_code: str | None
    tech_info: str | None
    cleared: bool | None
    transaction_id: str | None
    variable_monitoring_id: int | None
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable_instance: str | None
    severity: int | None
    received_at: datetime


async def events(db: Db, station_id: str, *, since: datetime | None = None,
                 limit: int = 1000) -> list[EventRecord]:
    """A station's NotifyEvent entries at or after ``since`` (by the station's timestamp),
    oldest first; at most ``limit``, the most recent ones."""
    rows = await db.fetch(
        """
        SELECT * FROM (
            SELECT event_id, timestamp, trigger, actual_value, event_notification_type,
                   component_name, variable_name, cause, tech_code, tech_info, cleared,
                   transaction_id, variable_monitoring_id, component_instance, evse_id,
                   connector_id, variable_instance, (extra ->> 'severity')::integer AS severity,
                   received_at, id
              FROM station_events
             WHERE station_id = $1 AND ($2::timestamptz IS NULL OR timestamp >= $2)
             ORDER BY timestamp DESC, id DESC LIMIT $3) recent
         ORDER BY timestamp, id
        """,
        station_id, since, limit)
    return [EventRecord(**{k: v for k, v in dict(r).items() if k != "id"}) for r in rows]


async def report_complete(db: Db, station_id: str, kind: str, request_id: int) -> bool:
    """Whether every part of a multi-part report has arrived: the part with tbc false and
    every seqNo before it."""
    row = await db.fetchrow(
        """
        SELECT count(*) AS parts, max(seq_no) FILTER (WHERE NOT tbc) AS last
          FROM report_parts WHERE station_id = $1 AND kind = $2 AND request_id = $3
        """,
        station_id, kind, request_id)
    return row["last"] is not None and row["parts"] == row["last"] + 1


# -- customer information ----------------------------------------------------------------------

@dataclass(frozen=True)
class CustomerRequest:
    """A CustomerInformation request, its answer, and the data reported for it."""

    station_id: str
    request_id: int
    report: bool
    clear: bool
    requested_at: datetime
    id_token: str | None = None
    id_token_type: str | None = None
    customer_identifier: str | None = None
    customer_certificate: dict[str, Any] | None = None
    command_id: int | None = None
    answer: str | None = None
    answer_reason: str | None = None
    answered_at: datetime | None = None
    data: str = ""
    parts: int = 0
    complete: bool = False


async def next_request_id(db: Db) -> int:
    """A fresh requestId for CustomerInformation or GetMonitoringReport."""
    return int(await db.fetchval("SELECT nextval('diagnostics_request_ids')::integer"))


async def add_customer_request(
    db: Db, station_id: str, request_id: int, *, report: bool, clear: bool,
    id_token: str | None = None, id_token_type: str | None = None,
    customer_identifier: str | None = None,
    customer_certificate: dict[str, Any] | None = None,
) -> None:
    """Record a CustomerInformation request before it is sent."""
    await db.execute(
        """
        INSERT INTO customer_information_requests (station_id, request_id, report, clear,
            id_token, id_token_type, customer_identifier, customer_certificate)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        station_id, request_id, report, clear, id_token, id_token_type, customer_identifier,
        customer_certificate)


async def record_customer_answer(db: Db, station_id: str, request_id: int, answer: str,
                                 reason: str | None, command_id: int | None) -> None:
    """Record how the CustomerInformation call ended."""
    await db.execute(
        """
        UPDATE customer_information_requests
           SET answer = $3, answer_reason = $4, answered_at = now(), command_id = $5
         WHERE station_id = $1 AND request_id = $2
        """,
        station_id, request_id, answer, reason, command_id)


async def customer_request(db: Db, station_id: str, request_id: int) -> CustomerRequest | None:
    """A CustomerInformation request with the data reported so far (parts joined in seqNo
    order; ``complete`` once the last part, tbc false, and all before it have arrived)."""
    row = await db.fetchrow(
        """
        SELECT r.station_id, r.request_id, r.report, r.clear, r.requested_at, r.id_token,
               r.id_token_type, r.customer_identifier, r.customer_certificate, r.command_id,
               r.answer, r.answer_reason, r.answered_at,
               coalesce(string_agg(p.data, '' ORDER BY p.seq_no), '') AS data,
               count(p.seq_no)::integer AS parts,
               coalesce(count(p.seq_no) = max(p.seq_no) FILTER (WHERE NOT p.tbc) + 1, false)
                   AS complete
          FROM customer_information_requests r
          LEFT JOIN customer_information p
            ON p.station_id = r.station_id AND p.request_id = r.request_id
         WHERE r.station_id = $1 AND r.request_id = $2
         GROUP BY r.station_id, r.request_id
        """,
        station_id, request_id)
    return CustomerRequest(**dict(row)) if row else None
