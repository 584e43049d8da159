"""Calls to stations on the dispatcher's behalf, through the commands table to whichever node
holds each station's socket.

Profiles go through the smart-charging block (:mod:`csms.blocks.smartcharging`): it builds them
in the station's dialect, checks the K01 rules and device-model limits, and keeps the CSMS's
record of installed profiles. The meter-value rate (GetVariables / SetVariables) is sent here.
All of them wait for their outcome through one LISTEN connection (a shared
:class:`~csms.store.commands.CommandWaiter`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import structlog

from csms.blocks.smartcharging import (
    DISPATCH_STACK_LEVEL,
    ProfileResult,
    charge,
    clear_profiles,
    discharge,
    send_profile,
)
from csms.store.commands import CommandResult, CommandWaiter, submit_command

log = structlog.get_logger("csms.grid.calls")

#: Dispatch profiles: one TxProfile per EVSE, replaced in place at each change (K01.FR.05), at
#: the smart-charging block's dispatch stack level (above the need profile it installs on
#: NotifyEVChargingNeeds, which applies again once the dispatch profile is cleared).
DISPATCH_PROFILE_BASE = 900_000
__all__ = ["DISPATCH_STACK_LEVEL", "CallSender", "dispatch_profile_id"]


def dispatch_profile_id(evse_id: int) -> int:
    """The id of the dispatcher's TxProfile on an EVSE."""
    return DISPATCH_PROFILE_BASE + evse_id


class CallSender:
    """Sends calls and waits for their outcome over one shared LISTEN connection
    (:class:`~csms.store.commands.CommandWaiter`); a call not claimed within
    ``offline_grace`` seconds fails as "offline"."""

    def __init__(self, pool: asyncpg.Pool, database_url: str, *, offline_grace: float = 3.0):
        self.pool = pool
        self.database_url = database_url
        self.offline_grace = offline_grace
        self.waiter = CommandWaiter(pool, database_url)

    async def start(self) -> None:
        """Open the LISTEN connection."""
        await self.waiter.start()

    async def stop(self) -> None:
        """Close it."""
        await self.waiter.stop()

    async def call(self, station_id: str, action: str, payload: dict[str, Any],
                   timeout: float = 30.0) -> CommandResult:
        """Send ``action`` to a station and return the outcome (answered, error, offline,
        timeout)."""
        command_id = await submit_command(self.pool, station_id, action, payload)
        return await self.waiter.wait(command_id, timeout, offline_grace=self.offline_grace)

    async def set_power(self, station_id: str, evse_id: int, export_kw: float,
                        start: datetime, end: datetime | None,
                        timeout: float = 30.0) -> tuple[bool, str]:
        """Install the dispatch TxProfile for the running transaction: discharge ``export_kw``
        (> 0), or charge at most ``-export_kw`` (0 holds the EV), from ``start`` to ``end``.

        Returns (accepted, why not); why not starts with the lower-cased status (offline,
        timeout, rejected, invalid, callerror).
        """
        build = discharge if export_kw > 0 else charge
        result = await build(self.pool, self.waiter, station_id, evse_id,
                             abs(export_kw) * 1000.0, start, end,
                             profile_id=dispatch_profile_id(evse_id),
                             stack_level=DISPATCH_STACK_LEVEL, timeout=timeout)
        return _outcome(result)

    async def send_dispatch_profile(self, station_id: str, evse_id: int, profile: dict[str, Any],
                                    timeout: float = 30.0) -> tuple[bool, str]:
        """Install a ready-made profile (e.g. departure charging) in the dispatch profile's
        place."""
        return _outcome(await send_profile(self.pool, self.waiter, station_id, evse_id,
                                           profile, timeout=timeout))

    async def clear_dispatch(self, station_id: str, evse_id: int,
                             timeout: float = 30.0) -> tuple[bool, str]:
        """Remove the dispatch TxProfile (K10 ClearChargingProfile by id); Unknown means it is
        gone already (the transaction ended, or it was never taken)."""
        result = await clear_profiles(self.pool, self.waiter, station_id,
                                      profile_id=dispatch_profile_id(evse_id), timeout=timeout)
        if result.status == "Unknown":
            return True, ""
        return _outcome(result)

    async def set_meter_interval(self, station_id: str, seconds: int,
                                 timeout: float = 30.0) -> tuple[bool, str, str | None]:
        """Set SampledDataCtrlr.TxUpdatedInterval; returns (accepted, why not, old value)."""
        component = {"name": "SampledDataCtrlr"}
        variable = {"name": "TxUpdatedInterval"}
        old = None
        got = await self.call(station_id, "GetVariables", {"getVariableData": [
            {"component": component, "variable": variable}]}, timeout)
        if got.status == "answered" and got.response:
            item = got.response["getVariableResult"][0]
            if item.get("attributeStatus") == "Accepted":
                old = item.get("attributeValue")
        result = await self.call(station_id, "SetVariables", {"setVariableData": [
            {"component": component, "variable": variable, "attributeValue": str(seconds)}]},
            timeout)
        if result.status != "answered" or not result.response:
            return False, result.error_description or result.status, old
        status = result.response["setVariableResult"][0]["attributeStatus"]
        return status == "Accepted", status, old


def _outcome(result: ProfileResult) -> tuple[bool, str]:
    if result.accepted:
        return True, ""
    return False, f"{result.status.lower()}: {result.reason or ''}".strip()
