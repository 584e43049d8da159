"""Calls to stations on the dispatcher's behalf, through the operations client
(:mod:`csms.operations`) to whichever node holds each station's socket.

Profiles go through :mod:`csms.operations.profiles`: built in the station's dialect, checked
against the K01 rules and device-model limits, and recorded as installed once accepted. The
meter-value rate (GetVariables / SetVariables) is set here. Every call returns a typed
:class:`~csms.operations.Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.operations import Operations, Outcome, Status
from csms.operations.profiles import (
    DISPATCH_STACK_LEVEL,
    clear_profiles,
    load_view,
    send_profile,
    set_power,
)
from csms.smartcharging import ChargingProfile

#: Dispatch profiles: one TxProfile per EVSE, replaced in place at each change (K01.FR.05), at
#: the dispatch stack level (above the need profile installed on NotifyEVChargingNeeds, which
#: applies again once the dispatch profile is cleared).
DISPATCH_PROFILE_BASE = 900_000
#: Outcomes after which the station kept what it had: not installed, nothing refused.
NOT_DELIVERED = frozenset({Status.OFFLINE, Status.TIMEOUT, Status.DISCONNECTED, Status.QUEUED})
__all__ = ["DISPATCH_STACK_LEVEL", "NOT_DELIVERED", "Dispatch", "dispatch_profile_id"]


def dispatch_profile_id(evse_id: int) -> int:
    """The id of the dispatcher's TxProfile on an EVSE."""
    return DISPATCH_PROFILE_BASE + evse_id


@dataclass(frozen=True)
class MeterInterval:
    """The outcome of setting SampledDataCtrlr.TxUpdatedInterval, with the value it had."""

    outcome: Outcome
    old: str | None


class Dispatch:
    """The dispatcher's calls, over one :class:`~csms.operations.Operations` (one shared
    LISTEN connection for every call of the node)."""

    def __init__(self, ops: Operations):
        self.ops = ops

    async def set_power(self, station_id: str, evse_id: int, export_kw: float,
                        start: datetime, end: datetime | None, timeout: float = 30.0) -> Outcome:
        """Install the dispatch TxProfile for the running transaction: discharge ``export_kw``
        (> 0), or charge at most ``-export_kw`` (0 holds the EV), from ``start`` to ``end``."""
        return await set_power(self.ops, station_id, evse_id, abs(export_kw) * 1000.0, start,
                               end, discharging=export_kw > 0,
                               profile_id=dispatch_profile_id(evse_id),
                               stack_level=DISPATCH_STACK_LEVEL, timeout=timeout)

    async def send_dispatch_profile(self, station_id: str, evse_id: int,
                                    profile: ChargingProfile, timeout: float = 30.0) -> Outcome:
        """Install a ready-made profile (e.g. departure charging) in the dispatch profile's
        place."""
        view = await load_view(self.ops, station_id, evse_id)
        if isinstance(view, Outcome):
            return view
        return await send_profile(self.ops, view, evse_id, profile, timeout=timeout)

    async def clear_dispatch(self, station_id: str, evse_id: int,
                             timeout: float = 30.0) -> Outcome:
        """Remove the dispatch TxProfile (K10 ClearChargingProfile by id); Unknown counts as
        done (the transaction ended, or it was never taken)."""
        return await clear_profiles(self.ops, station_id,
                                    profile_id=dispatch_profile_id(evse_id), timeout=timeout)

    async def set_meter_interval(self, station_id: str, seconds: int,
                                 timeout: float = 30.0) -> MeterInterval:
        """Set SampledDataCtrlr.TxUpdatedInterval, reading its value first."""
        component = {"name": "SampledDataCtrlr"}
        variable = {"name": "TxUpdatedInterval"}
        old = None
        got = await self.ops.call(station_id, "GetVariables", {"getVariableData": [
            {"component": component, "variable": variable}]}, timeout=timeout)
        if got.ok and got.response:
            item = got.response["getVariableResult"][0]
            if item.get("attributeStatus") == "Accepted":
                old = item.get("attributeValue")
        result = await self.ops.call(station_id, "SetVariables", {"setVariableData": [
            {"component": component, "variable": variable, "attributeValue": str(seconds)}]},
            timeout=timeout)
        if result.ok and result.response:
            status = result.response["setVariableResult"][0]["attributeStatus"]
            if status != "Accepted":
                result = Outcome(Status.REJECTED, result.response, status, result.request,
                                 result.command_ids, station_status=status)
        return MeterInterval(result, old)
