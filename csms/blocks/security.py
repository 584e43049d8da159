"""Functional block A, security: SecurityEventNotification and the change of a station's
Basic auth password through the station itself (A01). Certificates (A02/A03 and block M) live
in :mod:`csms.blocks.certificates`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from csms.blocks.context import StationContext
from csms.blocks.wire import time_field
from csms.store import reports, rotation
from csms.store.commands import CommandResult, submit_command, wait_for_command
from csms.store.db import Db
from csms.store.passwords import hash_password


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


@dataclass(frozen=True)
class PasswordChange:
    """How a password change through the station ended.

    ``outcome``: ``accepted`` (the new password is the only one now); ``reboot_required``
    (the station takes it at its next reboot), ``timeout`` (no answer) or ``disconnected``
    (the station dropped its connection before answering, perhaps having taken the password):
    in these, both passwords are accepted until the station logs in with the new one;
    ``refused``, ``error`` (a CALLERROR) or ``unreachable`` (never delivered): the old
    password stays the only one.
    ``detail`` says what the station answered, for the operator.
    """

    outcome: Literal["accepted", "reboot_required", "timeout", "disconnected", "refused",
                     "error", "unreachable"]
    detail: str = ""


async def change_station_password(
    db: Db, database_url: str, station_id: str, password: str, *, log2_n: int, timeout: float
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
    await rotation.begin_password_change(db, station_id, hashed)
    command_id = await submit_command(db, station_id, "SetVariables", {"setVariableData": [{
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
        "attributeValue": password}]})
    try:
        result = await wait_for_command(database_url, command_id, timeout)
    finally:
        await rotation.redact_command_secrets(db, command_id)
    return await _conclude_password_change(db, station_id, hashed, result)


async def _conclude_password_change(
    db: Db, station_id: str, hashed: str, result: CommandResult
) -> PasswordChange:
    status = None
    if result.status == "answered":
        results = (result.response or {}).get("setVariableResult") or [{}]
        status = results[0].get("attributeStatus")
    if status == "Accepted":
        # TC_A_09: the station took the new password; the old one stops working now.
        await rotation.accept_password_change(db, station_id, hashed)
        return PasswordChange("accepted")
    if status == "RebootRequired":
        return PasswordChange("reboot_required")
    if result.status == "timeout":
        return PasswordChange("timeout")
    if result.status == "disconnected":
        return PasswordChange("disconnected")
    # TC_A_10: refused, or never delivered: the old password stays the only one.
    await rotation.cancel_password_change(db, station_id, hashed)
    if status is not None:
        return PasswordChange("refused", f"answered {status}")
    if result.status == "error":
        return PasswordChange("error", f"answered {result.error_code}: "
                              f"{result.error_description or ''}".rstrip(": "))
    return PasswordChange("unreachable", f"could not be reached ({result.status})")
