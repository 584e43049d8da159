"""CSMS -> station: SetChargingProfile (any profile, or charge / discharge on an EVSE) and
ClearChargingProfile, checked before sending and recorded once the station accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.blocks.smartcharging.station import (
    ProfileResult,
    check_online,
    check_schema,
    load_station,
    outcome,
    refused,
)
from csms.ocppj import version_of
from csms.smartcharging import (
    ChargingProfile,
    ProfileFormatError,
    ProfileRuleError,
    charge_profile,
    discharge_profile,
    set_charging_profile,
)
from csms.store import charging, commands

#: Stack level of dispatch (charge / discharge) TxProfiles: above the need profile, so that
#: when a dispatch window ends the need profile applies again.
DISPATCH_STACK_LEVEL = 1


async def send_profile(
    pool: Any, waiting: commands.Waiting, station_id: str, evse_id: int, profile: dict[str, Any], *,
    timeout: float = 30.0,
) -> ProfileResult:
    """Send SetChargingProfile with ``profile`` (a ChargingProfileType dict in the station's
    version) to ``evse_id`` and wait for the answer.

    The profile is refused (status Invalid, nothing sent) when it does not fit the version's
    schema, breaks a K01 rule, exceeds the station's SmartChargingCtrlr limits, or conflicts
    with a profile the CSMS believes installed. It is recorded as installed only when the
    station answers Accepted (a late answer after ``timeout`` is recorded when it arrives).
    """
    station = await load_station(pool, station_id, evse_id)
    if isinstance(station, ProfileResult):
        return station
    pid = profile.get("id") if isinstance(profile.get("id"), int) else None
    try:
        parsed = ChargingProfile.from_wire(profile, station.version)
    except ProfileFormatError as exc:
        return refused("Invalid", f"OCPP {station.version} schema: {exc}", pid)
    problem = station.refusal(evse_id, parsed)
    if problem is not None:
        return refused("Invalid", problem, parsed.id)
    payload = set_charging_profile(evse_id, parsed.to_wire(station.version))
    problem = check_schema(station.version, "SetChargingProfile", payload)
    if problem is not None:
        return refused("Invalid", problem, parsed.id)
    offline = await check_online(pool, station_id)
    if offline is not None:
        return ProfileResult(False, offline.status, offline.reason, parsed.id)
    command_id = await commands.submit_command(pool, station_id, "SetChargingProfile", payload)
    await charging.record_pending_profile(pool, command_id, station_id, evse_id,
                                          station.version, payload["chargingProfile"])
    result = await commands.wait_for(waiting, command_id, timeout)
    await charging.settle_pending_profiles(pool, station_id)
    return outcome(result, parsed.id, payload, command_id)


async def _power(
    pool: Any, waiting: commands.Waiting, station_id: str, evse_id: int, power_w: float,
    start: datetime, end: datetime | None, *, discharging: bool, profile_id: int | None,
    stack_level: int, purpose: str, timeout: float,
) -> ProfileResult:
    station = await load_station(pool, station_id, evse_id)
    if isinstance(station, ProfileResult):
        return station
    tx: str | None = None
    if purpose == "TxProfile":
        if evse_id <= 0:
            # K01.FR.16: a TxProfile is only set on an EVSE (evseId > 0).
            return refused("Invalid", f"K01.FR.16: evseId: a TxProfile needs an EVSE > 0, got "
                                       f"{evse_id}", profile_id)
        tx = station.transaction
        if tx is None:
            # K01.FR.09: a TxProfile needs a transaction running on the EVSE.
            return refused("Invalid", f"K01.FR.09: transactionId: no transaction is running "
                                       f"on EVSE {evse_id}", profile_id)
    dialect = station.version
    if discharging and dialect == "2.1":
        if (station.v2x.get("Enabled") or "").lower() == "false":
            return refused("Invalid", f"V2XChargingCtrlr.Enabled: V2X is disabled on EVSE "
                                       f"{evse_id}", profile_id)
        modes = station.v2x.get("SupportedOperationModes")
        if modes and "CentralSetpoint" not in modes.split(","):
            dialect = "2.0.1"  # the backwards-compatible negative limit, valid in 2.1 too
    if profile_id is None:
        reuse = None if tx is None else station.reusable_id(evse_id, tx, stack_level)
        profile_id = reuse or await charging.next_profile_id(pool)
    build = discharge_profile if discharging else charge_profile
    try:
        wire = build(dialect, evse_id=evse_id, transaction_id=tx, power_w=power_w, start=start,
                     end=end, profile_id=profile_id, stack_level=stack_level, purpose=purpose,
                     limits=station.limits)
    except (ProfileRuleError, ValueError) as exc:
        return refused("Invalid", str(exc), profile_id)
    return await send_profile(pool, waiting, station_id, evse_id, wire, timeout=timeout)


async def discharge(
    pool: Any, waiting: commands.Waiting, station_id: str, evse_id: int, power_w: float,
    start: datetime, end: datetime | None, *, profile_id: int | None = None,
    stack_level: int = DISPATCH_STACK_LEVEL, purpose: str = "TxProfile", timeout: float = 30.0,
) -> ProfileResult:
    """Discharge ``power_w`` watts (> 0) on ``evse_id`` from ``start`` to ``end`` (None: until
    the transaction ends), as a TxProfile for the transaction running there.

    The dialect follows the station: 2.0.1 a negative limit in W; 2.1 operationMode
    CentralSetpoint with a negative setpoint and dischargeLimit (the negative limit when its
    V2XChargingCtrlr.SupportedOperationModes lacks CentralSetpoint). Without ``profile_id``
    the dispatch TxProfile of that stack level is replaced, or a new id is taken. Refused
    (Invalid, nothing sent) as :func:`send_profile`, and when no transaction runs on the EVSE.
    Another ``purpose`` (e.g. TxDefaultProfile) builds the same schedule without a
    transaction.
    """
    return await _power(pool, waiting, station_id, evse_id, power_w, start, end,
                        discharging=True, profile_id=profile_id, stack_level=stack_level,
                        purpose=purpose, timeout=timeout)


async def charge(
    pool: Any, waiting: commands.Waiting, station_id: str, evse_id: int, power_w: float,
    start: datetime, end: datetime | None, *, profile_id: int | None = None,
    stack_level: int = DISPATCH_STACK_LEVEL, purpose: str = "TxProfile", timeout: float = 30.0,
) -> ProfileResult:
    """Limit charging on ``evse_id`` to ``power_w`` watts (>= 0; 0 pauses) from ``start`` to
    ``end``; otherwise exactly as :func:`discharge`."""
    return await _power(pool, waiting, station_id, evse_id, power_w, start, end,
                        discharging=False, profile_id=profile_id, stack_level=stack_level,
                        purpose=purpose, timeout=timeout)



async def clear_profiles(
    pool: Any, waiting: commands.Waiting, station_id: str, *, profile_id: int | None = None,
    evse_id: int | None = None, purpose: str | None = None, stack_level: int | None = None,
    timeout: float = 30.0,
) -> ProfileResult:
    """Send ClearChargingProfile: the profile ``profile_id``, or every profile matching the
    given criteria (none: all the CSMS may clear), and wait for the answer (K10).

    Once the station answers Accepted or Unknown (nothing matched), the matching profiles are
    no longer recorded as installed: either way none is on the station any more. External
    constraints cannot be cleared by the CSMS; asking to is refused (Invalid).
    """
    known, subprotocol = await charging.station_subprotocol(pool, station_id)
    if not known:
        return refused("UnknownStation", f"no station {station_id} is registered")
    version = version_of(subprotocol)
    if purpose == "ChargingStationExternalConstraints":
        return refused("Invalid", "chargingProfilePurpose: ChargingStationExternalConstraints "
                                  "are set by an external actor and cannot be cleared by the "
                                  "CSMS", profile_id)
    payload: dict[str, Any] = {}
    if profile_id is not None:
        payload["chargingProfileId"] = profile_id
    criteria = {key: value for key, value in (("evseId", evse_id),
                                              ("chargingProfilePurpose", purpose),
                                              ("stackLevel", stack_level)) if value is not None}
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    problem = check_schema(version, "ClearChargingProfile", payload)
    if problem is not None:
        return refused("Invalid", problem, profile_id)
    offline = await check_online(pool, station_id)
    if offline is not None:
        return offline
    command_id = await commands.submit_command(pool, station_id, "ClearChargingProfile", payload)
    result = await commands.wait_for(waiting, command_id, timeout)
    done = outcome(result, profile_id, payload, command_id)
    if done.status in ("Accepted", "Unknown"):
        await charging.settle_pending_profiles(pool, station_id)
        await charging.remove_installed(pool, station_id, profile_id=profile_id,
                                        evse_id=evse_id, purpose=purpose,
                                        stack_level=stack_level)
    return done
