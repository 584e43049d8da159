"""The K01 rules, one test per requirement, for both dialects where they apply."""

from __future__ import annotations

from dataclasses import replace

import pytest

from csms.smartcharging.limits import StationLimits
from csms.smartcharging.rules import (
    RuleViolation,
    check_profile,
    check_request,
    status_info,
)
from tests.smartcharging.factories import T0, minutes, period, profile, tx_profile

VERSIONS = ("2.0.1", "2.1")


def only(violations: list[RuleViolation]) -> RuleViolation:
    assert len(violations) == 1, violations
    return violations[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_valid_profiles_pass_every_rule(version: str) -> None:
    assert check_profile(tx_profile(), version=version, evse_id=1) == []
    assert check_profile(profile(), version=version, evse_id=0) == []
    assert check_profile(profile(kind="Relative"), version=version, evse_id=2) == []
    max_profile = profile(purpose="ChargingStationMaxProfile")
    assert check_profile(max_profile, version=version, evse_id=0) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_k01_fr_03_txprofile_requires_transaction_id(version: str) -> None:
    bad = profile(purpose="TxProfile", transaction_id=None)
    v = only(check_profile(bad, version=version, evse_id=1))
    assert (v.requirement, v.field, v.reason_code) == ("K01.FR.03", "transactionId",
                                                        "MissingParam")


@pytest.mark.parametrize("evse_id", [0, -1])
def test_k01_fr_16_txprofile_requires_evse_above_zero(evse_id: int) -> None:
    found = check_profile(tx_profile(), version="2.0.1", evse_id=evse_id)
    assert "K01.FR.16" in {v.requirement for v in found}
    assert any(v.field == "evseId" for v in found)


def test_k01_fr_09_txprofile_needs_running_transaction() -> None:
    v = only(check_profile(tx_profile(), version="2.0.1", evse_id=1, transactions={2: "tx-9"}))
    assert (v.requirement, v.reason_code) == ("K01.FR.09", "TxNotFound")


def test_k01_fr_33_txprofile_transaction_must_be_the_one_on_the_evse() -> None:
    v = only(check_profile(tx_profile(), version="2.1", evse_id=1, transactions={1: "tx-other"}))
    assert v.requirement == "K01.FR.33"
    assert check_profile(tx_profile(), version="2.1", evse_id=1, transactions={1: "tx-1"}) == []


def test_transaction_id_only_on_txprofile() -> None:
    bad = profile(purpose="TxDefaultProfile", transaction_id="tx-1")
    v = only(check_profile(bad, version="2.0.1", evse_id=1))
    assert v.field == "transactionId"


@pytest.mark.parametrize("version", VERSIONS)
def test_k01_fr_31_first_period_starts_at_zero(version: str) -> None:
    bad = profile(periods=(period(60, limit=1000),))
    v = only(check_profile(bad, version=version, evse_id=1))
    assert v.requirement == "K01.FR.31"
    assert v.field == "chargingSchedule[0].chargingSchedulePeriod[0].startPeriod"
    assert v.reason_code == "InvalidSchedule"


@pytest.mark.parametrize("starts", [(0, 600, 600), (0, 900, 300)])
def test_k01_fr_35_periods_strictly_ascending(starts: tuple[int, ...]) -> None:
    bad = profile(periods=tuple(period(s, limit=1000) for s in starts))
    v = only(check_profile(bad, version="2.0.1", evse_id=1))
    assert v.requirement == "K01.FR.35"
    assert v.field == "chargingSchedule[0].chargingSchedulePeriod[2].startPeriod"


@pytest.mark.parametrize("kind", ["Absolute", "Recurring"])
def test_k01_fr_40_start_schedule_required_for_absolute_and_recurring(kind: str) -> None:
    bad = profile(kind=kind, start=None, recurrency_kind="Daily" if kind == "Recurring" else None)
    v = only(check_profile(bad, version="2.0.1", evse_id=1))
    assert (v.requirement, v.field) == ("K01.FR.40", "chargingSchedule[0].startSchedule")


def test_k01_fr_41_no_start_schedule_for_relative() -> None:
    bad = replace(profile(kind="Absolute", start=T0), kind="Relative")
    v = only(check_profile(bad, version="2.1", evse_id=1))
    assert v.requirement == "K01.FR.41"


def test_recurrency_kind_only_with_recurring() -> None:
    bad = profile(kind="Absolute", recurrency_kind="Daily")
    assert only(check_profile(bad, version="2.0.1", evse_id=1)).field == "recurrencyKind"
    missing = profile(kind="Recurring", recurrency_kind=None)
    assert only(check_profile(missing, version="2.0.1", evse_id=1)).field == "recurrencyKind"
    good = profile(kind="Recurring", recurrency_kind="Weekly")
    assert check_profile(good, version="2.0.1", evse_id=1) == []


def test_k01_fr_19_phase_to_use_only_with_one_phase() -> None:
    bad = profile(unit="A", periods=(period(0, limit=16, number_phases=3, phase_to_use=2),))
    v = only(check_profile(bad, version="2.0.1", evse_id=1))
    assert (v.requirement, v.field) == (
        "K01.FR.19", "chargingSchedule[0].chargingSchedulePeriod[0].phaseToUse")
    absent = profile(unit="A", periods=(period(0, limit=16, phase_to_use=2),))
    assert only(check_profile(absent, version="2.0.1", evse_id=1)).requirement == "K01.FR.19"
    good = profile(unit="A", periods=(period(0, limit=16, number_phases=1, phase_to_use=2),))
    assert check_profile(good, version="2.0.1", evse_id=1) == []


def test_k01_fr_20_phase_to_use_needs_ac_phase_switching() -> None:
    p = profile(unit="A", periods=(period(0, limit=16, number_phases=1, phase_to_use=2),))
    v = only(check_profile(p, version="2.0.1", evse_id=1,
                           limits=StationLimits(ac_phase_switching=False)))
    assert v.requirement == "K01.FR.20"


@pytest.mark.parametrize("version", VERSIONS)
def test_k01_fr_22_csms_may_not_set_external_constraints(version: str) -> None:
    p = profile(purpose="ChargingStationExternalConstraints")
    v = only(check_profile(p, version=version, evse_id=0))
    assert (v.requirement, v.field) == ("K01.FR.22", "chargingProfilePurpose")
    assert check_profile(p, version=version, evse_id=0, sender="local") == []


def test_charging_station_max_profile_only_on_evse_zero() -> None:
    p = profile(purpose="ChargingStationMaxProfile")
    v = only(check_profile(p, version="2.0.1", evse_id=1))
    assert v.field == "evseId"
    assert "evseId 0" in v.message


def test_k01_fr_38_charging_station_max_profile_not_relative() -> None:
    p = profile(purpose="ChargingStationMaxProfile", kind="Relative")
    assert only(check_profile(p, version="2.1", evse_id=0)).requirement == "K01.FR.38"


def test_k01_fr_26_rate_unit_must_be_supported() -> None:
    p = profile(unit="A", periods=(period(0, limit=16),))
    v = only(check_profile(p, version="2.0.1", evse_id=1,
                           limits=StationLimits(rate_units=frozenset({"W"}))))
    assert (v.requirement, v.reason_code) == ("K01.FR.26", "UnsupportedRateUnit")
    assert "chargingRateUnit" in v.field


def test_station_limits_periods_per_schedule_and_stack_level_and_entries() -> None:
    p = profile(stack_level=5, periods=tuple(period(60 * i, limit=1000) for i in range(5)))
    limits = StationLimits(periods_per_schedule=4, max_stack_level=3, max_entries=10, entries=10)
    found = {v.requirement: v for v in check_profile(p, version="2.0.1", evse_id=1,
                                                     limits=limits)}
    assert set(found) == {"SmartChargingCtrlr.PeriodsPerSchedule",
                          "SmartChargingCtrlr.ProfileStackLevel", "SmartChargingCtrlr.Entries"}
    assert found["SmartChargingCtrlr.ProfileStackLevel"].reason_code == "InvalidStackLevel"
    roomy = StationLimits(periods_per_schedule=5, max_stack_level=5, max_entries=11, entries=10)
    assert check_profile(p, version="2.0.1", evse_id=1, limits=roomy) == []


def test_station_limits_from_device_model() -> None:
    limits = StationLimits.from_device_model(
        {"SmartChargingCtrlr.RateUnit": "W", "SmartChargingCtrlr.PeriodsPerSchedule": "24",
         "SmartChargingCtrlr.ProfileStackLevel": "8",
         "SmartChargingCtrlr.ACPhaseSwitchingSupported": "false"},
        max_entries=50, entries=3)
    assert limits == StationLimits(rate_units=frozenset({"W"}), periods_per_schedule=24,
                                   max_stack_level=8, max_entries=50, entries=3,
                                   ac_phase_switching=False)
    with pytest.raises(ValueError, match="PeriodsPerSchedule"):
        StationLimits.from_device_model({"SmartChargingCtrlr.PeriodsPerSchedule": "many"})
    with pytest.raises(ValueError, match="RateUnit"):
        StationLimits.from_device_model({"SmartChargingCtrlr.RateUnit": "A,kW"})


def test_negative_stack_level_rejected() -> None:
    v = only(check_profile(profile(stack_level=-1), version="2.0.1", evse_id=1))
    assert v.field == "stackLevel"


def test_valid_to_after_valid_from() -> None:
    bad = profile(valid_from=T0, valid_to=T0 - minutes(1))
    assert only(check_profile(bad, version="2.0.1", evse_id=1)).field == "validTo"


def test_2_1_central_setpoint_requires_setpoint() -> None:
    bad = tx_profile(periods=(period(0, operation_mode="CentralSetpoint", limit=5000),))
    v = only(check_profile(bad, version="2.1", evse_id=1))
    assert v.field == "chargingSchedule[0].chargingSchedulePeriod[0].setpoint"
    good = tx_profile(periods=(period(0, operation_mode="CentralSetpoint", setpoint=-5000,
                                      discharge_limit=-5000),))
    assert check_profile(good, version="2.1", evse_id=1) == []


def test_2_1_charging_only_requires_limit_and_takes_no_setpoint() -> None:
    no_limit = tx_profile(periods=(period(0, operation_mode="ChargingOnly"),))
    assert only(check_profile(no_limit, version="2.1", evse_id=1)).field.endswith(".limit")
    with_setpoint = tx_profile(periods=(period(0, limit=1000, setpoint=500),))
    assert only(check_profile(with_setpoint, version="2.1", evse_id=1)).field.endswith(
        ".setpoint")


def test_2_1_charging_station_max_profile_only_charging_only() -> None:
    bad = profile(purpose="ChargingStationMaxProfile",
                  periods=(period(0, operation_mode="CentralSetpoint", setpoint=-1000),))
    v = only(check_profile(bad, version="2.1", evse_id=0))
    assert v.field.endswith(".operationMode")
    assert "ChargingStationMaxProfile" in v.message


def test_k01_fr_71_priority_charging_only_charging_only() -> None:
    bad = profile(purpose="PriorityCharging", periods=(period(0, operation_mode="Idle"),))
    assert only(check_profile(bad, version="2.1", evse_id=1)).requirement == "K01.FR.71"


def test_k01_fr_70_priority_charging_has_no_duration() -> None:
    bad = profile(purpose="PriorityCharging", duration=600)
    assert only(check_profile(bad, version="2.1", evse_id=1)).requirement == "K01.FR.70"


@pytest.mark.parametrize("name", ["discharge_limit", "discharge_limit_l2", "discharge_limit_l3"])
def test_2_1_discharge_limit_is_not_positive(name: str) -> None:
    values = {"operation_mode": "CentralSetpoint", "setpoint": -1000, name: 500}
    if name != "discharge_limit":
        values["discharge_limit"] = -1000
    bad = tx_profile(periods=(period(0, **values),))
    found = check_profile(bad, version="2.1", evse_id=1)
    assert [v.requirement for v in found] == ["ChargingSchedulePeriodType.dischargeLimit"]
    wire = {"discharge_limit": "dischargeLimit", "discharge_limit_l2": "dischargeLimit_L2",
            "discharge_limit_l3": "dischargeLimit_L3"}[name]
    assert found[0].field.endswith("." + wire)


def test_2_1_only_fields_are_refused_for_2_0_1() -> None:
    p = tx_profile(periods=(period(0, limit=-5000, setpoint=-5000),))
    v = only(check_profile(p, version="2.0.1", evse_id=1))
    assert v.requirement == "OCPP 2.0.1 schema"
    assert v.field.endswith(".setpoint")
    dynamic = profile(kind="Dynamic")
    assert only(check_profile(dynamic, version="2.0.1", evse_id=1)).field == (
        "chargingProfileKind")


def test_2_0_1_negative_limit_is_allowed_for_discharge() -> None:
    p = tx_profile(periods=(period(0, limit=-7400),))
    assert check_profile(p, version="2.0.1", evse_id=1) == []


def test_check_request_reads_the_payload_and_names_bad_fields() -> None:
    payload = {"evseId": 1, "chargingProfile": tx_profile().to_wire("2.0.1")}
    prof, violations = check_request(payload, version="2.0.1")
    assert prof == tx_profile() and violations == []
    del payload["chargingProfile"]["transactionId"]
    _prof, violations = check_request(payload, version="2.0.1")
    assert [v.requirement for v in violations] == ["K01.FR.03"]
    payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] = "x"
    prof, violations = check_request(payload, version="2.0.1")
    assert prof is None
    assert only(violations).field == "chargingSchedule[0].chargingSchedulePeriod[0].limit"
    prof, violations = check_request({"chargingProfile": {}}, version="2.1")
    assert prof is None and only(violations).field == "evseId"


def test_status_info_names_the_first_rule() -> None:
    violations = check_profile(profile(purpose="TxProfile"), version="2.0.1", evse_id=0)
    info = status_info(violations)
    assert info["reasonCode"] == "MissingParam"
    assert "K01.FR.03" in info["additionalInfo"] and "K01.FR.16" in info["additionalInfo"]
    with pytest.raises(ValueError):
        status_info([])
