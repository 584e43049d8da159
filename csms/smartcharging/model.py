"""The charging-profile model shared by the CSMS and the station simulators.

Frozen dataclasses for ChargingProfile / ChargingSchedule / ChargingSchedulePeriod covering
OCPP 2.0.1 and 2.1, with ``from_wire(payload, version)`` and ``to_wire(version)`` that speak the
official JSON schemas' camelCase dicts exactly (including the 2.1 per-phase names such as
``setpoint_L2`` and ``dischargeLimit_L3``). Absent optional fields are never written as null.

Fields the model does not interpret (``customData``, sales tariffs, price schedules, 2.1
frequency curves, ...) travel through ``extra`` unchanged so that a profile read from the wire is
written back identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.smartcharging.fields import (
    BOTH,
    V21,
    ProfileFormatError,
    check_version,
    format_datetime,
    join,
    parse_datetime,
    read_bool,
    read_enum,
    read_int,
    read_list,
    read_number,
    read_object,
    read_str,
    split_extras,
    write_extras,
)

PURPOSES: dict[str, tuple[str, ...]] = {
    "2.0.1": (
        "ChargingStationExternalConstraints",
        "ChargingStationMaxProfile",
        "TxDefaultProfile",
        "TxProfile",
    ),
    "2.1": (
        "ChargingStationExternalConstraints",
        "ChargingStationMaxProfile",
        "TxDefaultProfile",
        "TxProfile",
        "PriorityCharging",
        "LocalGeneration",
    ),
}
KINDS: dict[str, tuple[str, ...]] = {
    "2.0.1": ("Absolute", "Recurring", "Relative"),
    "2.1": ("Absolute", "Recurring", "Relative", "Dynamic"),
}
RECURRENCY_KINDS: tuple[str, ...] = ("Daily", "Weekly")
RATE_UNITS: tuple[str, ...] = ("W", "A")
OPERATION_MODES: tuple[str, ...] = (
    "Idle",
    "ChargingOnly",
    "CentralSetpoint",
    "ExternalSetpoint",
    "ExternalLimits",
    "CentralFrequency",
    "LocalFrequency",
    "LocalLoadBalancing",
)

Reader = Callable[[Any, str], Any]


def _enum(allowed: tuple[str, ...]) -> Reader:
    return lambda value, path: read_enum(value, path, allowed)


# (attribute, wire name, reader, versions that define the field)
_PERIOD_FIELDS: tuple[tuple[str, str, Reader, frozenset[str]], ...] = (
    ("limit", "limit", read_number, BOTH),
    ("limit_l2", "limit_L2", read_number, V21),
    ("limit_l3", "limit_L3", read_number, V21),
    ("number_phases", "numberPhases", read_int, BOTH),
    ("phase_to_use", "phaseToUse", read_int, BOTH),
    ("operation_mode", "operationMode", _enum(OPERATION_MODES), V21),
    ("setpoint", "setpoint", read_number, V21),
    ("setpoint_l2", "setpoint_L2", read_number, V21),
    ("setpoint_l3", "setpoint_L3", read_number, V21),
    ("discharge_limit", "dischargeLimit", read_number, V21),
    ("discharge_limit_l2", "dischargeLimit_L2", read_number, V21),
    ("discharge_limit_l3", "dischargeLimit_L3", read_number, V21),
    ("setpoint_reactive", "setpointReactive", read_number, V21),
    ("setpoint_reactive_l2", "setpointReactive_L2", read_number, V21),
    ("setpoint_reactive_l3", "setpointReactive_L3", read_number, V21),
    ("v2x_baseline", "v2xBaseline", read_number, V21),
    ("preconditioning_request", "preconditioningRequest", read_bool, V21),
    ("evse_sleep", "evseSleep", read_bool, V21),
)
_PERIOD_EXTRAS: dict[str, frozenset[str]] = {
    "customData": BOTH,
    "v2xFreqWattCurve": V21,
    "v2xSignalWattCurve": V21,
}
_SCHEDULE_EXTRAS: dict[str, frozenset[str]] = {
    "customData": BOTH,
    "salesTariff": BOTH,
    "limitAtSoC": V21,
    "powerTolerance": V21,
    "signatureId": V21,
    "digestValue": V21,
    "useLocalTime": V21,
    "randomizedDelay": V21,
    "absolutePriceSchedule": V21,
    "priceLevelSchedule": V21,
}
_PROFILE_EXTRAS: dict[str, frozenset[str]] = {
    "customData": BOTH,
    "maxOfflineDuration": V21,
    "invalidAfterOfflineDuration": V21,
    "dynUpdateInterval": V21,
    "dynUpdateTime": V21,
    "priceScheduleSignature": V21,
}


@dataclass(frozen=True)
class ChargingSchedulePeriod:
    """One period of a charging schedule, starting ``start_period`` seconds into it.

    ``limit`` is required on the 2.0.1 wire; in 2.1 it is optional when the operation mode does
    not need it. A negative 2.0.1 ``limit`` is the industry convention for discharge.
    """

    start_period: int
    limit: float | None = None
    limit_l2: float | None = None
    limit_l3: float | None = None
    number_phases: int | None = None
    phase_to_use: int | None = None
    operation_mode: str | None = None
    setpoint: float | None = None
    setpoint_l2: float | None = None
    setpoint_l3: float | None = None
    discharge_limit: float | None = None
    discharge_limit_l2: float | None = None
    discharge_limit_l3: float | None = None
    setpoint_reactive: float | None = None
    setpoint_reactive_l2: float | None = None
    setpoint_reactive_l3: float | None = None
    v2x_baseline: float | None = None
    preconditioning_request: bool | None = None
    evse_sleep: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_operation_mode(self) -> str:
        """The operation mode, ChargingOnly when absent (2.1 default, and all of 2.0.1)."""
        return self.operation_mode or "ChargingOnly"

    @classmethod
    def from_wire(
        cls, payload: Mapping[str, Any], version: str, path: str = ""
    ) -> ChargingSchedulePeriod:
        """Read a ChargingSchedulePeriodType dict; raise ProfileFormatError naming the field."""
        check_version(version)
        obj = read_object(payload, path or "chargingSchedulePeriod")
        if "startPeriod" not in obj:
            raise ProfileFormatError(join(path, "startPeriod"), "required field is missing")
        if version == "2.0.1" and "limit" not in obj:
            raise ProfileFormatError(join(path, "limit"), "required field is missing in 2.0.1")
        kwargs: dict[str, Any] = {
            "start_period": read_int(obj["startPeriod"], join(path, "startPeriod"))
        }
        known = {"startPeriod"}
        for attr, wire, reader, versions in _PERIOD_FIELDS:
            if wire not in obj:
                continue
            if version not in versions:
                raise ProfileFormatError(join(path, wire), f"not a field of OCPP {version}")
            kwargs[attr] = reader(obj[wire], join(path, wire))
            known.add(wire)
        kwargs["extra"] = split_extras(obj, known, _PERIOD_EXTRAS, version, path)
        return cls(**kwargs)

    def to_wire(self, version: str, path: str = "") -> dict[str, Any]:
        """The ChargingSchedulePeriodType dict for ``version``, absent fields omitted.

        Raises ProfileFormatError for a value the version cannot express (e.g. a setpoint in
        2.0.1, or a 2.0.1 period without a limit).
        """
        check_version(version)
        out: dict[str, Any] = {"startPeriod": self.start_period}
        for attr, wire, _reader, versions in _PERIOD_FIELDS:
            value = getattr(self, attr)
            if value is None:
                continue
            if version not in versions:
                raise ProfileFormatError(join(path, wire), f"cannot be expressed in OCPP {version}")
            out[wire] = value
        if version == "2.0.1" and self.limit is None:
            raise ProfileFormatError(join(path, "limit"), "required in OCPP 2.0.1")
        write_extras(out, self.extra, _PERIOD_EXTRAS, version, path)
        return out


@dataclass(frozen=True)
class ChargingSchedule:
    """A charging schedule: rate unit, ordered periods, optional start and duration."""

    id: int
    charging_rate_unit: str
    periods: tuple[ChargingSchedulePeriod, ...]
    start_schedule: datetime | None = None
    duration: int | None = None
    min_charging_rate: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(
        cls, payload: Mapping[str, Any], version: str, path: str = ""
    ) -> ChargingSchedule:
        """Read a ChargingScheduleType dict; raise ProfileFormatError naming the field."""
        check_version(version)
        obj = read_object(payload, path or "chargingSchedule")
        for required in ("id", "chargingRateUnit", "chargingSchedulePeriod"):
            if required not in obj:
                raise ProfileFormatError(join(path, required), "required field is missing")
        periods_path = join(path, "chargingSchedulePeriod")
        raw_periods = read_list(obj["chargingSchedulePeriod"], periods_path, 1, 1024)
        periods = tuple(
            ChargingSchedulePeriod.from_wire(p, version, f"{periods_path}[{i}]")
            for i, p in enumerate(raw_periods)
        )
        start = obj.get("startSchedule")
        duration = obj.get("duration")
        min_rate = obj.get("minChargingRate")
        known = {"id", "chargingRateUnit", "chargingSchedulePeriod", "startSchedule", "duration",
                 "minChargingRate"}
        return cls(
            id=read_int(obj["id"], join(path, "id")),
            charging_rate_unit=read_enum(
                obj["chargingRateUnit"], join(path, "chargingRateUnit"), RATE_UNITS
            ),
            periods=periods,
            start_schedule=None
            if start is None
            else parse_datetime(start, join(path, "startSchedule")),
            duration=None if duration is None else read_int(duration, join(path, "duration")),
            min_charging_rate=None
            if min_rate is None
            else read_number(min_rate, join(path, "minChargingRate")),
            extra=split_extras(obj, known, _SCHEDULE_EXTRAS, version, path),
        )

    def to_wire(self, version: str, path: str = "") -> dict[str, Any]:
        """The ChargingScheduleType dict for ``version``, absent fields omitted."""
        check_version(version)
        out: dict[str, Any] = {"id": self.id}
        if self.start_schedule is not None:
            out["startSchedule"] = format_datetime(self.start_schedule)
        if self.duration is not None:
            out["duration"] = self.duration
        out["chargingRateUnit"] = self.charging_rate_unit
        periods_path = join(path, "chargingSchedulePeriod")
        out["chargingSchedulePeriod"] = [
            p.to_wire(version, f"{periods_path}[{i}]") for i, p in enumerate(self.periods)
        ]
        if self.min_charging_rate is not None:
            out["minChargingRate"] = self.min_charging_rate
        write_extras(out, self.extra, _SCHEDULE_EXTRAS, version, path)
        return out


@dataclass(frozen=True)
class ChargingProfile:
    """A charging profile as installed on a station (the EVSE id travels beside it)."""

    id: int
    stack_level: int
    purpose: str
    kind: str
    schedules: tuple[ChargingSchedule, ...]
    recurrency_kind: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def schedule(self) -> ChargingSchedule:
        """The first (for most profiles the only) schedule."""
        return self.schedules[0]

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any], version: str) -> ChargingProfile:
        """Read a ChargingProfileType dict (as in SetChargingProfileRequest.chargingProfile).

        Raises ProfileFormatError naming the field when the payload does not fit the version's
        data types; the rules of use case K01 are checked separately by ``rules.check_profile``.
        """
        check_version(version)
        obj = read_object(payload, "chargingProfile")
        for required in ("id", "stackLevel", "chargingProfilePurpose", "chargingProfileKind",
                         "chargingSchedule"):
            if required not in obj:
                raise ProfileFormatError(required, "required field is missing")
        raw = read_list(obj["chargingSchedule"], "chargingSchedule", 1, 3)
        schedules = tuple(
            ChargingSchedule.from_wire(s, version, f"chargingSchedule[{i}]")
            for i, s in enumerate(raw)
        )
        optional: dict[str, Any] = {}
        if "recurrencyKind" in obj:
            optional["recurrency_kind"] = read_enum(
                obj["recurrencyKind"], "recurrencyKind", RECURRENCY_KINDS
            )
        if "validFrom" in obj:
            optional["valid_from"] = parse_datetime(obj["validFrom"], "validFrom")
        if "validTo" in obj:
            optional["valid_to"] = parse_datetime(obj["validTo"], "validTo")
        if "transactionId" in obj:
            optional["transaction_id"] = read_str(obj["transactionId"], "transactionId", 36)
        known = {"id", "stackLevel", "chargingProfilePurpose", "chargingProfileKind",
                 "chargingSchedule", "recurrencyKind", "validFrom", "validTo", "transactionId"}
        return cls(
            id=read_int(obj["id"], "id"),
            stack_level=read_int(obj["stackLevel"], "stackLevel"),
            purpose=read_enum(obj["chargingProfilePurpose"], "chargingProfilePurpose",
                              PURPOSES[version]),
            kind=read_enum(obj["chargingProfileKind"], "chargingProfileKind", KINDS[version]),
            schedules=schedules,
            extra=split_extras(obj, known, _PROFILE_EXTRAS, version, ""),
            **optional,
        )

    def to_wire(self, version: str) -> dict[str, Any]:
        """The ChargingProfileType dict for ``version``, absent fields omitted.

        Raises ProfileFormatError when a value cannot be expressed in that version (a 2.1-only
        purpose, kind or field in 2.0.1, a 2.0.1 period without a limit, ...).
        """
        check_version(version)
        if self.purpose not in PURPOSES[version]:
            raise ProfileFormatError(
                "chargingProfilePurpose", f"{self.purpose} does not exist in OCPP {version}"
            )
        if self.kind not in KINDS[version]:
            raise ProfileFormatError(
                "chargingProfileKind", f"{self.kind} does not exist in OCPP {version}"
            )
        out: dict[str, Any] = {
            "id": self.id,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": self.purpose,
            "chargingProfileKind": self.kind,
        }
        if self.recurrency_kind is not None:
            out["recurrencyKind"] = self.recurrency_kind
        if self.valid_from is not None:
            out["validFrom"] = format_datetime(self.valid_from)
        if self.valid_to is not None:
            out["validTo"] = format_datetime(self.valid_to)
        if self.transaction_id is not None:
            out["transactionId"] = self.transaction_id
        out["chargingSchedule"] = [
            s.to_wire(version, f"chargingSchedule[{i}]") for i, s in enumerate(self.schedules)
        ]
        write_extras(out, self.extra, _PROFILE_EXTRAS, version, "")
        return out

