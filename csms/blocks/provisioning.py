"""Functional block B, provisioning: BootNotification, Heartbeat, NotifyReport."""

from __future__ import annotations

from typing import Any

from csms.blocks.payload import component_fields, now_iso, time_field
from csms.blocks.station_context import StationContext
from csms.store import batch, devicemodel, firmware, stations
from csms.store.devicemodel import VariableAttribute

_BOOT_STATUS = {"accept": "Accepted", "pending": "Pending", "reject": "Rejected"}


async def boot_notification(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store what the station reports and answer by its boot status (B01, B02, B03): the one
    set for it (``csms stations set-boot``), else the server's boot policy."""
    station = payload["chargingStation"]
    modem = station.get("modem") or {}
    status = await stations.record_boot(
        ctx.pool,
        ctx.station_id,
        status=_BOOT_STATUS[ctx.config.boot_policy],
        reason=payload["reason"],
        vendor_name=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        modem_iccid=modem.get("iccid"),
        modem_imsi=modem.get("imsi"),
    )
    await firmware.record_boot(ctx.pool, ctx.station_id, payload["reason"],
                               station.get("firmwareVersion"))  # L01: the version installed
    # B01.FR.04: with Accepted, interval is the heartbeat interval; B02.FR.01 / B03.FR.01: with
    # Pending or Rejected, it is the time to wait before the next BootNotification.
    interval = (
        ctx.config.heartbeat_interval if status == "Accepted" else ctx.config.boot_retry_interval
    )
    ctx.log.info("boot_notification", status=status, reason=payload["reason"])
    return {"currentTime": now_iso(), "interval": interval, "status": status}


async def heartbeat(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the heartbeat and answer the current time (G02)."""
    await batch.writer(ctx.pool).heartbeat(ctx.station_id)
    return {"currentTime": now_iso()}


def report_attributes(report_data: list[dict[str, Any]]) -> list[VariableAttribute]:
    """The variable attributes of NotifyReport ``reportData``, one per attribute type."""
    attributes = []
    for item in report_data:
        where = component_fields(item["component"], item["variable"])
        characteristics = item.get("variableCharacteristics")
        for attr in item["variableAttribute"]:
            attributes.append(
                VariableAttribute(
                    **where,
                    attribute_type=attr.get("type", "Actual"),
                    value=attr.get("value"),
                    mutability=attr.get("mutability", "ReadWrite"),
                    persistent=attr.get("persistent", False),
                    constant=attr.get("constant", False),
                    characteristics=characteristics,
                )
            )
    return attributes


async def notify_report(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store one part of a device model report (B07, B08); a repeated part changes nothing."""
    stored = await devicemodel.store_report(
        ctx.pool,
        ctx.station_id,
        payload["requestId"],
        payload["seqNo"],
        payload.get("tbc", False),
        time_field(payload["generatedAt"], "generatedAt"),
        report_attributes(payload.get("reportData", [])),
    )
    if not stored:
        ctx.log.info("notify_report_repeated", request_id=payload["requestId"],
                     seq_no=payload["seqNo"])
    return {}


HANDLERS = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "NotifyReport": notify_report,
}
