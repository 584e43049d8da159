"""The rules of use case K01 (SetChargingProfile), checked before a profile is sent or installed.

The CSMS runs ``check_profile`` before it sends a profile; a station (the simulators) runs the
same checks on receipt, adding what only it knows: its device-model limits (``StationLimits``) and
its running transactions. Conflicts with already installed profiles (K01.FR.05/06/39/52/53) are
the business of :class:`csms.smartcharging.installed.InstalledProfiles`.

Requirement ids are those of OCPP 2.0.1 / 2.1 Part 2 use case K01. Where a rule comes from a field
definition of the JSON schema or a device-model variable rather than a numbered requirement, the
id names that field or variable instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from csms.smartcharging.fields import ProfileFormatError, check_version, read_int
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile, ChargingSchedulePeriod

Sender = Literal["csms", "local"]

# OCPP 2.1 Part 2, table "operationMode for various ChargingProfilePurposes".
ALLOWED_OPERATION_MODES: dict[str, frozenset[str]] = {
    "TxProfile": frozenset({"ChargingOnly", "CentralSetpoint", "ExternalSetpoint", "ExternalLimits",
                            "CentralFrequency", "LocalFrequency", "LocalLoadBalancing", "Idle"}),
    "TxDefaultProfile": frozenset({"ChargingOnly", "CentralSetpoint", "ExternalSetpoint",
                                   "ExternalLimits", "CentralFrequency", "LocalFrequency",
                                   "LocalLoadBalancing", "Idle"}),
    "PriorityCharging": frozenset({"ChargingOnly"}),
    "ChargingStationMaxProfile": frozenset({"ChargingOnly"}),
    "ChargingStationExternalConstraints": frozenset({"ChargingOnly", "ExternalLimits",
                                                     "ExternalSetpoint"}),
    "LocalGeneration": frozenset({"ChargingOnly", "ExternalLimits"}),
}

# OCPP 2.1 Part 2, table "Limits and setpoints per operation mode": (required, optional).
_LIMIT = "limit"
_SETPOINT = "setpoint"
_DISCHARGE = "dischargeLimit"
_REACTIVE = "setpointReactive"
LIMITS_PER_OPERATION_MODE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ChargingOnly": (frozenset({_LIMIT}), frozenset()),
    "CentralSetpoint": (frozenset({_SETPOINT}), frozenset({_LIMIT, _DISCHARGE, _REACTIVE})),
    "CentralFrequency": (frozenset({_SETPOINT}), frozenset({_LIMIT, _DISCHARGE})),
    "LocalFrequency": (frozenset(), frozenset({_LIMIT, _DISCHARGE})),
    "ExternalSetpoint": (frozenset(), frozenset({_LIMIT, _DISCHARGE})),
    "ExternalLimits": (frozenset(), frozenset({_LIMIT, _DISCHARGE})),
    "LocalLoadBalancing": (frozenset(), frozenset({_LIMIT, _DISCHARGE})),
    "Idle": (frozenset(), frozenset()),
}


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: the requirement id, the wire field concerned, and what is wrong.

    ``reason_code`` is the Part 2 Appendix 5 reason code a station puts in the statusInfo of a
    Rejected SetChargingProfileResponse.
    """

    requirement: str
    field: str
    message: str
    reason_code: str = "InvalidProfile"

    def __str__(self) -> str:
        return f"{self.requirement}: {self.field}: {self.message}"


