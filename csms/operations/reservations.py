"""Functional block H from the CSMS's side: reserve an EVSE (a given one, any one, or one with a
connector of some type) for a driver until a time (ReserveNow, H01), and cancel a reservation
(CancelReservation, H02).

Reservation ids are the CSMS's own, unique across stations. The station's answers are recorded
as they arrive (:mod:`csms.blocks.responses`), how each reservation ends as the station reports
it (:mod:`csms.blocks.reservations`); the functions here read the result back from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from csms.blocks.authorization import lookup_token_info
from csms.blocks.payload import iso
from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.store import reservations, stations
from csms.store.base import parse_time
from csms.store.reservations import Reservation

#: Outcomes after which the ReserveNow certainly did not reach the station.
_NOT_DELIVERED = frozenset({Status.OFFLINE, Status.CALLERROR})


@dataclass(frozen=True)
class ReservationRequest:
    """What to reserve: at a station, for a token (and its group), until a time; on one EVSE,
    on any EVSE (``evse_id`` None), or on an EVSE with a connector of ``connector_type``."""

    station_id: str
    id_token: str
    token_type: str
    expires_at: datetime
    evse_id: int | None = None
    connector_type: str | None = None
    group_id_token: str | None = None
    group_token_type: str = "Central"


@dataclass(frozen=True)
class ReservationResult:
    """The call's outcome and the reservation as stored after it (None when the request was
    refused before one was made)."""

    outcome: Outcome
    reservation: Reservation | None = None

    @property
    def ok(self) -> bool:
        """True when the station accepted."""
        return self.outcome.ok


def reserve_now_request(reservation_id: int, request: ReservationRequest) -> dict[str, Any]:
    """The ReserveNowRequest for ``request``, with the CSMS's id for it."""
    payload: dict[str, Any] = {
        "id": reservation_id,
        "expiryDateTime": iso(request.expires_at),
        "idToken": {"idToken": request.id_token, "type": request.token_type},
    }
    if request.evse_id is not None:
        payload["evseId"] = request.evse_id
    if request.connector_type is not None:
        payload["connectorType"] = request.connector_type
    if request.group_id_token is not None:
        payload["groupIdToken"] = {"idToken": request.group_id_token,
                                   "type": request.group_token_type}
    return payload


async def _refusal(pool: asyncpg.Pool, request: ReservationRequest) -> str | None:
    """Why the CSMS will not ask for this reservation, or None."""
    if request.expires_at <= datetime.now(UTC):
        return f"the expiry time {iso(request.expires_at)} is already past"
    info = await lookup_token_info(pool, {"idToken": request.id_token,
                                          "type": request.token_type})
    if info["status"] != "Accepted":
        word = "not known to the CSMS" if info["status"] == "Unknown" else info["status"]
        return f"token {request.id_token} ({request.token_type}) is {word}"
    if request.evse_id is not None:
        station = await stations.get_station(pool, request.station_id)
        evses = {c.evse_id for c in station.connectors} if station else set()
        if evses and request.evse_id not in evses:
            listed = ", ".join(str(e) for e in sorted(evses))
            return f"station {request.station_id} has no EVSE {request.evse_id} (it has {listed})"
    return None


async def create_reservation(ops: Operations, pool: asyncpg.Pool, request: ReservationRequest,
                             *, timeout: float = DEFAULT_TIMEOUT) -> ReservationResult:
    """Reserve for ``request`` (ReserveNow, H01) and return the station's answer.

    Refused before sending: a past expiry, a token the CSMS would not authorize, an EVSE the
    station never reported, a request the station's OCPP version cannot carry. Otherwise the
    reservation is stored (Requested), sent, and ends with the station's answer; one the
    station never received ends Failed, one it did not answer in time stays Requested (a late
    answer is still recorded).
    """
    known, _ = await ops.station_version(request.station_id)
    if not known:
        return ReservationResult(refused(Status.UNKNOWN_STATION,
                                         f"no station {request.station_id} is registered"))
    problem = await _refusal(pool, request)
    if problem is not None:
        return ReservationResult(refused(Status.INVALID, problem))
    reservation_id = await reservations.next_id(pool)
    payload = reserve_now_request(reservation_id, request)
    checked = await ops.check(request.station_id, "ReserveNow", payload)
    if isinstance(checked, Outcome):
        return ReservationResult(checked)
    await reservations.create(
        pool, reservation_id, request.station_id, id_token=request.id_token,
        id_token_type=request.token_type, expires_at=parse_time(payload["expiryDateTime"]),
        evse_id=request.evse_id, connector_type=request.connector_type,
        group_id_token=request.group_id_token,
        group_token_type=request.group_token_type if request.group_id_token else None)
    outcome = await ops.call(request.station_id, "ReserveNow", payload, timeout=timeout,
                             checked=True)
    if outcome.status in _NOT_DELIVERED:
        await reservations.record_failure(pool, request.station_id, reservation_id,
                                          outcome.describe())
    return ReservationResult(outcome, await reservations.get(pool, reservation_id))


async def cancel_reservation(ops: Operations, pool: asyncpg.Pool, reservation: Reservation,
                             *, timeout: float = DEFAULT_TIMEOUT) -> ReservationResult:
    """Ask the station to cancel ``reservation`` (CancelReservation, H02).

    Accepted ends it Cancelled; Rejected (the station holds no such reservation) ends it
    Removed. A reservation that is no longer live is refused without sending anything.
    """
    if not reservation.live:
        return ReservationResult(refused(
            Status.INVALID, f"reservation {reservation.id} is {reservation.status}, not active"),
            reservation)
    outcome = await ops.call(reservation.station_id, "CancelReservation",
                             {"reservationId": reservation.id}, timeout=timeout)
    return ReservationResult(outcome, await reservations.get(pool, reservation.id))
