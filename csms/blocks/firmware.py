"""Functional block L, firmware management: FirmwareStatusNotification and
PublishFirmwareStatusNotification."""

from __future__ import annotations

from typing import Any

from csms.blocks.context import StationContext
from csms.store import reports


async def firmware_status_notification(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store the progress of a firmware update (L01)."""
    await reports.store_status_notification(
        ctx.pool,
        ctx.station_id,
        "firmware",
        payload["status"],
        request_id=payload.get("requestId"),
        status_info=payload.get("statusInfo"),
    )
    return {}


async def publish_firmware_status_notification(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store the progress of a local controller publishing firmware (L03)."""
    details = {"location": payload["location"]} if "location" in payload else None
    await reports.store_status_notification(
        ctx.pool,
        ctx.station_id,
        "publish_firmware",
        payload["status"],
        request_id=payload.get("requestId"),
        status_info=payload.get("statusInfo"),
        details=details,
    )
    return {}


HANDLERS = {
    "FirmwareStatusNotification": firmware_status_notification,
    "PublishFirmwareStatusNotification": publish_firmware_status_notification,
}
