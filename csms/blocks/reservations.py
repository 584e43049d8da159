"""Functional block H, reservations: what stations report about the reservations the CSMS
made (ReservationStatusUpdate, H04; a transaction that uses one, H03). Making and cancelling
them is :mod:`csms.operations.reservations`."""

from __future__ import annotations

from typing import Any

from csms.blocks.station_context import StationContext
from csms.store import reservations


async def reservation_status_update(ctx: StationContext, payload: dict[str, Any]
                                    ) -> dict[str, Any]:
    """A reservation expired or was removed by the station (H04.FR.01/02): record how it
    ended. One the CSMS does not know (made by hand with ``csms call``) is logged only."""
    reservation_id = payload["reservationId"]
    status = payload["reservationUpdateStatus"]
    known = await reservations.record_station_update(ctx.pool, ctx.station_id, reservation_id,
                                                     status)
    (ctx.log.info if known else ctx.log.warning)(
        "reservation_status_update", reservation_id=reservation_id, status=status, known=known)
    return {}


async def reservation_used(ctx: StationContext, reservation_id: int,
                           transaction_id: str) -> None:
    """A TransactionEvent carried ``reservation_id``: the reservation ends Used (H03)."""
    known = await reservations.record_use(ctx.pool, ctx.station_id, reservation_id,
                                          transaction_id)
    (ctx.log.info if known else ctx.log.warning)(
        "reservation_used", reservation_id=reservation_id, transaction_id=transaction_id,
        known=known)


HANDLERS = {"ReservationStatusUpdate": reservation_status_update}
