"""Functional block A, security, station -> CSMS: SecurityEventNotification. The change of a
station's Basic auth password through the station itself (A01) is in
:mod:`csms.operations.passwords`; certificates (A02/A03 and block M) in
:mod:`csms.blocks.certificates`.
"""

from __future__ import annotations

from typing import Any

from csms.blocks.payload import time_field
from csms.blocks.station_context import StationContext
from csms.store import reports


async def security_event_notification(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store a security event (A04)."""
    await reports.store_security_event(
        ctx.pool,
        ctx.station_id,
        payload["type"],
        time_field(payload["timestamp"], "timestamp"),
        payload.get("techInfo"),
    )
    ctx.log.info("security_event", type=payload["type"])
    return {}


HANDLERS = {"SecurityEventNotification": security_event_notification}


