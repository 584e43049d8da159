"""Station -> CSMS notifications that are kept as received and acknowledged with an empty
response: the 2.1 DER control, settlement and battery swap notifications."""

from __future__ import annotations

from typing import Any

from csms.blocks.station_context import BlockHandler, StationContext
from csms.store import reports


def keep(action: str) -> BlockHandler:
    """A handler that stores ``action`` as received and answers an empty response."""

    async def handler(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
        await reports.store_notification(ctx.pool, ctx.station_id, action, payload)
        return {}

    handler.__name__ = f"keep_{action}"
    handler.__doc__ = f"Store {action} as received and acknowledge it."
    return handler


HANDLERS: dict[str, BlockHandler] = {}

HANDLERS_V21 = {
    action: keep(action)
    for action in (
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "ReportDERControl",
        # I03: the payment terminal reports a settlement; no receipt is issued here, so the
        # response carries no receiptUrl.
        "NotifySettlement",
        "BatterySwap",
    )
}