class ProfileRuleError(ValueError):
    """A profile that breaks K01 rules; ``violations`` lists every one."""

    def __init__(self, violations: list[RuleViolation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


def check_profile(
    profile: ChargingProfile,
    *,
    version: str,
    evse_id: int,
    limits: StationLimits | None = None,
    sender: Sender = "csms",
    transactions: Mapping[int, str] | None = None,
) -> list[RuleViolation]:
    """Every K01 rule ``profile`` breaks when set on ``evse_id``; empty when it may be sent.

    ``sender`` is "csms" for a profile arriving in SetChargingProfile and "local" for one the
    station installs itself (an external constraint). ``transactions`` maps each EVSE id to its
    running transaction id, as the station knows it; when given, TxProfiles are matched to it.
    """
    check_version(version)
    out: list[RuleViolation] = []
    try:
        profile.to_wire(version)
    except ProfileFormatError as exc:
        out.append(RuleViolation(f"OCPP {version} schema", exc.field, exc.message, "InvalidValue"))
    if evse_id < 0:
        out.append(RuleViolation("SetChargingProfileRequest.evseId", "evseId",
                                 f"must be 0 or more, got {evse_id}", "InvalidValue"))
    if profile.stack_level < 0:
        out.append(RuleViolation("ChargingProfileType.stackLevel", "stackLevel",
                                 "the lowest stack level is 0", "InvalidStackLevel"))
    out += _check_purpose(profile, version, evse_id, sender, transactions)
    out += _check_kind(profile, version)
    for index in range(len(profile.schedules)):
        out += _check_schedule(profile, index, version, limits)
    if limits is not None:
        out += _check_limits(profile, limits)
    return out


def _check_purpose(
    profile: ChargingProfile,
    version: str,
    evse_id: int,
    sender: Sender,
    transactions: Mapping[int, str] | None,
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    purpose = profile.purpose
    if purpose == "TxProfile":
        if profile.transaction_id is None:
            # K01.FR.03: a TxProfile carries the transactionId it applies to.
            out.append(RuleViolation("K01.FR.03", "transactionId",
                                     "a TxProfile needs the transactionId it applies to",
                                     "MissingParam"))
        if evse_id <= 0:
            # K01.FR.16: a TxProfile is only set on an EVSE (evseId > 0).
            out.append(RuleViolation("K01.FR.16", "evseId",
                                     f"a TxProfile needs an evseId > 0, got {evse_id}",
                                     "InvalidValue"))
        elif transactions is not None and profile.transaction_id is not None:
            running = transactions.get(evse_id)
            if running is None:
                # K01.FR.09: a TxProfile needs a transaction running on the EVSE.
                out.append(RuleViolation("K01.FR.09", "transactionId",
                                         f"no transaction is running on EVSE {evse_id}",
                                         "TxNotFound"))
            elif running != profile.transaction_id:
                # K01.FR.33: the transactionId must be the one running on the EVSE.
                out.append(RuleViolation(
                    "K01.FR.33", "transactionId",
                    f"transaction {profile.transaction_id} is not the one on EVSE {evse_id}",
                    "TxNotFound"))
    elif profile.transaction_id is not None:
        # ChargingProfileType.transactionId: "SHALL only be included if ChargingProfilePurpose is
        # set to TxProfile".
        out.append(RuleViolation("ChargingProfileType.transactionId", "transactionId",
                                 f"only a TxProfile may carry a transactionId, not a {purpose}"))
    if purpose == "ChargingStationExternalConstraints" and sender == "csms":
        # K01.FR.22: external constraints are set by an external actor, never by the CSMS.
        out.append(RuleViolation("K01.FR.22", "chargingProfilePurpose",
                                 "ChargingStationExternalConstraints may not be set by the CSMS",
                                 "InvalidValue"))
    if purpose == "ChargingStationMaxProfile":
        if evse_id != 0:
            # SetChargingProfileRequest.evseId: the station maximum is an overall limit (evse 0).
            out.append(RuleViolation("SetChargingProfileRequest.evseId", "evseId",
                                     f"a ChargingStationMaxProfile is set on evseId 0, got "
                                     f"{evse_id}", "InvalidValue"))
        if profile.kind == "Relative":
            # K01.FR.38: a ChargingStationMaxProfile cannot be Relative.
            out.append(RuleViolation("K01.FR.38", "chargingProfileKind",
                                     "a ChargingStationMaxProfile cannot be Relative",
                                     "InvalidValue"))
    if purpose == "PriorityCharging":
        for index, schedule in enumerate(profile.schedules):
            if schedule.duration is not None:
                # K01.FR.70: PriorityCharging lasts until the end of the transaction.
                out.append(RuleViolation("K01.FR.70", f"chargingSchedule[{index}].duration",
                                         "a PriorityCharging schedule has no duration",
                                         "InvalidSchedule"))
    if version == "2.1" and profile.kind != "Dynamic":
        for key in ("dynUpdateInterval", "dynUpdateTime"):
            if key in profile.extra:
                # K01.FR.122: dynamic update fields belong to Dynamic profiles only.
                out.append(RuleViolation("K01.FR.122", key,
                                         "only a Dynamic profile has dynamic update fields"))
    return out


def _check_kind(profile: ChargingProfile, version: str) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    if profile.kind == "Recurring" and profile.recurrency_kind is None:
        # ChargingProfileType.recurrencyKind: a Recurring profile says Daily or Weekly.
        out.append(RuleViolation("ChargingProfileType.recurrencyKind", "recurrencyKind",
                                 "a Recurring profile needs recurrencyKind Daily or Weekly"))
    if profile.kind != "Recurring" and profile.recurrency_kind is not None:
        out.append(RuleViolation("ChargingProfileType.recurrencyKind", "recurrencyKind",
                                 f"recurrencyKind only applies to Recurring profiles, not "
                                 f"{profile.kind}"))
    if (profile.valid_from is not None and profile.valid_to is not None
            and profile.valid_to <= profile.valid_from):
        out.append(RuleViolation("ChargingProfileType.validTo", "validTo",
                                 "validTo must be later than validFrom"))
    if not profile.schedules:
        out.append(RuleViolation(f"OCPP {version} schema", "chargingSchedule",
                                 "needs at least one schedule", "InvalidSchedule"))
    return out


def _check_schedule(
    profile: ChargingProfile, index: int, version: str, limits: StationLimits | None
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    schedule = profile.schedules[index]
    path = f"chargingSchedule[{index}]"
    if profile.kind in ("Absolute", "Recurring") and schedule.start_schedule is None:
        # K01.FR.40: Absolute and Recurring schedules have a startSchedule.
        out.append(RuleViolation("K01.FR.40", f"{path}.startSchedule",
                                 f"an {profile.kind} profile needs startSchedule",
                                 "InvalidSchedule"))
    if profile.kind == "Relative" and schedule.start_schedule is not None:
        # K01.FR.41: a Relative schedule has no startSchedule.
        out.append(RuleViolation("K01.FR.41", f"{path}.startSchedule",
                                 "a Relative profile may not have startSchedule",
                                 "InvalidSchedule"))
    if limits is not None and schedule.charging_rate_unit not in limits.rate_units:
        # K01.FR.26: the rate unit must be one the station lists in SmartChargingCtrlr.RateUnit.
        out.append(RuleViolation("K01.FR.26", f"{path}.chargingRateUnit",
                                 f"the station does not support unit {schedule.charging_rate_unit}"
                                 f" (supports {','.join(sorted(limits.rate_units))})",
                                 "UnsupportedRateUnit"))
    if (version == "2.1" and schedule.extra.get("randomizedDelay")
            and profile.purpose not in ("TxProfile", "TxDefaultProfile")):
        # K01.FR.95: randomizedDelay only for TxProfile and TxDefaultProfile.
        out.append(RuleViolation("K01.FR.95", f"{path}.randomizedDelay",
                                 "randomizedDelay is only allowed for TxProfile and "
                                 "TxDefaultProfile", "InvalidSchedule"))
    periods = schedule.periods
    if periods and periods[0].start_period != 0:
        # K01.FR.31: the first period starts at 0.
        out.append(RuleViolation("K01.FR.31", f"{path}.chargingSchedulePeriod[0].startPeriod",
                                 f"the first period must start at 0, got {periods[0].start_period}",
                                 "InvalidSchedule"))
    for i in range(1, len(periods)):
        if periods[i].start_period <= periods[i - 1].start_period:
            # K01.FR.35: periods are in strictly increasing order of startPeriod.
            out.append(RuleViolation(
                "K01.FR.35", f"{path}.chargingSchedulePeriod[{i}].startPeriod",
                f"startPeriod {periods[i].start_period} does not follow "
                f"{periods[i - 1].start_period}; periods must ascend", "InvalidSchedule"))
    for i, period in enumerate(periods):
        out += _check_period(profile, period, f"{path}.chargingSchedulePeriod[{i}]", version,
                             limits)
    return out


def _check_period(
    profile: ChargingProfile,
    period: ChargingSchedulePeriod,
    path: str,
    version: str,
    limits: StationLimits | None,
) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    if period.phase_to_use is not None:
        if period.number_phases != 1:
            # K01.FR.19: phaseToUse only together with numberPhases = 1.
            out.append(RuleViolation("K01.FR.19", f"{path}.phaseToUse",
                                     "phaseToUse may only be set when numberPhases is 1",
                                     "InvalidSchedule"))
        if not 1 <= period.phase_to_use <= 3:
            out.append(RuleViolation("K01.FR.19", f"{path}.phaseToUse",
                                     f"phaseToUse is 1, 2 or 3, got {period.phase_to_use}",
                                     "InvalidSchedule"))
        if limits is not None and limits.ac_phase_switching is False:
            # K01.FR.20: phaseToUse needs ACPhaseSwitchingSupported.
            out.append(RuleViolation("K01.FR.20", f"{path}.phaseToUse",
                                     "the station does not support AC phase switching",
                                     "InvalidSchedule"))
    if period.number_phases is not None and not 1 <= period.number_phases <= 3:
        out.append(RuleViolation("ChargingSchedulePeriodType.numberPhases",
                                 f"{path}.numberPhases",
                                 f"numberPhases is 1 to 3, got {period.number_phases}",
                                 "InvalidSchedule"))
    if version != "2.1":
        return out
    for name in ("discharge_limit", "discharge_limit_l2", "discharge_limit_l3"):
        value = getattr(period, name)
        if value is not None and value > 0:
            # ChargingSchedulePeriodType.dischargeLimit: discharge limits are <= 0.
            wire = "dischargeLimit" + name.removeprefix("discharge_limit").upper()
            out.append(RuleViolation("ChargingSchedulePeriodType.dischargeLimit",
                                     f"{path}.{wire}",
                                     f"a discharge limit is zero or negative, got {value}",
                                     "InvalidSchedule"))
    mode = period.effective_operation_mode
    allowed = ALLOWED_OPERATION_MODES.get(profile.purpose, frozenset())
    if mode not in allowed:
        # K01.FR.71 (PriorityCharging) and the 2.1 table of operation modes per purpose
        # (ChargingStationMaxProfile: ChargingOnly only).
        requirement = "K01.FR.71" if profile.purpose == "PriorityCharging" else (
            "K01 operationMode per chargingProfilePurpose")
        out.append(RuleViolation(requirement, f"{path}.operationMode",
                                 f"operationMode {mode} is not allowed for {profile.purpose}",
                                 "InvalidSchedule"))
    required, optional = LIMITS_PER_OPERATION_MODE[mode]
    present = {
        _LIMIT: period.limit is not None,
        _SETPOINT: period.setpoint is not None,
        _DISCHARGE: period.discharge_limit is not None,
        _REACTIVE: period.setpoint_reactive is not None,
    }
    for name in sorted(required):
        if not present[name]:
            # 2.1 table "Limits and setpoints per operation mode": e.g. CentralSetpoint needs a
            # setpoint, ChargingOnly a limit.
            out.append(RuleViolation("K01 limits and setpoints per operationMode",
                                     f"{path}.{name}", f"operationMode {mode} requires {name}",
                                     "InvalidSchedule"))
    for name in sorted(present):
        if present[name] and name not in required | optional:
            out.append(RuleViolation("K01 limits and setpoints per operationMode",
                                     f"{path}.{name}", f"operationMode {mode} does not use {name}",
                                     "InvalidSchedule"))
    return out


def _check_limits(profile: ChargingProfile, limits: StationLimits) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    if limits.max_stack_level is not None and profile.stack_level > limits.max_stack_level:
        out.append(RuleViolation("SmartChargingCtrlr.ProfileStackLevel", "stackLevel",
                                 f"stackLevel {profile.stack_level} exceeds the station maximum "
                                 f"{limits.max_stack_level}", "InvalidStackLevel"))
    if limits.periods_per_schedule is not None:
        for index, schedule in enumerate(profile.schedules):
            if len(schedule.periods) > limits.periods_per_schedule:
                out.append(RuleViolation(
                    "SmartChargingCtrlr.PeriodsPerSchedule",
                    f"chargingSchedule[{index}].chargingSchedulePeriod",
                    f"{len(schedule.periods)} periods exceed the station maximum "
                    f"{limits.periods_per_schedule}", "InvalidSchedule"))
    if limits.max_entries is not None and limits.entries >= limits.max_entries:
        out.append(RuleViolation("SmartChargingCtrlr.Entries", "chargingProfile",
                                 f"the station already holds {limits.entries} profiles, its "
                                 f"maximum", "InvalidValue"))
    return out


def check_request(
    payload: Mapping[str, Any],
    *,
    version: str,
    limits: StationLimits | None = None,
    sender: Sender = "csms",
    transactions: Mapping[int, str] | None = None,
) -> tuple[ChargingProfile | None, list[RuleViolation]]:
    """Parse and check a whole SetChargingProfileRequest payload (``evseId`` + profile).

    Returns the profile (None when it cannot be read) and the violations; a payload that does
    not fit the data types gives one violation naming the field.
    """
    try:
        for required in ("evseId", "chargingProfile"):
            if required not in payload:
                raise ProfileFormatError(required, "required field is missing")
        evse_id = read_int(payload["evseId"], "evseId")
        profile = ChargingProfile.from_wire(payload["chargingProfile"], version)
    except ProfileFormatError as exc:
        return None, [RuleViolation(f"OCPP {version} schema", exc.field, exc.message,
                                    "InvalidValue")]
    return profile, check_profile(profile, version=version, evse_id=evse_id, limits=limits,
                                  sender=sender, transactions=transactions)


def status_info(violations: list[RuleViolation]) -> dict[str, str]:
    """The statusInfo of a Rejected SetChargingProfileResponse for these violations."""
    if not violations:
        raise ValueError("no violations to report")
    text = "; ".join(str(v) for v in violations)
    return {"reasonCode": violations[0].reason_code, "additionalInfo": text[:512]}
