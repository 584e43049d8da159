"""Basic auth password rotation (A01): a new password's hash waits beside the current one.

While a new password is on its way to a station, the station may log in with either: it may
reconnect with the new one the moment it has answered Accepted, before the operator's side has
recorded that answer. Whoever learns first that the station has the new password (its Accepted
answer, or a login with it) makes the new hash the current one; a refusal clears it.

The plain password travels to the station in a command row; :func:`redact_command_secrets`
masks it there as soon as it is no longer needed.
"""

from __future__ import annotations

import json
from typing import Any

from csms.ocppj.actions import MASK, SECRET_VARIABLES
from csms.store.base import StationNotFound
from csms.store.db import Db


async def begin_password_change(db: Db, station_id: str, password_hash: str) -> None:
    """Record ``password_hash`` as the station's pending password (replacing an older one).

    Raises StationNotFound for an unknown station.
    """
    status = await db.execute(
        "UPDATE stations SET pending_password_hash = $2 WHERE id = $1", station_id, password_hash
    )
    if status == "UPDATE 0":
        raise StationNotFound(station_id)


async def password_hashes(db: Db, station_id: str) -> tuple[str | None, str | None]:
    """``(current hash, pending hash)`` of a station, read together; (None, None) if unknown.

    The pending hash is None when no rotation is under way.
    """
    row = await db.fetchrow(
        "SELECT password_hash, pending_password_hash FROM stations WHERE id = $1", station_id
    )
    return (row[0], row[1]) if row is not None else (None, None)


async def accept_password_change(db: Db, station_id: str, password_hash: str) -> bool:
    """Make the pending ``password_hash`` the station's password; the old one stops working.

    False (nothing changes) when that hash is no longer pending: another rotation replaced it,
    or the change was completed already.
    """
    status = await db.execute(
        "UPDATE stations SET password_hash = pending_password_hash, pending_password_hash = NULL"
        " WHERE id = $1 AND pending_password_hash = $2",
        station_id, password_hash,
    )
    return status != "UPDATE 0"


async def cancel_password_change(db: Db, station_id: str, password_hash: str) -> bool:
    """Forget the pending ``password_hash`` (the station refused it); the old one stays.

    False when that hash is no longer pending.
    """
    status = await db.execute(
        "UPDATE stations SET pending_password_hash = NULL"
        " WHERE id = $1 AND pending_password_hash = $2",
        station_id, password_hash,
    )
    return status != "UPDATE 0"




def _mask(payload: dict[str, Any]) -> bool:
    masked = False
    for item in payload.get("setVariableData") or []:
        variable = item.get("variable") if isinstance(item, dict) else None
        if isinstance(variable, dict) and variable.get("name") in SECRET_VARIABLES:
            item["attributeValue"] = MASK
            masked = True
    return masked


async def redact_command_secrets(db: Db, command_id: int) -> bool:
    """Mask secret values (a new BasicAuthPassword) in a stored command's payload.

    Returns True when something was masked. The node calls this once it holds the payload in
    memory, and the command line when it stops waiting, so no password stays in the table.
    """
    text = await db.fetchval("SELECT payload::text FROM commands WHERE id = $1", command_id)
    if text is None:
        return False
    payload = json.loads(text)
    if not isinstance(payload, dict) or not _mask(payload):
        return False
    await db.execute(
        "UPDATE commands SET payload = $2::text::jsonb WHERE id = $1", command_id,
        json.dumps(payload),
    )
    return True
