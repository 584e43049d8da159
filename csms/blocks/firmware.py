"""Functional block L, firmware management: FirmwareStatusNotification and
PublishFirmwareStatusNotification."""

from __future__ import annotations

from typing import Any

from csms.blocks.station_context import StationContext
from csms.store import firmware, reports


async def firmware_status_notification(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store the progress of a firmware update (L01, L02): kept in the station's status
    history, and as the latest status of the update with that requestId when the CSMS sent
    it. A triggered notification with no update under way has no requestId (status Idle)."""
    request_id = payload.get("requestId")
    await reports.store_status_notification(
        ctx.pool,
        ctx.station_id,
        "firmware",
        payload["status"],
        request_id=request_id,
        status_info=payload.get("statusInfo"),
    )
    if request_id is not None:
        known = await firmware.record_status(ctx.pool, ctx.station_id, request_id,
                                             payload["status"], payload.get("statusInfo"))
        if not known:
            ctx.log.info("firmware_status_for_unknown_request", request_id=request_id,
                         status=payload["status"])
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
