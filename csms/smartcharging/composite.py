"""Profile stacking and the composite schedule, as a station computes them (use case K08).

At any instant and for one EVSE:

- within a purpose, the valid profile with the highest stackLevel that has a period in force
  wins; a profile whose schedule has ended (or not begun) lets the next lower level through.
  For TxDefaultProfile, profiles on the EVSE and on EVSE 0 stack together (K01.FR.52/53 keep
  their stack levels distinct); on a tie the EVSE's own profile wins;
- while a transaction runs, a TxProfile (of that transaction) replaces the TxDefaultProfile,
  and a 2.1 PriorityCharging profile replaces both;
- the composite is the minimum of that transaction-level limit, the ChargingStationMaxProfile
  (EVSE 0) and the ChargingStationExternalConstraints (EVSE 0 and the EVSE's own).

Everything is computed in watts and converted to the requested unit at the end; amperes convert
with a supply voltage and a number of phases (the period's own numberPhases when it gives one).
For 2.1, the most restrictive ``dischargeLimit`` (closest to zero) applies and the
transaction-level ``setpoint`` is clamped into [dischargeLimit, limit].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.smartcharging.fields import require_aware
from csms.smartcharging.installed import InstalledProfile
from csms.smartcharging.model import RATE_UNITS, ChargingSchedule, ChargingSchedulePeriod
from csms.smartcharging.schedule import CompositePeriod, CompositeSchedule
from csms.smartcharging.timeline import breakpoints, period_at

DEFAULT_VOLTAGE = 230.0
DEFAULT_PHASES = 3


@dataclass(frozen=True)
class Electrical:
    """How amperes convert to watts: W = A x voltage x phases."""

    voltage: float = DEFAULT_VOLTAGE
    phases: int = DEFAULT_PHASES

    def to_watts(self, value: float, unit: str, phases: int | None) -> float:
        """A value in ``unit`` as watts (total over phases)."""
        if unit == "W":
            return float(value)
        return float(value) * self.voltage * (phases or self.phases)

    def from_watts(self, watts: float, unit: str, phases: int | None) -> float:
        """Watts expressed in ``unit``."""
        if unit == "W":
            return watts
        return watts / (self.voltage * (phases or self.phases))


@dataclass(frozen=True)
class _Level:
    """The values one profile contributes at an instant, in watts."""

    profile_id: int
    limit: float | None
    discharge_limit: float | None
    setpoint: float | None
    operation_mode: str | None
    number_phases: int | None


def _phase_sum(base: float | None, l2: float | None, l3: float | None) -> float | None:
    """Total over phases: 2.1 per-phase values make ``base`` the value of L1 alone."""
    if base is None:
        return None
    if l2 is None and l3 is None:
        return base
    return base + (l2 or 0.0) + (l3 or 0.0)


def _level(
    profile_id: int, schedule: ChargingSchedule, period: ChargingSchedulePeriod, el: Electrical
) -> _Level:
    unit = schedule.charging_rate_unit
    phases = period.number_phases

    def watts(value: float | None) -> float | None:
        return None if value is None else el.to_watts(value, unit, phases)

    return _Level(
        profile_id=profile_id,
        limit=watts(_phase_sum(period.limit, period.limit_l2, period.limit_l3)),
        discharge_limit=watts(_phase_sum(period.discharge_limit, period.discharge_limit_l2,
                                         period.discharge_limit_l3)),
        setpoint=watts(_phase_sum(period.setpoint, period.setpoint_l2, period.setpoint_l3)),
        operation_mode=period.operation_mode,
        number_phases=phases,
    )


def _winner(
    entries: Iterable[InstalledProfile],
    t: datetime,
    tx_start: datetime | None,
    el: Electrical,
    prefer_evse: int | None = None,
) -> _Level | None:
    """The highest-stackLevel profile among ``entries`` with a period in force at ``t``."""
    best: tuple[int, int, _Level] | None = None
    for entry in entries:
        found = period_at(entry.profile, t, tx_start)
        if found is None:
            continue
        key = (entry.profile.stack_level, 1 if entry.evse_id == prefer_evse else 0)
        if best is None or key > best[:2]:
            best = (*key, _level(entry.profile.id, found[0], found[1], el))
    return None if best is None else best[2]


@dataclass(frozen=True)
class _Selection:
    """The installed profiles that can apply to one EVSE, by role."""

    caps: tuple[tuple[InstalledProfile, ...], ...]
    tx: tuple[InstalledProfile, ...]
    tx_default: tuple[InstalledProfile, ...]
    priority: tuple[InstalledProfile, ...]

    def all(self) -> list[InstalledProfile]:
        return [e for group in self.caps for e in group] + [
            *self.tx, *self.tx_default, *self.priority]


def _select(
    installed: Iterable[InstalledProfile], evse_id: int, transaction_id: str | None
) -> _Selection:
    entries = list(installed)

    def of(purpose: str, evses: tuple[int, ...]) -> tuple[InstalledProfile, ...]:
        return tuple(e for e in entries
                     if e.profile.purpose == purpose and e.evse_id in evses)

    caps = [of("ChargingStationMaxProfile", (0,)),
            of("ChargingStationExternalConstraints", (0,))]
    if evse_id == 0:
        return _Selection(tuple(caps), (), (), ())
    caps.append(of("ChargingStationExternalConstraints", (evse_id,)))
    tx = tuple(e for e in of("TxProfile", (evse_id,))
               if transaction_id is None or e.profile.transaction_id == transaction_id)
    return _Selection(tuple(caps), tx, of("TxDefaultProfile", (0, evse_id)),
                      of("PriorityCharging", (0, evse_id)))


def _combine(
    sel: _Selection, evse_id: int, t: datetime, tx_start: datetime | None, el: Electrical
) -> tuple[_Level | None, list[_Level]]:
    """The transaction-level winner and the caps in force at ``t``."""
    tx_level: _Level | None = None
    if tx_start is not None:
        tx_level = (_winner(sel.priority, t, tx_start, el, evse_id)
                    or _winner(sel.tx, t, tx_start, el, evse_id)
                    or _winner(sel.tx_default, t, tx_start, el, evse_id))
    caps = [lvl for group in sel.caps
            if (lvl := _winner(group, t, tx_start, el, evse_id)) is not None]
    return tx_level, caps


def _evaluate(tx_level: _Level | None, caps: list[_Level]) -> CompositePeriod:
    """The composite values of the levels :func:`_combine` found, in watts (start_period 0)."""
    levels = ([tx_level] if tx_level is not None else []) + caps
    limits = [lvl.limit for lvl in levels if lvl.limit is not None]
    discharges = [lvl.discharge_limit for lvl in levels if lvl.discharge_limit is not None]
    limit = min(limits) if limits else None
    discharge = max(discharges) if discharges else None
    setpoint = tx_level.setpoint if tx_level is not None else None
    if setpoint is not None:
        if limit is not None:
            setpoint = min(setpoint, limit)
        if discharge is not None:
            setpoint = max(setpoint, discharge)
    return CompositePeriod(
        start_period=0,
        limit=limit,
        discharge_limit=discharge,
        setpoint=setpoint,
        operation_mode=tx_level.operation_mode if tx_level is not None else None,
        number_phases=tx_level.number_phases if tx_level is not None else None,
    )


def composite_schedule(
    installed: Iterable[InstalledProfile],
    evse_id: int,
    start: datetime,
    duration: int,
    rate_unit: str = "W",
    tx_start: datetime | None = None,
    *,
    transaction_id: str | None = None,
    electrical: Electrical | None = None,
    default_limit: float | None = None,
) -> CompositeSchedule:
    """The composite schedule of ``evse_id`` over [start, start + duration seconds).

    ``tx_start`` is the start of the transaction running on the EVSE (None: no transaction, so
    TxProfile and TxDefaultProfile do not apply; Relative profiles start there);
    ``transaction_id`` restricts TxProfiles to that transaction. ``default_limit`` (in
    ``rate_unit``) fills spans no profile limits, typically the hardware maximum; without it such
    spans have no limit, which a 2.0.1 GetCompositeScheduleResponse cannot express. ``start``
    is truncated to whole seconds; periods start on whole seconds.
    """
    if rate_unit not in RATE_UNITS:
        raise ValueError(f"rate_unit must be W or A, got {rate_unit}")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    start = require_aware(start, "start").replace(microsecond=0)
    if tx_start is not None:
        tx_start = require_aware(tx_start, "tx_start")
    el = electrical or Electrical()
    sel = _select(installed, evse_id, transaction_id)
    end = start + timedelta(seconds=duration)
    offsets = {0}
    for entry in sel.all():
        for instant in breakpoints(entry.profile, start, end, tx_start):
            offset = (instant - start).total_seconds()
            whole = int(offset) if offset == int(offset) else int(offset) + 1
            if 0 < whole < duration:
                offsets.add(whole)
    periods: list[CompositePeriod] = []
    for offset in sorted(offsets):
        value = _evaluate(*_combine(sel, evse_id, start + timedelta(seconds=offset), tx_start,
                                    el))
        value = _to_unit(value, rate_unit, el, default_limit)
        if periods and periods[-1].same_values(value):
            continue
        periods.append(value.at(offset))
    return CompositeSchedule(evse_id=evse_id, schedule_start=start, duration=duration,
                             charging_rate_unit=rate_unit, periods=tuple(periods))


def _to_unit(
    value: CompositePeriod, unit: str, el: Electrical, default_limit: float | None
) -> CompositePeriod:
    phases = value.number_phases

    def conv(watts: float | None) -> float | None:
        return None if watts is None else el.from_watts(watts, unit, phases)

    limit = conv(value.limit)
    if limit is None:
        limit = default_limit
    return CompositePeriod(
        start_period=value.start_period,
        limit=limit,
        discharge_limit=conv(value.discharge_limit),
        setpoint=conv(value.setpoint),
        operation_mode=value.operation_mode,
        number_phases=value.number_phases,
    )


@dataclass(frozen=True)
class EffectiveSetpoint:
    """What the station should physically do on an EVSE at one instant (signed watts).

    ``power_w`` is the target: positive charges, negative discharges, None means no profile
    restricts the EVSE (charge as the EV wishes, within ``charge_limit_w``). A charge target is
    an upper bound the EV may stay under; a discharge target is the commanded export, which the
    EV may not be able to deliver in full. ``charge_limit_w`` caps charging and
    ``discharge_limit_w`` (zero or negative) caps discharging.
    """

    power_w: float | None
    charge_limit_w: float | None
    discharge_limit_w: float | None
    operation_mode: str
    profile_id: int | None

    @property
    def discharging(self) -> bool:
        """Whether the station is told to export energy."""
        return self.power_w is not None and self.power_w < 0


def setpoint_at(
    installed: Iterable[InstalledProfile],
    evse_id: int,
    t: datetime,
    tx_start: datetime | None = None,
    *,
    transaction_id: str | None = None,
    electrical: Electrical | None = None,
) -> EffectiveSetpoint:
    """What the installed profiles tell ``evse_id`` to do at ``t``.

    2.0.1 convention: the composite limit is the target, and a negative limit means discharge at
    up to its magnitude. 2.1: with operationMode CentralSetpoint (or CentralFrequency) the
    clamped setpoint is the target, negative meaning discharge, capped by dischargeLimit and
    limit; Idle means 0; the other modes follow the limit like ChargingOnly.
    """
    t = require_aware(t, "t")
    if tx_start is not None:
        tx_start = require_aware(tx_start, "tx_start")
    el = electrical or Electrical()
    sel = _select(installed, evse_id, transaction_id)
    tx_level, caps = _combine(sel, evse_id, t, tx_start, el)
    value = _evaluate(tx_level, caps)
    mode = value.operation_mode or "ChargingOnly"
    if mode == "Idle":
        power: float | None = 0.0
    elif mode in ("CentralSetpoint", "CentralFrequency") and value.setpoint is not None:
        power = value.setpoint
    else:
        power = value.limit
        if power is not None and value.discharge_limit is not None:
            power = max(power, value.discharge_limit)
    return EffectiveSetpoint(
        power_w=power,
        charge_limit_w=value.limit,
        discharge_limit_w=value.discharge_limit,
        operation_mode=mode,
        profile_id=tx_level.profile_id if tx_level is not None else None,
    )
