"""What stations report outside transactions: events, security events, firmware and log status,
customer information, monitoring reports, data transfers, certificate requests, and the rarer
notifications kept as received."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection
from csms.store.devicemodel import record_report_part


@dataclass
class StationEvent:
    """One EventData entry of a NotifyEvent."""

    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    event_notification_type: str
    component_name: str
    variable_name: str
    cause: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    cleared: bool | None = None
    transaction_id: str | None = None
    variable_monitoring_id: int | None = None
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    extra: dict[str, Any] | None = None


@dataclass
class MonitoredVariable:
    """One monitoringData entry of a NotifyMonitoringReport: a variable and its monitors."""

    component_name: str
    variable_name: str
    monitors: list[dict[str, Any]]
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None


async def store_events(
    db: Db,
    station_id: str,
    generated_at: datetime,
    seq_no: int,
    tbc: bool,
    events: Sequence[StationEvent],
) -> bool:
    """Store one NotifyEvent part; False (nothing stored) if this part was stored before.

    NotifyEvent has no requestId; a part is identified by its generatedAt and seqNo.
    """
    async with connection(db) as conn, conn.transaction():
        seen = await conn.fetchval(
            "SELECT true FROM station_events"
            " WHERE station_id = $1 AND generated_at = $2 AND seq_no = $3 LIMIT 1",
            station_id,
            generated_at,
            seq_no,
        )
        if seen:
            return False
        await conn.executemany(
            """
            INSERT INTO station_events (station_id, event_id, timestamp, trigger, cause,
                actual_value, tech_code, tech_info, cleared, transaction_id,
                variable_monitoring_id, event_notification_type, component_name,
                component_instance, evse_id, connector_id, variable_name, variable_instance,
                extra, generated_at, seq_no)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19, $20, $21)
            """,
            [
                (station_id, e.event_id, e.timestamp, e.trigger, e.cause, e.actual_value,
                 e.tech_code, e.tech_info, e.cleared, e.transaction_id,
                 e.variable_monitoring_id, e.event_notification_type, e.component_name,
                 e.component_instance, e.evse_id, e.connector_id, e.variable_name,
                 e.variable_instance, e.extra, generated_at, seq_no)
                for e in events
            ],
        )
    return True


async def list_events(db: Db, station_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A station's most recent NotifyEvent entries, newest first."""
    rows = await db.fetch(
        """
        SELECT event_id, timestamp, trigger, cause, actual_value, tech_code, tech_info, cleared,
               transaction_id, event_notification_type, component_name, component_instance,
               evse_id, connector_id, variable_name, variable_instance
          FROM station_events WHERE station_id = $1 ORDER BY timestamp DESC, id DESC LIMIT $2
        """,
        station_id,
        limit,
    )
    return [dict(r) for r in rows]


async def store_security_event(
    db: Db, station_id: str, type_: str, timestamp: datetime, tech_info: str | None
) -> None:
    """Store a SecurityEventNotification."""
    await db.execute(
        "INSERT INTO security_events (station_id, type, timestamp, tech_info)"
        " VALUES ($1, $2, $3, $4)",
        station_id,
        type_,
        timestamp,
        tech_info,
    )


