"""Builders give schema-valid profiles that a station following them turns into the asked power."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.ocppj import OCPPError, get_validator
from csms.smartcharging.builders import (
    charge_profile,
    charging_schedule_for_need,
    discharge_profile,
    profile_for_need,
    set_charging_profile,
)
from csms.smartcharging.composite import setpoint_at
from csms.smartcharging.installed import InstalledProfiles
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile
from csms.smartcharging.needs import parse_charging_needs
from csms.smartcharging.rules import ProfileRuleError
from tests.smartcharging.factories import T0, minutes

VERSIONS = ("2.0.1", "2.1")


def validate(version: str, evse_id: int, chargingprofile: dict) -> None:
    get_validator(version).validate_request("SetChargingProfile",
                                            set_charging_profile(evse_id, chargingprofile))


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=60, deadline=None)
@given(power=st.floats(1, 350_000), length=st.integers(1, 48 * 3600),
       stack=st.integers(0, 9), profile_id=st.integers(1, 10**6))
def test_every_builder_output_is_schema_valid(
    version: str, power: float, length: int, stack: int, profile_id: int
) -> None:
    end = T0 + timedelta(seconds=length)
    kw = {"evse_id": 1, "transaction_id": "tx-1", "power_w": power, "start": T0, "end": end,
          "profile_id": profile_id, "stack_level": stack}
    validate(version, 1, discharge_profile(version, **kw))
    validate(version, 1, charge_profile(version, **kw))
    validate(version, 1, profile_for_need(version, evse_id=1, transaction_id="tx-1",
                                          energy_wh=power / 10, departure=end,
                                          max_power_w=power, now=T0, profile_id=profile_id))


def test_the_validator_would_catch_a_bad_builder_output() -> None:
    wire = discharge_profile("2.1", evse_id=1, transaction_id="tx-1", power_w=7400, start=T0,
                             end=T0 + minutes(30), profile_id=3)
    wire["chargingSchedule"][0]["chargingSchedulePeriod"][0]["dischargeLimit"] = 7400
    with pytest.raises(OCPPError):
        validate("2.1", 1, wire)


def test_2_0_1_discharge_is_a_negative_limit_in_watts() -> None:
    wire = discharge_profile("2.0.1", evse_id=1, transaction_id="tx-1", power_w=7400.04,
                             start=T0, end=T0 + minutes(30), profile_id=3, stack_level=2)
    assert wire == {
        "id": 3, "stackLevel": 2, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "transactionId": "tx-1",
        "chargingSchedule": [{"id": 3, "startSchedule": "2025-06-02T08:00:00Z", "duration": 1800,
                              "chargingRateUnit": "W",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -7400}]}]}


def test_2_1_discharge_is_a_central_setpoint_with_discharge_limit() -> None:
    wire = discharge_profile("2.1", evse_id=1, transaction_id="tx-1", power_w=15000.25,
                             start=T0, end=None, profile_id=3)
    periods = wire["chargingSchedule"][0]["chargingSchedulePeriod"]
    assert periods == [{"startPeriod": 0, "operationMode": "CentralSetpoint",
                        "setpoint": -15000.2, "dischargeLimit": -15000.2}]
    assert "duration" not in wire["chargingSchedule"][0]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_following_the_discharge_profile_exports_the_power(version: str) -> None:
    station = InstalledProfiles()
    wire = discharge_profile(version, evse_id=1, transaction_id="tx-1", power_w=12000,
                             start=T0 + minutes(10), end=T0 + minutes(40), profile_id=8)
    profile = ChargingProfile.from_wire(wire, version)
    assert station.install(profile, 1, version=version, transactions={1: "tx-1"}) == []
    during = setpoint_at(station, 1, T0 + minutes(20), T0 - minutes(5), transaction_id="tx-1")
    assert during.discharging and during.power_w == -12000
    for outside in (T0 + minutes(5), T0 + minutes(40)):
        assert setpoint_at(station, 1, outside, T0, transaction_id="tx-1").power_w is None


@pytest.mark.parametrize("version", VERSIONS)
def test_charge_profile_limits_charging(version: str) -> None:
    wire = charge_profile(version, evse_id=0, transaction_id=None, power_w=0, start=T0,
                          end=None, profile_id=4, purpose="TxDefaultProfile")
    period = wire["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period["limit"] == 0
    assert period.get("operationMode") == ("ChargingOnly" if version == "2.1" else None)


def test_builders_refuse_what_the_rules_refuse() -> None:
    with pytest.raises(ProfileRuleError) as err:
        discharge_profile("2.0.1", evse_id=0, transaction_id="tx-1", power_w=5000, start=T0,
                          end=None, profile_id=1)
    assert [v.requirement for v in err.value.violations] == ["K01.FR.16"]
    with pytest.raises(ProfileRuleError, match=r"K01\.FR\.03"):
        discharge_profile("2.1", evse_id=1, transaction_id=None, power_w=5000, start=T0,
                          end=None, profile_id=1)
    with pytest.raises(ProfileRuleError, match=r"K01\.FR\.22"):
        charge_profile("2.1", evse_id=0, transaction_id=None, power_w=5000, start=T0, end=None,
                       profile_id=1, purpose="ChargingStationExternalConstraints")
    with pytest.raises(ProfileRuleError, match=r"K01\.FR\.26"):
        charge_profile("2.1", evse_id=1, transaction_id="t", power_w=5000, start=T0, end=None,
                       profile_id=1, limits=StationLimits(rate_units=frozenset({"A"})))


def test_builder_arguments_are_checked() -> None:
    kw = {"evse_id": 1, "transaction_id": "tx-1", "start": T0, "profile_id": 1}
    with pytest.raises(ValueError, match="positive"):
        discharge_profile("2.1", power_w=0, end=None, **kw)
    with pytest.raises(ValueError, match="negative"):
        charge_profile("2.1", power_w=-1, end=None, **kw)
    with pytest.raises(ValueError, match="after start"):
        discharge_profile("2.1", power_w=1, end=T0, **kw)
    with pytest.raises(ValueError, match="version"):
        discharge_profile("1.6", power_w=1, end=None, **kw)


def test_schedule_for_need_meets_the_need_by_departure() -> None:
    schedule = charging_schedule_for_need(20_000, T0 + timedelta(hours=4), 11_000, T0)
    (period,) = schedule.periods
    assert schedule.start_schedule == T0 and schedule.duration == 4 * 3600
    assert period.limit * 4 >= 20_000 and period.limit == 5500
    rushed = charging_schedule_for_need(50_000, T0 + timedelta(hours=2), 11_000, T0)
    assert rushed.periods[0].limit == 11_000
    with pytest.raises(ValueError, match="departure"):
        charging_schedule_for_need(1000, T0, 11_000, T0)
    with pytest.raises(ValueError, match="max_power_w"):
        charging_schedule_for_need(1000, T0 + minutes(5), 0, T0)


@settings(max_examples=100, deadline=None)
@given(energy=st.floats(0, 80_000), hours=st.floats(0.1, 14), max_power=st.floats(1000, 50_000))
def test_schedule_for_need_delivers_energy_or_runs_flat_out(
    energy: float, hours: float, max_power: float
) -> None:
    schedule = charging_schedule_for_need(energy, T0 + timedelta(hours=hours), max_power, T0,
                                          margin=1.0)
    limit = schedule.periods[0].limit
    assert 0 <= limit <= max_power
    delivered = limit * schedule.duration / 3600
    assert delivered >= energy - 1e-6 or limit > max_power - 0.1  # flat out, one decimal


def test_parse_charging_needs_2_1_v2x_and_answer_it() -> None:
    payload = {
        "evseId": 1, "maxScheduleTuples": 3, "timestamp": "2025-06-02T08:00:00Z",
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC_BPT", "departureTime": "2025-06-02T17:00:00Z",
            "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400,
                                     "energyAmount": 18000, "stateOfCharge": 45},
            "v2xChargingParameters": {"maxChargePower": 20000, "maxDischargePower": 20000,
                                      "evMinV2XEnergyRequest": -6000, "targetSoC": 80}}}
    get_validator("2.1").validate_request("NotifyEVChargingNeeds", payload)
    need = parse_charging_needs(payload, "2.1")
    assert (need.energy_wh, need.max_power_w, need.max_discharge_power_w) == (18000, 20000, 20000)
    assert need.energy_transfer == "DC_BPT"
    assert need.state_of_charge == 45 and need.target_soc == 80
    assert need.departure == T0 + timedelta(hours=9) and need.min_v2x_energy_wh == -6000
    wire = profile_for_need("2.1", evse_id=need.evse_id, transaction_id="tx-1",
                            energy_wh=need.energy_wh, departure=need.departure,
                            max_power_w=need.max_power_w, now=T0, profile_id=11)
    assert wire["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 2200


def test_parse_charging_needs_2_0_1_ac() -> None:
    payload = {"evseId": 2, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_single_phase",
        "acChargingParameters": {"energyAmount": 9000, "evMinCurrent": 6, "evMaxCurrent": 32,
                                 "evMaxVoltage": 240}}}
    need = parse_charging_needs(payload, "2.0.1")
    assert (need.energy_wh, need.max_power_w, need.departure) == (9000, 32 * 230.0, None)
    assert need.energy_transfer == "AC_single_phase"
    with pytest.raises(ValueError, match="requestedEnergyTransfer"):
        parse_charging_needs({"evseId": 1, "chargingNeeds": {}}, "2.0.1")


def test_k16_fr_06_schedule_without_energy_or_departure_takes_the_most_allowed() -> None:
    open_ended = charging_schedule_for_need(None, None, 11_000, T0)
    assert open_ended.duration is None and open_ended.periods[0].limit == 11_000
    until_departure = charging_schedule_for_need(None, T0 + timedelta(hours=3), 7_400, T0)
    assert until_departure.duration == 3 * 3600 and until_departure.periods[0].limit == 7_400
    no_departure = charging_schedule_for_need(20_000, None, 7_400, T0)
    assert no_departure.duration is None and no_departure.periods[0].limit == 7_400
