"""CSMS -> station, security (A01): giving a connected station a new Basic auth password while
keeping the stored one in step with what the station answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from csms.operations.client import Operations
from csms.operations.outcome import Outcome, Status
from csms.store import rotation
from csms.store.passwords import hash_password


class PasswordOutcome(StrEnum):
    """How a password change through the station ended.

    ACCEPTED: the new password is the only one now. REBOOT_REQUIRED (the station takes it at
    its next reboot), TIMEOUT (no answer) or DISCONNECTED (the station dropped its connection
    before answering, perhaps having taken the password): both passwords are accepted until the
    station logs in with the new one. REFUSED, ERROR (a CALLERROR) or UNREACHABLE (never
    delivered): the old password stays the only one.
    """

    ACCEPTED = "accepted"
    REBOOT_REQUIRED = "reboot_required"
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    REFUSED = "refused"
    ERROR = "error"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class PasswordChange:
    """The outcome, and what the station answered, for the operator (``detail``)."""

    outcome: PasswordOutcome
    detail: str = ""


async def change_station_password(
    ops: Operations, station_id: str, password: str, *, log2_n: int, timeout: float
) -> PasswordChange:
    """Give a connected station a new Basic auth password (A01) and keep the stored one in
    step with what the station answers.

    The new hash waits beside the current one while SetVariables
    SecurityCtrlr.BasicAuthPassword is on its way, so the station may log in with either; the
    plain password is masked in the command row as soon as the call is over. Raises
    StationNotFound for an unknown station.
    """
    hashed = await asyncio.get_running_loop().run_in_executor(
        None, lambda: hash_password(password, log2_n=log2_n))
    await rotation.begin_password_change(ops.pool, station_id, hashed)
    payload = {"setVariableData": [{
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
        "attributeValue": password}]}
    ids = await ops.submit(station_id, "SetVariables", payload)
    if isinstance(ids, Outcome):
        outcome = ids
    else:
        try:
            outcome = await ops.wait("SetVariables", payload, ids, timeout=timeout)
        finally:
            for command_id in ids:
                await rotation.redact_command_secrets(ops.pool, command_id)
    return await _conclude(ops, station_id, hashed, outcome)


async def _conclude(ops: Operations, station_id: str, hashed: str,
                    outcome: Outcome) -> PasswordChange:
    status = None
    if outcome.answered:
        results = (outcome.response or {}).get("setVariableResult") or [{}]
        status = results[0].get("attributeStatus")
    if status == "Accepted":
        # TC_A_09: the station took the new password; the old one stops working now.
        await rotation.accept_password_change(ops.pool, station_id, hashed)
        return PasswordChange(PasswordOutcome.ACCEPTED)
    if status == "RebootRequired":
        return PasswordChange(PasswordOutcome.REBOOT_REQUIRED)
    if outcome.status is Status.TIMEOUT:
        return PasswordChange(PasswordOutcome.TIMEOUT)
    if outcome.status is Status.DISCONNECTED:
        return PasswordChange(PasswordOutcome.DISCONNECTED)
    # TC_A_10: refused, or never delivered: the old password stays the only one.
    await rotation.cancel_password_change(ops.pool, station_id, hashed)
    if status is not None:
        return PasswordChange(PasswordOutcome.REFUSED, f"answered {status}")
    if outcome.status is Status.CALLERROR:
        return PasswordChange(PasswordOutcome.ERROR, f"answered {outcome.error_code}: "
                              f"{outcome.reason or ''}".rstrip(": "))
    return PasswordChange(PasswordOutcome.UNREACHABLE,
                          f"could not be reached ({outcome.status.value})")
