"""``/v1/stations/{id}/profiles``: charge or discharge limits (SetChargingProfile), the
profiles the CSMS believes installed, and clearing them.

Thin over :mod:`csms.operations.profiles` (checked against the K01 rules and the station's
limits before sending), through the process's one operations client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import ApiError, invalid, not_found, responses
from csms.api.stations import StationPath
from csms.operations import Status
from csms.operations import profiles as ops_profiles
from csms.smartcharging import InstalledProfiles
from csms.store import stations

router = APIRouter(prefix="/v1/stations/{station_id}/profiles", tags=["profiles"])

CALL_TIMEOUT_S = 30.0
CLEAR_PURPOSES = ("TxProfile", "TxDefaultProfile", "ChargingStationMaxProfile",
                  "PriorityCharging", "LocalGeneration")
#: outcomes that are not the station's answer: their HTTP status, code and old status word
_FAILURES = {Status.INVALID: (422, "invalid_request", "Invalid"),
             Status.UNKNOWN_STATION: (404, "not_found", "UnknownStation"),
             Status.OFFLINE: (409, "station_offline", "Offline"),
             Status.TIMEOUT: (504, "station_timeout", "Timeout"),
             Status.DISCONNECTED: (504, "station_disconnected", "Disconnected"),
             Status.CALLERROR: (502, "station_call_error", "CallError"),
             Status.EXPIRED: (409, "expired", "Expired"),
             Status.QUEUED: (409, "queued", "Queued")}


def _answer(result: ops_profiles.ProfileOutcome) -> m.ProfileResult:
    """The station's answer (Accepted, or Rejected / Unknown with its reason: 200 either
    way, like a call's), or the error of what stopped it."""
    command_id = result.command_ids[0] if result.command_ids else None
    if result.status in _FAILURES:
        status, code, word = _FAILURES[result.status]
        raise ApiError(status, code, result.reason or word,
                       {"command_id": command_id} if command_id else None)
    return m.ProfileResult(accepted=result.ok, status=result.station_status or "Accepted",
                           reason=result.reason, profile_id=result.profile_id,
                           command_id=command_id)


def _rows(profiles: InstalledProfiles) -> list[m.InstalledProfile]:
    rows = []
    for entry in profiles:
        p = entry.profile
        first = p.schedule.periods[0]
        rows.append(m.InstalledProfile(
            id=p.id, evse=entry.evse_id, purpose=p.purpose, stack_level=p.stack_level,
            kind=p.kind, source=entry.source, transaction_id=p.transaction_id,
            start=p.schedule.start_schedule, duration=p.schedule.duration,
            unit=p.schedule.charging_rate_unit, first_limit=first.limit,
            setpoint=first.setpoint))
    return rows


_ANSWERED = {200: {"model": m.ProfileResult, "description": "The station's answer: "
                   "accepted, or not (Rejected, Unknown) with its reason"}}


@router.post("", response_model=m.ProfileResult, dependencies=[needs(Scope.OPERATE)],
             responses={**responses(401, 403, 404, 409, 422, 502, 504), **_ANSWERED})
async def set_profile(ctx: Ctx, station_id: StationPath, body: m.ProfileRequest
                      ) -> m.ProfileResult:
    """Charge at most ``charge_kw`` or discharge ``discharge_kw`` on an EVSE from ``start``
    to ``until``, in the station's dialect (2.0.1 negative limits, 2.1 setpoints)."""
    if (body.charge_kw is None) == (body.discharge_kw is None):
        raise invalid("give exactly one of charge_kw and discharge_kw")
    start = body.start or datetime.now(UTC)
    if body.until is not None and body.until <= start:
        raise invalid("until: must be later than start")
    watts = (body.discharge_kw if body.discharge_kw is not None else body.charge_kw or 0.0)
    level = (ops_profiles.DISPATCH_STACK_LEVEL if body.stack_level is None
             else body.stack_level)
    result = await ops_profiles.set_power(
        ctx.ops, station_id, body.evse, watts * 1000.0, start, body.until,
        discharging=body.discharge_kw is not None, stack_level=level, purpose=body.purpose,
        timeout=CALL_TIMEOUT_S)
    return _answer(result)


@router.get("", response_model=m.Profiles, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def list_profiles(ctx: Ctx, station_id: StationPath) -> m.Profiles:
    """The profiles the CSMS believes installed (what the station answered Accepted to, and
    what it reported); nothing is sent to the station."""
    station = await stations.get_station(ctx.pool, station_id)
    if station is None:
        raise not_found(f"no station {station_id} is registered")
    version = (station.subprotocol or "ocpp2.1").removeprefix("ocpp")
    believed = await ops_profiles.believed_profiles(ctx.pool, station_id, version)
    return m.Profiles(station_id=station_id, believed=_rows(believed))


@router.delete("", response_model=m.ProfileResult, dependencies=[needs(Scope.OPERATE)],
               responses={**responses(401, 403, 404, 409, 422, 502, 504), **_ANSWERED})
async def clear(
    ctx: Ctx, station_id: StationPath,
    profile_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    evse: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    purpose: Annotated[str | None, Query(description=", ".join(CLEAR_PURPOSES))] = None,
    stack_level: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> m.ProfileResult:
    """Clear profiles (ClearChargingProfile): one by id, or all matching the criteria
    (Unknown: none matched)."""
    if purpose is not None and purpose not in CLEAR_PURPOSES:
        raise invalid(f"purpose: must be one of {', '.join(CLEAR_PURPOSES)}")
    result = await ops_profiles.clear_profiles(ctx.ops, station_id, profile_id=profile_id,
                                               evse_id=evse, purpose=purpose,
                                               stack_level=stack_level, timeout=CALL_TIMEOUT_S)
    return _answer(result)
