"""Boot status per station (B02): what the operator wants a station answered at its next
BootNotification, and the default for stations that have not booted yet.

The status itself is applied when the station boots (:func:`csms.store.stations.record_boot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.store.base import StationNotFound
from csms.store.commands import node_alive
from csms.store.db import Db

REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")


@dataclass(frozen=True)
class BootState:
    """A station's boot status as set and as last answered.

    ``registration_status`` is what its next BootNotification gets (None: the server's
    ``--boot-policy``); ``boot_status`` what its last one got (None: it never booted).
    """

    station_id: str
    registration_status: str | None
    boot_status: str | None
    last_boot_at: datetime | None
    connected: bool


def _check(status: str) -> None:
    if status not in REGISTRATION_STATUSES:
        raise ValueError(f"{status} is not one of {', '.join(REGISTRATION_STATUSES)}")


async def set_registration_status(db: Db, station_id: str, status: str) -> BootState:
    """Set what the station is answered from its next BootNotification on; returns its state
    (``boot_status`` is still its last answer). Raises StationNotFound for an unknown
    station."""
    _check(status)
    row = await db.fetchrow(
        f"""
        UPDATE stations SET registration_status = $2 WHERE id = $1
        RETURNING id AS station_id, registration_status, boot_status, last_boot_at,
                  coalesce(node_id IN (SELECT n.node_id FROM nodes n WHERE {node_alive()}),
                           false) AS connected
        """,
        station_id, status)
    if row is None:
        raise StationNotFound(station_id)
    return BootState(**dict(row))


async def set_default_status(db: Db, status: str) -> None:
    """Set the boot status new stations get at their first BootNotification."""
    _check(status)
    await db.execute(
        "INSERT INTO boot_defaults (registration_status) VALUES ($1) ON CONFLICT (singleton)"
        " DO UPDATE SET registration_status = EXCLUDED.registration_status,"
        " updated_at = now()", status)
