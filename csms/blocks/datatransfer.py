"""Functional block P, data transfer: DataTransfer from the station."""

from __future__ import annotations

from typing import Any

from csms.blocks.station_context import StationContext
from csms.store import reports


async def data_transfer(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the message and answer UnknownVendorId (P02.FR.xx, TC_P_02): this CSMS implements
    no vendor extensions."""
    status = "UnknownVendorId"
    await reports.store_data_transfer(
        ctx.pool,
        ctx.station_id,
        payload["vendorId"],
        payload.get("messageId"),
        payload.get("data"),
        status,
    )
    return {"status": status}


HANDLERS = {"DataTransfer": data_transfer}
