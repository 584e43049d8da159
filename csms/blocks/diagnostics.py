"""Functional block N, diagnostics: NotifyEvent, NotifyMonitoringReport, LogStatusNotification,
NotifyCustomerInformation, and (2.1) periodic event streams."""

from __future__ import annotations

from typing import Any

from csms.blocks.notifications import keep
from csms.blocks.payload import component_fields, time_field
from csms.blocks.station_context import StationContext
from csms.store import logs, reports
from csms.store.reports import MonitoredVariable, StationEvent

# EventDataType fields stored in columns of their own; anything else (2.1 severity, customData,
# ...) goes to the row's ``extra``.
_EVENT_COLUMNS = {
    "eventId", "timestamp", "trigger", "cause", "actualValue", "techCode", "techInfo", "cleared",
    "transactionId", "component", "variable", "variableMonitoringId", "eventNotificationType",
}


def station_event(data: dict[str, Any], index: int) -> StationEvent:
    """The stored form of one EventDataType."""
    extra = {k: v for k, v in data.items() if k not in _EVENT_COLUMNS}
    return StationEvent(
        event_id=data["eventId"],
        timestamp=time_field(data["timestamp"], f"eventData[{index}].timestamp"),
        trigger=data["trigger"],
        actual_value=data["actualValue"],
        event_notification_type=data["eventNotificationType"],
        cause=data.get("cause"),
        tech_code=data.get("techCode"),
        tech_info=data.get("techInfo"),
        cleared=data.get("cleared"),
        transaction_id=data.get("transactionId"),
        variable_monitoring_id=data.get("variableMonitoringId"),
        extra=extra or None,
        **component_fields(data["component"], data["variable"]),
    )


async def notify_event(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the events a station reports (N07); a repeated part changes nothing."""
    events = [station_event(d, i) for i, d in enumerate(payload["eventData"])]
    await reports.store_events(
        ctx.pool,
        ctx.station_id,
        time_field(payload["generatedAt"], "generatedAt"),
        payload["seqNo"],
        payload.get("tbc", False),
        events,
    )
    return {}


async def notify_monitoring_report(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store one part of a monitoring report (N02)."""
    variables = [
        MonitoredVariable(
            monitors=m["variableMonitoring"], **component_fields(m["component"], m["variable"])
        )
        for m in payload.get("monitor", [])
    ]
    await reports.store_monitoring_report(
        ctx.pool,
        ctx.station_id,
        payload["requestId"],
        payload["seqNo"],
        payload.get("tbc", False),
        time_field(payload["generatedAt"], "generatedAt"),
        variables,
    )
    return {}


async def notify_customer_information(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store one part of the customer information a station holds (N09, N10)."""
    await reports.store_customer_information(
        ctx.pool,
        ctx.station_id,
        payload["requestId"],
        payload["seqNo"],
        payload.get("tbc", False),
        time_field(payload["generatedAt"], "generatedAt"),
        payload["data"],
    )
    return {}


async def log_status_notification(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the progress of a log upload (N01): in the station's status history, and as the
    latest status of the GetLog request with that requestId when the CSMS sent it."""
    request_id = payload.get("requestId")
    await reports.store_status_notification(
        ctx.pool,
        ctx.station_id,
        "log",
        payload["status"],
        request_id=request_id,
        status_info=payload.get("statusInfo"),
    )
    if request_id is not None:
        await logs.record_status(ctx.pool, ctx.station_id, request_id, payload["status"],
                                 payload.get("statusInfo"))
    return {}


async def open_periodic_event_stream(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Accept a periodic event stream (2.1): its values are stored as they arrive."""
    stream = payload["constantStreamData"]
    await reports.open_event_stream(
        ctx.pool, ctx.station_id, stream["id"], stream["variableMonitoringId"], stream["params"]
    )
    return {"status": "Accepted"}


async def close_periodic_event_stream(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Record that the station closed a periodic event stream (2.1)."""
    await reports.close_event_stream(ctx.pool, ctx.station_id, payload["id"])
    return {}


HANDLERS = {
    "NotifyEvent": notify_event,
    "NotifyMonitoringReport": notify_monitoring_report,
    "NotifyCustomerInformation": notify_customer_information,
    "LogStatusNotification": log_status_notification,
}

HANDLERS_V21 = {
    "OpenPeriodicEventStream": open_periodic_event_stream,
    "ClosePeriodicEventStream": close_periodic_event_stream,
    # The values of a periodic event stream are kept as received (a SEND: nothing is answered).
    "NotifyPeriodicEventStream": keep("NotifyPeriodicEventStream"),
}
