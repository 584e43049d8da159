"""The composite schedule as a value: wire form for GetCompositeScheduleResponse, both versions.

Computed by :func:`csms.smartcharging.composite.composite_schedule` (what a station reports, or
what the CSMS expects it to report) and read back from a station's response with
:meth:`CompositeSchedule.from_wire`, so that the two can be compared with :func:`differences`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from csms.smartcharging.fields import (
    ProfileFormatError,
    check_version,
    format_datetime,
    parse_datetime,
    read_enum,
    read_int,
    read_list,
    read_number,
    read_object,
    require_aware,
)
from csms.smartcharging.model import OPERATION_MODES, RATE_UNITS


def _tidy(value: float) -> float | int:
    """Round to the one decimal OCPP limits accept; whole numbers become ints."""
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class CompositePeriod:
    """One period of a composite schedule (values in the schedule's rate unit)."""

    start_period: int
    limit: float | None
    discharge_limit: float | None = None
    setpoint: float | None = None
    operation_mode: str | None = None
    number_phases: int | None = None

    def same_values(self, other: CompositePeriod) -> bool:
        """Whether both periods say the same thing (start aside)."""
        return replace(self, start_period=0) == replace(other, start_period=0)

    def at(self, start_period: int) -> CompositePeriod:
        """This period moved to ``start_period``."""
        return replace(self, start_period=start_period)

    def to_wire(self, version: str, path: str = "") -> dict[str, Any]:
        """A ChargingSchedulePeriodType dict; raises ProfileFormatError if not expressible."""
        out: dict[str, Any] = {"startPeriod": self.start_period}
        if self.limit is not None:
            out["limit"] = _tidy(self.limit)
        elif version == "2.0.1":
            raise ProfileFormatError(f"{path}.limit", "2.0.1 needs a limit for every period; "
                                     "compute the composite with a default_limit")
        if self.number_phases is not None:
            out["numberPhases"] = self.number_phases
        extras = {"dischargeLimit": self.discharge_limit, "setpoint": self.setpoint,
                  "operationMode": self.operation_mode}
        for key, value in extras.items():
            if value is None:
                continue
            if version == "2.0.1":
                raise ProfileFormatError(f"{path}.{key}", "cannot be expressed in OCPP 2.0.1")
            if key != "operationMode":
                value = _tidy(value)
            out[key] = value
        return out


@dataclass(frozen=True)
class CompositeSchedule:
    """A composite schedule: one EVSE, a start, a duration, and ascending periods."""

    evse_id: int
    schedule_start: datetime
    duration: int
    charging_rate_unit: str
    periods: tuple[CompositePeriod, ...]

    @property
    def end(self) -> datetime:
        """The instant the schedule stops covering."""
        return self.schedule_start + timedelta(seconds=self.duration)

    def value_at(self, t: datetime) -> CompositePeriod | None:
        """The period in force at ``t``; None outside [schedule_start, end)."""
        t = require_aware(t, "t")
        if t < self.schedule_start or t >= self.end:
            return None
        offset = (t - self.schedule_start).total_seconds()
        current = None
        for period in self.periods:
            if period.start_period <= offset:
                current = period
            else:
                break
        return current

    def to_wire(self, version: str) -> dict[str, Any]:
        """The CompositeScheduleType dict of a GetCompositeScheduleResponse."""
        check_version(version)
        return {
            "evseId": self.evse_id,
            "duration": self.duration,
            "scheduleStart": format_datetime(self.schedule_start),
            "chargingRateUnit": self.charging_rate_unit,
            "chargingSchedulePeriod": [
                p.to_wire(version, f"schedule.chargingSchedulePeriod[{i}]")
                for i, p in enumerate(self.periods)
            ],
        }

    def response(self, version: str) -> dict[str, Any]:
        """A whole GetCompositeScheduleResponse payload (status Accepted)."""
        return {"status": "Accepted", "schedule": self.to_wire(version)}

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any], version: str) -> CompositeSchedule:
        """Read a CompositeScheduleType dict (the ``schedule`` of a station's response).

        2.1 per-phase values are summed into the total. Raises ProfileFormatError naming the
        field.
        """
        check_version(version)
        obj = read_object(payload, "schedule")
        for key in ("evseId", "duration", "scheduleStart", "chargingRateUnit",
                    "chargingSchedulePeriod"):
            if key not in obj:
                raise ProfileFormatError(f"schedule.{key}", "required field is missing")
        raw = read_list(obj["chargingSchedulePeriod"], "schedule.chargingSchedulePeriod", 1,
                        None)
        periods = tuple(_read_period(p, f"schedule.chargingSchedulePeriod[{i}]")
                        for i, p in enumerate(raw))
        return cls(
            evse_id=read_int(obj["evseId"], "schedule.evseId"),
            schedule_start=parse_datetime(obj["scheduleStart"], "schedule.scheduleStart"),
            duration=read_int(obj["duration"], "schedule.duration"),
            charging_rate_unit=read_enum(obj["chargingRateUnit"], "schedule.chargingRateUnit",
                                         RATE_UNITS),
            periods=periods,
        )


def _read_period(raw: Any, path: str) -> CompositePeriod:
    obj = read_object(raw, path)
    if "startPeriod" not in obj:
        raise ProfileFormatError(f"{path}.startPeriod", "required field is missing")

    def total(name: str) -> float | None:
        if name not in obj:
            return None
        value = read_number(obj[name], f"{path}.{name}")
        for phase in ("_L2", "_L3"):
            if name + phase in obj:
                value += read_number(obj[name + phase], f"{path}.{name}{phase}")
        return value

    mode = obj.get("operationMode")
    phases = obj.get("numberPhases")
    return CompositePeriod(
        start_period=read_int(obj["startPeriod"], f"{path}.startPeriod"),
        limit=total("limit"),
        discharge_limit=total("dischargeLimit"),
        setpoint=total("setpoint"),
        operation_mode=None if mode is None else read_enum(mode, f"{path}.operationMode",
                                                           OPERATION_MODES),
        number_phases=None if phases is None else read_int(phases, f"{path}.numberPhases"),
    )


def differences(
    expected: CompositeSchedule,
    reported: CompositeSchedule,
    tolerance: float = 0.0,
    *,
    ignore_unset: bool = False,
) -> list[str]:
    """Where a reported composite schedule departs from the expected one.

    Compares limit, setpoint and dischargeLimit over the common time span at every period
    boundary of either schedule; values within ``tolerance`` (in the rate unit) agree. With
    ``ignore_unset`` a value the expected schedule leaves unset (no profile sets it, so the
    station fills in its own maximum) agrees with anything. An empty list means they agree.
    """
    if expected.charging_rate_unit != reported.charging_rate_unit:
        return [f"rate unit {reported.charging_rate_unit}, expected "
                f"{expected.charging_rate_unit}"]
    start = max(expected.schedule_start, reported.schedule_start)
    end = min(expected.end, reported.end)
    instants = {start}
    for schedule in (expected, reported):
        for period in schedule.periods:
            instant = schedule.schedule_start + timedelta(seconds=period.start_period)
            if start <= instant < end:
                instants.add(instant)
    out: list[str] = []
    for instant in sorted(instants):
        want, got = expected.value_at(instant), reported.value_at(instant)
        if want is None or got is None:
            continue
        for name in ("limit", "setpoint", "discharge_limit"):
            a, b = getattr(want, name), getattr(got, name)
            if a is None and (b is None or ignore_unset):
                continue
            if a is None or b is None or abs(a - b) > tolerance:
                out.append(f"{format_datetime(instant)}: {name} {b}, expected {a}")
    return out
