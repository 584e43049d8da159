"""Reservations the CSMS made (H01-H04) and how each one ended.

A reservation is ``Requested`` when its ReserveNow is sent, then takes the station's answer
(``Accepted``, ``Rejected``, ``Faulted``, ``Occupied``, ``Unavailable``) or ``Failed`` when the
request never reached the station. An accepted one ends ``Cancelled`` (CancelReservation
accepted), ``Expired`` / ``Removed`` / ``NoTransaction`` (ReservationStatusUpdate, or the expiry
time passing), or ``Used`` (a TransactionEvent carried its id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db

#: The reservation may still be held by the station.
LIVE = ("Requested", "Accepted")
#: ReserveNowResponse statuses.
ANSWERS = ("Accepted", "Rejected", "Faulted", "Occupied", "Unavailable")
#: ReservationStatusUpdate statuses (NoTransaction: OCPP 2.1).
STATION_UPDATES = ("Expired", "Removed", "NoTransaction")
#: Every status a reservation can have.
STATUSES = ("Requested", *ANSWERS, "Failed", *STATION_UPDATES, "Cancelled", "Used")


@dataclass
class Reservation:
    """One reservation, as stored."""

    id: int
    station_id: str
    evse_id: int | None
    connector_type: str | None
    id_token: str
    id_token_type: str
    group_id_token: str | None
    group_token_type: str | None
    expires_at: datetime
    status: str
    reason: str | None
    transaction_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def live(self) -> bool:
        """Whether the station may still hold it (asked or accepted, not yet over)."""
        return self.status in LIVE


_COLUMNS = """id, station_id, evse_id, connector_type, id_token, id_token_type, group_id_token,
    group_token_type, expires_at, status, reason, transaction_id, created_at, updated_at"""


async def next_id(db: Db) -> int:
    """A new reservation id, never handed out before."""
    return int(await db.fetchval("SELECT nextval('reservation_ids')"))


async def create(
    db: Db, reservation_id: int, station_id: str, *, id_token: str, id_token_type: str,
    expires_at: datetime, evse_id: int | None = None, connector_type: str | None = None,
    group_id_token: str | None = None, group_token_type: str | None = None,
) -> Reservation:
    """Store a reservation about to be sent (status Requested)."""
    row = await db.fetchrow(
        f"""
        INSERT INTO reservations (id, station_id, evse_id, connector_type, id_token,
                                  id_token_type, group_id_token, group_token_type, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_COLUMNS}
        """,
        reservation_id, station_id, evse_id, connector_type, id_token, id_token_type,
        group_id_token, group_token_type, expires_at)
    return Reservation(**dict(row))


async def settle_expired(db: Db) -> int:
    """Mark the live reservations whose expiry time has passed as Expired; returns how many."""
    status = await db.execute(
        "UPDATE reservations SET status = 'Expired', reason = 'the expiry time passed',"
        " updated_at = now() WHERE status IN ('Requested', 'Accepted') AND expires_at <= now()")
    return int(status.split()[-1])


async def get(db: Db, reservation_id: int) -> Reservation | None:
    """The reservation with that id (expiry settled), or None."""
    await settle_expired(db)
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM reservations WHERE id = $1",
                            reservation_id)
    return Reservation(**dict(row)) if row else None


async def list_reservations(db: Db, *, station_id: str | None = None,
                            active: bool = False) -> list[Reservation]:
    """Reservations, newest first (expiry settled); ``active``: only the live ones."""
    await settle_expired(db)
    rows = await db.fetch(
        f"""
        SELECT {_COLUMNS} FROM reservations
         WHERE ($1::text IS NULL OR station_id = $1)
           AND (NOT $2 OR status IN ('Requested', 'Accepted'))
         ORDER BY id DESC
        """,
        station_id, active)
    return [Reservation(**dict(r)) for r in rows]


async def _update(db: Db, station_id: str, reservation_id: int, status: str,
                  reason: str | None, only_from: tuple[str, ...],
                  transaction_id: str | None = None) -> bool:
    done = await db.execute(
        """
        UPDATE reservations
           SET status = $3, reason = $4, updated_at = now(),
               transaction_id = coalesce($6, transaction_id)
         WHERE id = $2 AND station_id = $1 AND status = ANY($5::text[])
        """,
        station_id, reservation_id, status, reason, list(only_from), transaction_id)
    return done != "UPDATE 0"


async def record_answer(db: Db, station_id: str, reservation_id: int, status: str,
                        reason: str | None = None) -> bool:
    """The station's ReserveNowResponse; False when no requested reservation has that id."""
    if status not in ANSWERS:
        raise ValueError(f"not a ReserveNow status: {status}")
    return await _update(db, station_id, reservation_id, status, reason, ("Requested",))


async def record_failure(db: Db, station_id: str, reservation_id: int, reason: str) -> bool:
    """The ReserveNow never reached the station (offline, CALLERROR)."""
    return await _update(db, station_id, reservation_id, "Failed", reason, ("Requested",))


async def record_cancel(db: Db, station_id: str, reservation_id: int, accepted: bool,
                        reason: str | None = None) -> bool:
    """The station's CancelReservationResponse: Accepted ends the reservation Cancelled (even
    when the Removed the station sends on cancelling was recorded first); Rejected means the
    station holds no such reservation, so it is no longer live (Removed)."""
    if accepted:
        return await _update(db, station_id, reservation_id, "Cancelled", reason,
                             (*LIVE, "Expired", "Removed"))
    return await _update(db, station_id, reservation_id, "Removed",
                         reason or "the station holds no such reservation", LIVE)


async def record_station_update(db: Db, station_id: str, reservation_id: int,
                                status: str) -> bool:
    """A ReservationStatusUpdate (H04); a reservation already cancelled or used keeps that
    end. False when the station has no such live reservation here."""
    if status not in STATION_UPDATES:
        raise ValueError(f"not a ReservationStatusUpdate status: {status}")
    return await _update(db, station_id, reservation_id, status, "reported by the station",
                         (*LIVE, "Expired"))


async def record_use(db: Db, station_id: str, reservation_id: int,
                     transaction_id: str) -> bool:
    """A transaction started with the reservation (H03): it ends Used, whatever else was
    believed (a use the station reports outranks an expiry or cancel the CSMS assumed)."""
    return await _update(db, station_id, reservation_id, "Used", None,
                         tuple(s for s in STATUSES if s != "Used"), transaction_id)
