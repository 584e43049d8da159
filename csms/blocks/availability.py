"""Functional block G, availability: StatusNotification."""

from __future__ import annotations

from typing import Any

from csms.blocks.payload import time_field
from csms.blocks.station_context import StationContext
from csms.store import stations


async def status_notification(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store a connector's status (G01); a report older than the stored one is kept out."""
    await stations.record_connector_status(
        ctx.pool,
        ctx.station_id,
        payload["evseId"],
        payload["connectorId"],
        payload["connectorStatus"],
        time_field(payload["timestamp"], "timestamp"),
    )
    return {}


HANDLERS = {"StatusNotification": status_notification}