async def list_security_events(db: Db, station_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A station's most recent security events, newest first."""
    rows = await db.fetch(
        """
        SELECT type, timestamp, tech_info, received_at FROM security_events
         WHERE station_id = $1 ORDER BY timestamp DESC, id DESC LIMIT $2
        """,
        station_id,
        limit,
    )
    return [dict(r) for r in rows]


async def store_status_notification(
    db: Db,
    station_id: str,
    kind: str,
    status: str,
    *,
    request_id: int | None = None,
    status_info: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store a firmware ('firmware'), publish-firmware ('publish_firmware') or log ('log')
    status notification."""
    await db.execute(
        """
        INSERT INTO status_notifications (station_id, kind, status, request_id, status_info,
                                          details)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        station_id,
        kind,
        status,
        request_id,
        status_info,
        details,
    )


async def store_customer_information(
    db: Db,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime,
    data: str,
) -> bool:
    """Store one NotifyCustomerInformation part; False if that part was stored before."""
    inserted = await db.fetchval(
        """
        INSERT INTO customer_information (station_id, request_id, seq_no, tbc, generated_at, data)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true
        """,
        station_id,
        request_id,
        seq_no,
        tbc,
        generated_at,
        data,
    )
    return bool(inserted)


async def customer_information(db: Db, station_id: str, request_id: int) -> str:
    """The customer information a station reported for one request, parts joined in order."""
    rows = await db.fetch(
        "SELECT data FROM customer_information WHERE station_id = $1 AND request_id = $2"
        " ORDER BY seq_no",
        station_id,
        request_id,
    )
    return "".join(r["data"] for r in rows)


async def store_monitoring_report(
    db: Db,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime,
    variables: Sequence[MonitoredVariable],
) -> bool:
    """Store one NotifyMonitoringReport part; False if that part was stored before."""
    async with connection(db) as conn, conn.transaction():
        if not await record_report_part(
            conn, station_id, "NotifyMonitoringReport", request_id, seq_no, tbc, generated_at
        ):
            return False
        await conn.executemany(
            """
            INSERT INTO monitoring_reports (station_id, request_id, seq_no, position,
                component_name, component_instance, evse_id, connector_id, variable_name,
                variable_instance, monitors)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            [
                (station_id, request_id, seq_no, i, v.component_name, v.component_instance,
                 v.evse_id, v.connector_id, v.variable_name, v.variable_instance, v.monitors)
                for i, v in enumerate(variables)
            ],
        )
    return True


async def monitoring_report(db: Db, station_id: str, request_id: int) -> list[MonitoredVariable]:
    """The monitored variables a station reported for one request, in report order."""
    rows = await db.fetch(
        """
        SELECT component_name, variable_name, monitors, component_instance, evse_id,
               connector_id, variable_instance
          FROM monitoring_reports WHERE station_id = $1 AND request_id = $2
         ORDER BY seq_no, position
        """,
        station_id,
        request_id,
    )
    return [MonitoredVariable(**dict(r)) for r in rows]


async def store_data_transfer(
    db: Db, station_id: str, vendor_id: str, message_id: str | None, data: Any, answer: str
) -> None:
    """Store a station's DataTransfer and the status the CSMS answered."""
    await db.execute(
        """
        INSERT INTO data_transfers (station_id, vendor_id, message_id, data, answer_status)
        VALUES ($1, $2, $3, $4, $5)
        """,
        station_id,
        vendor_id,
        message_id,
        data,
        answer,
    )


async def store_certificate_request(
    db: Db, station_id: str, action: str, request: dict[str, Any], answer: str, reason: str | None
) -> None:
    """Store a certificate-related request and the status the CSMS answered."""
    await db.execute(
        """
        INSERT INTO certificate_requests (station_id, action, request, answer_status, reason)
        VALUES ($1, $2, $3, $4, $5)
        """,
        station_id,
        action,
        request,
        answer,
        reason,
    )


async def store_notification(db: Db, station_id: str, action: str, payload: dict[str, Any]) -> None:
    """Keep a notification as received (for actions without a table of their own)."""
    await db.execute(
        "INSERT INTO station_notifications (station_id, action, payload) VALUES ($1, $2, $3)",
        station_id,
        action,
        payload,
    )


async def open_event_stream(
    db: Db, station_id: str, stream_id: int, variable_monitoring_id: int, params: dict | None
) -> None:
    """Record a periodic event stream the station opened (re-opening an id replaces it)."""
    await db.execute(
        """
        INSERT INTO periodic_event_streams (station_id, stream_id, variable_monitoring_id, params)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (station_id, stream_id) DO UPDATE
           SET variable_monitoring_id = EXCLUDED.variable_monitoring_id,
               params = EXCLUDED.params, opened_at = now(), closed_at = NULL
        """,
        station_id,
        stream_id,
        variable_monitoring_id,
        params,
    )


async def close_event_stream(db: Db, station_id: str, stream_id: int) -> bool:
    """Mark a periodic event stream closed; False if no open stream had that id."""
    status = await db.execute(
        """
        UPDATE periodic_event_streams SET closed_at = now()
         WHERE station_id = $1 AND stream_id = $2 AND closed_at IS NULL
        """,
        station_id,
        stream_id,
    )
    return status != "UPDATE 0"
