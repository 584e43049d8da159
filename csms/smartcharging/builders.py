"""Builders for the profiles the CSMS sends: charge, discharge, and departure-aware charging.

Each returns the ``chargingProfile`` dict of a SetChargingProfileRequest for the dialect of the
station ("2.0.1" or "2.1"), checked against the K01 rules first (a broken rule raises
:class:`~csms.smartcharging.rules.ProfileRuleError`). Wrap it with :func:`set_charging_profile`
for the whole request payload.

Discharge encodings:

- 2.0.1 has no discharge field; the industry convention is a negative ``limit`` in W on a
  TxProfile for the running transaction (an Absolute schedule starting at ``start``);
- 2.1 uses ``operationMode`` CentralSetpoint with a negative ``setpoint`` and a
  ``dischargeLimit`` of the same magnitude, so the station may not overshoot.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from csms.smartcharging.fields import check_version, require_aware
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from csms.smartcharging.rules import ProfileRuleError, check_profile


def _window(start: datetime, end: datetime | None) -> tuple[datetime, int | None]:
    # Schedules start on a whole second, as their periods do: a composite schedule (whole
    # seconds too) then shows the profile from its first second.
    start = require_aware(start, "start").replace(microsecond=0)
    if end is None:
        return start, None
    end = require_aware(end, "end")
    seconds = math.ceil((end - start).total_seconds())
    if seconds <= 0:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    return start, seconds


def _finish(
    profile: ChargingProfile, version: str, evse_id: int, limits: StationLimits | None
) -> dict[str, Any]:
    violations = check_profile(profile, version=version, evse_id=evse_id, limits=limits)
    if violations:
        raise ProfileRuleError(violations)
    return profile.to_wire(version)


def _profile(
    *,
    profile_id: int,
    stack_level: int,
    purpose: str,
    transaction_id: str | None,
    start: datetime,
    duration: int | None,
    period: ChargingSchedulePeriod,
) -> ChargingProfile:
    schedule = ChargingSchedule(id=profile_id, charging_rate_unit="W", periods=(period,),
                                start_schedule=start, duration=duration)
    return ChargingProfile(id=profile_id, stack_level=stack_level, purpose=purpose,
                           kind="Absolute", schedules=(schedule,),
                           transaction_id=transaction_id)


def discharge_model(
    version: str,
    *,
    transaction_id: str | None,
    power_w: float,
    start: datetime,
    end: datetime | None,
    profile_id: int,
    stack_level: int = 0,
    purpose: str = "TxProfile",
) -> ChargingProfile:
    """A profile that discharges ``power_w`` watts (> 0) from ``start`` to ``end``, not yet
    checked against the K01 rules (see :func:`discharge_profile`)."""
    check_version(version)
    if not power_w > 0:
        raise ValueError(f"power_w is the discharge power and must be positive, got {power_w}")
    start, duration = _window(start, end)
    watts = _tidy(-power_w)
    if version == "2.0.1":
        period = ChargingSchedulePeriod(start_period=0, limit=watts)
    else:
        period = ChargingSchedulePeriod(start_period=0, operation_mode="CentralSetpoint",
                                        setpoint=watts, discharge_limit=watts)
    profile = _profile(profile_id=profile_id, stack_level=stack_level, purpose=purpose,
                       transaction_id=transaction_id, start=start, duration=duration,
                       period=period)
    return profile


def discharge_profile(
    version: str, *, evse_id: int, limits: StationLimits | None = None, **kw: Any,
) -> dict[str, Any]:
    """A ``chargingProfile`` that discharges ``power_w`` watts (> 0) from ``start`` to ``end``
    (keywords of :func:`discharge_model`).

    ``end`` None lasts until the transaction ends. After ``end`` the schedule is over and lower
    profiles (e.g. the TxDefaultProfile) apply again. Raises ValueError for a non-positive power
    or an empty window, ProfileRuleError when a K01 rule (or a station limit) is broken.
    """
    return _finish(discharge_model(version, **kw), version, evse_id, limits)


def charge_model(
    version: str,
    *,
    transaction_id: str | None,
    power_w: float,
    start: datetime,
    end: datetime | None,
    profile_id: int,
    stack_level: int = 0,
    purpose: str = "TxProfile",
) -> ChargingProfile:
    """A profile that limits charging to ``power_w`` watts (>= 0) from ``start``, not yet
    checked against the K01 rules (see :func:`charge_profile`)."""
    check_version(version)
    if power_w < 0:
        raise ValueError(f"power_w is a charge limit and cannot be negative, got {power_w}")
    start, duration = _window(start, end)
    mode = "ChargingOnly" if version == "2.1" else None
    period = ChargingSchedulePeriod(start_period=0, limit=_tidy(power_w), operation_mode=mode)
    profile = _profile(profile_id=profile_id, stack_level=stack_level, purpose=purpose,
                       transaction_id=transaction_id, start=start, duration=duration,
                       period=period)
    return profile


def charge_profile(
    version: str, *, evse_id: int, limits: StationLimits | None = None, **kw: Any,
) -> dict[str, Any]:
    """A ``chargingProfile`` that limits charging to ``power_w`` watts (>= 0) from ``start``
    (keywords of :func:`charge_model`).

    2.0.1: a positive ``limit``; 2.1: operationMode ChargingOnly with that ``limit``. A power of
    0 pauses charging. Same errors as :func:`discharge_profile`.
    """
    return _finish(charge_model(version, **kw), version, evse_id, limits)


def set_charging_profile(evse_id: int, charging_profile: dict[str, Any]) -> dict[str, Any]:
    """The SetChargingProfileRequest payload carrying ``charging_profile`` to ``evse_id``."""
    return {"evseId": evse_id, "chargingProfile": charging_profile}


def charging_schedule_for_need(
    energy_wh: float | None,
    departure: datetime | None,
    max_power_w: float,
    now: datetime,
    *,
    schedule_id: int = 1,
    margin: float = 1.1,
    version: str = "2.1",
) -> ChargingSchedule:
    """An Absolute schedule, in W, that delivers ``energy_wh`` between ``now`` and ``departure``.

    It charges at a flat rate: the average power the need requires times ``margin`` (so that
    tapering near full does not miss the target), never more than ``max_power_w``; the window
    ends at departure. When even ``max_power_w`` cannot deliver the energy in time the schedule
    charges at ``max_power_w`` throughout (the most that can be done).

    An EV that states no energy amount or no departure time still gets a schedule from what is
    known (K15.FR.02/03/05, K16.FR.06): ``max_power_w`` from now, until its departure if it gave
    one, else open-ended. Raises ValueError for a departure not after ``now``, a negative energy
    or a non-positive maximum power.
    """
    check_version(version)
    now = require_aware(now, "now").replace(microsecond=0)
    if not max_power_w > 0:
        raise ValueError(f"max_power_w must be positive, got {max_power_w}")
    seconds = None
    if departure is not None:
        departure = require_aware(departure, "departure")
        seconds = math.floor((departure - now).total_seconds())
        if seconds <= 0:
            raise ValueError(f"departure ({departure.isoformat()}) must be after now "
                             f"({now.isoformat()})")
    if energy_wh is not None and energy_wh < 0:
        raise ValueError(f"energy_wh cannot be negative, got {energy_wh}")
    # One decimal on the wire: round the need up, the maximum down.
    power = math.floor(max_power_w * 10) / 10
    if energy_wh is not None and seconds is not None:
        power = min(power, math.ceil(energy_wh * 3600.0 / seconds * margin * 10) / 10)
    mode = "ChargingOnly" if version == "2.1" else None
    period = ChargingSchedulePeriod(start_period=0, limit=_tidy(power), operation_mode=mode)
    return ChargingSchedule(id=schedule_id, charging_rate_unit="W", periods=(period,),
                            start_schedule=now, duration=seconds)


def need_model(
    version: str,
    *,
    transaction_id: str,
    energy_wh: float | None,
    departure: datetime | None,
    max_power_w: float,
    now: datetime,
    profile_id: int,
    stack_level: int = 0,
) -> ChargingProfile:
    """The TxProfile answering a NotifyEVChargingNeeds: the need met by departure (K15/K17),
    or, without an energy amount or a departure time, the most the EV may take (K15.FR.02);
    not yet checked against the K01 rules (see :func:`profile_for_need`)."""
    schedule = charging_schedule_for_need(energy_wh, departure, max_power_w, now,
                                          schedule_id=profile_id, version=version)
    return ChargingProfile(id=profile_id, stack_level=stack_level, purpose="TxProfile",
                           kind="Absolute", schedules=(schedule,), transaction_id=transaction_id)


def profile_for_need(
    version: str, *, evse_id: int, limits: StationLimits | None = None, **kw: Any,
) -> dict[str, Any]:
    """:func:`need_model` as a checked ``chargingProfile``."""
    return _finish(need_model(version, **kw), version, evse_id, limits)


def _tidy(value: float) -> float | int:
    """One decimal at most (what OCPP limits accept); whole numbers stay ints."""
    rounded = round(float(value), 1)
    return int(rounded) if rounded == int(rounded) else rounded
