"""A station's reservations (H01-H04): its one EVSE held for a driver's token (or group) until
the reservation expires, is cancelled, is removed by a fault, or is used.

While held, the connector reports Reserved, a car plugged in starts no transaction, and only
the token the EVSE is kept for (or one of its group) can start one, which carries the
reservation's id. How a reservation ends is told to the CSMS with a ReservationStatusUpdate:
Expired when its time is over, Removed otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from simulators.devicemodel import DeviceModel
from simulators.evse import EVSE_ID, Evse, Message, Reservation

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
COMPONENT = "ReservationCtrlr"


class Reservations:
    """Reservations of the station's one EVSE (so at most one: with one EVSE, one reservation
    is as many as there are EVSEs, H01.FR.04), kept on the EVSE itself."""

    def __init__(self, evse: Evse, model: DeviceModel, connector_type: str) -> None:
        self.evse = evse
        self.model = model
        self.connector_type = connector_type

    @property
    def held(self) -> Reservation | None:
        """The reservation holding the EVSE, if any."""
        return self.evse.reservation

    def reserve(self, request: dict[str, Any], now: float
                ) -> tuple[str, str | None, list[Message]]:
        """Answer a ReserveNowRequest: (status, reason code, messages to send)."""
        evse = self.evse
        evse_id = request.get("evseId")
        if self.model.get(COMPONENT, "Enabled") != "true":
            return "Rejected", "ReservationsDisabled", []
        if evse_id is None and self.model.get(COMPONENT, "NonEvseSpecific") != "true":
            return "Rejected", "EvseRequired", []
        if evse_id is not None and evse_id != EVSE_ID:
            return "Rejected", "UnknownEvse", []
        if request.get("connectorType") not in (None, self.connector_type):
            return "Rejected", "UnknownConnectorType", []
        held = self.held
        replacing = held is not None and held.id == request["id"]  # H01.FR.02
        if evse.faulted:
            return "Faulted", None, []
        if not evse.operative:
            return "Unavailable", None, []
        if (held is not None and not replacing) or evse.visit is not None or evse.tx is not None:
            return "Occupied", None, []
        evse.reservation = Reservation(
            request["id"], request["idToken"], request.get("groupIdToken"),
            datetime.fromisoformat(request["expiryDateTime"]).timestamp())
        return "Accepted", None, [] if replacing else [evse.status_notification(now)]

    def release(self, now: float, status: str, *, notify: bool = True) -> list[Message]:
        """End the held reservation (if any): tell the CSMS how (Expired, Removed) and, with
        ``notify``, the connector's new status."""
        held = self.held
        if held is None:
            return []
        self.evse.reservation = None
        messages: list[Message] = [("ReservationStatusUpdate", {
            "reservationId": held.id, "reservationUpdateStatus": status})]
        return [*messages, self.evse.status_notification(now)] if notify else messages

    def cancel(self, reservation_id: int, now: float) -> list[Message] | None:
        """H02: the messages of cancelling ``reservation_id``; None when it is not held."""
        if self.held is None or self.held.id != reservation_id:
            return None
        return self.release(now, "Removed")

    def expire(self, now: float) -> list[Message]:
        """H04: the messages of a reservation whose time is over (none while none is)."""
        if self.held is None or now < self.held.expires_at:
            return []
        return self.release(now, "Expired")

    def claim(self, id_token: dict[str, Any], group_id_token: dict[str, Any] | None,
              now: float) -> tuple[bool, int | None, list[Message]]:
        """An authorized token wants the EVSE: (may it charge, the reservation it uses, the
        messages of using it). A reservation for another token keeps it out (H03)."""
        held = self.held
        if held is None:
            return True, None, []
        if not held.admits(id_token, group_id_token):
            return False, None, []
        return True, held.id, self.release(now, "Removed")  # H03.FR.09/10


def handlers(desk: Reservations, enqueue: Callable[[list[Message]], None]
             ) -> dict[str, Handler]:
    """ReserveNow and CancelReservation answered from ``desk``; what they cause is sent with
    ``enqueue`` (the station's outbox)."""

    async def reserve_now(payload: dict[str, Any]) -> dict[str, Any]:
        status, reason, messages = desk.reserve(payload, time.time())
        enqueue(messages)
        response: dict[str, Any] = {"status": status}
        if reason is not None:
            response["statusInfo"] = {"reasonCode": reason}
        return response

    async def cancel_reservation(payload: dict[str, Any]) -> dict[str, Any]:
        messages = desk.cancel(payload["reservationId"], time.time())
        if messages is None:
            return {"status": "Rejected"}
        enqueue(messages)
        return {"status": "Accepted"}

    return {"ReserveNow": reserve_now, "CancelReservation": cancel_reservation}
