"""Round trips between the profile model and the official wire form, both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.ocppj import get_validator
from csms.smartcharging.fields import ProfileFormatError, format_datetime, parse_datetime
from csms.smartcharging.model import ChargingProfile, ChargingSchedulePeriod
from tests.smartcharging.factories import period, tx_profile

numbers = st.one_of(st.integers(-100_000, 100_000),
                    st.integers(-1_000_000, 1_000_000).map(lambda x: x / 10))
non_positive = st.one_of(st.integers(-100_000, 0), st.integers(-1_000_000, 0).map(lambda x: x / 10))
timestamps = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                          timezones=st.just(UTC)).map(format_datetime)
custom = st.just({"vendorId": "org.example"})


def optional(d: dict[str, Any], **choices: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``d`` plus any subset of ``choices``."""
    return st.fixed_dictionaries(d, optional=choices)


def period_strategy(version: str) -> st.SearchStrategy[dict[str, Any]]:
    common = {"numberPhases": st.integers(1, 3), "phaseToUse": st.integers(1, 3),
              "customData": custom}
    if version == "2.0.1":
        return optional({"startPeriod": st.integers(0, 86400), "limit": numbers}, **common)
    v21 = {
        "limit": numbers, "limit_L2": numbers, "limit_L3": numbers,
        "operationMode": st.sampled_from(["ChargingOnly", "CentralSetpoint", "Idle",
                                          "ExternalLimits"]),
        "setpoint": numbers, "setpoint_L2": numbers, "setpoint_L3": numbers,
        "dischargeLimit": non_positive, "dischargeLimit_L2": non_positive,
        "dischargeLimit_L3": non_positive,
        "setpointReactive": numbers, "setpointReactive_L2": numbers, "v2xBaseline": numbers,
        "preconditioningRequest": st.booleans(), "evseSleep": st.booleans(),
        "v2xFreqWattCurve": st.just([{"frequency": 49.8, "power": -5000.0},
                                     {"frequency": 50.2, "power": 5000.0}]),
    }
    return optional({"startPeriod": st.integers(0, 86400)}, **common, **v21)


def schedule_strategy(version: str) -> st.SearchStrategy[dict[str, Any]]:
    extras: dict[str, st.SearchStrategy[Any]] = {}
    if version == "2.1":
        extras = {"useLocalTime": st.booleans(), "randomizedDelay": st.integers(0, 600),
                  "limitAtSoC": st.just({"soc": 80, "limit": 3000.0})}
    return optional(
        {"id": st.integers(0, 1000), "chargingRateUnit": st.sampled_from(["W", "A"]),
         "chargingSchedulePeriod": st.lists(period_strategy(version), min_size=1, max_size=4)},
        startSchedule=timestamps, duration=st.integers(0, 86400),
        minChargingRate=st.integers(0, 100).map(lambda x: x / 10), customData=custom, **extras)


def profile_strategy(version: str) -> st.SearchStrategy[dict[str, Any]]:
    purposes = ["ChargingStationExternalConstraints", "ChargingStationMaxProfile",
                "TxDefaultProfile", "TxProfile"]
    kinds = ["Absolute", "Recurring", "Relative"]
    extras: dict[str, st.SearchStrategy[Any]] = {}
    if version == "2.1":
        purposes += ["PriorityCharging", "LocalGeneration"]
        kinds.append("Dynamic")
        extras = {"maxOfflineDuration": st.integers(0, 3600),
                  "invalidAfterOfflineDuration": st.booleans(),
                  "dynUpdateInterval": st.integers(0, 600), "dynUpdateTime": timestamps}
    return optional(
        {"id": st.integers(-1000, 10**6), "stackLevel": st.integers(0, 20),
         "chargingProfilePurpose": st.sampled_from(purposes),
         "chargingProfileKind": st.sampled_from(kinds),
         "chargingSchedule": st.lists(schedule_strategy(version), min_size=1, max_size=3)},
        recurrencyKind=st.sampled_from(["Daily", "Weekly"]), validFrom=timestamps,
        validTo=timestamps, transactionId=st.text("abcdef0123456789-", min_size=1, max_size=36),
        customData=custom, **extras)


def assert_no_nulls(value: Any) -> None:
    assert value is not None
    if isinstance(value, dict):
        for item in value.values():
            assert_no_nulls(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_nulls(item)


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_wire_round_trip_is_exact_and_schema_valid(version: str, data: st.DataObject) -> None:
    wire = data.draw(profile_strategy(version))
    model = ChargingProfile.from_wire(wire, version)
    out = model.to_wire(version)
    assert out == wire
    assert ChargingProfile.from_wire(out, version) == model
    assert_no_nulls(out)
    get_validator(version).validate_request(
        "SetChargingProfile", {"evseId": 1, "chargingProfile": out})


def test_2_1_per_phase_names_on_the_wire() -> None:
    p = tx_profile(periods=(period(0, operation_mode="CentralSetpoint", setpoint=-3000,
                                   setpoint_l2=-3000, setpoint_l3=-3000, discharge_limit=-3600,
                                   discharge_limit_l2=-3600, discharge_limit_l3=-3600,
                                   limit=0, limit_l2=0, limit_l3=0),))
    wire = p.to_wire("2.1")["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert set(wire) == {"startPeriod", "operationMode", "setpoint", "setpoint_L2", "setpoint_L3",
                         "dischargeLimit", "dischargeLimit_L2", "dischargeLimit_L3", "limit",
                         "limit_L2", "limit_L3"}
    get_validator("2.1").validate_request(
        "SetChargingProfile", {"evseId": 1, "chargingProfile": p.to_wire("2.1")})


def test_absent_optionals_are_omitted_never_null() -> None:
    wire = tx_profile().to_wire("2.0.1")
    assert wire == {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "transactionId": "tx-1",
        "chargingSchedule": [{"id": 1, "startSchedule": "2025-06-02T08:00:00Z",
                              "chargingRateUnit": "W",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}],
    }


def test_2_0_1_cannot_carry_2_1_fields() -> None:
    p = tx_profile(periods=(period(0, limit=-5000, discharge_limit=-5000),))
    with pytest.raises(ProfileFormatError) as err:
        p.to_wire("2.0.1")
    assert err.value.field == "chargingSchedule[0].chargingSchedulePeriod[0].dischargeLimit"
    without_limit = tx_profile(periods=(ChargingSchedulePeriod(0),))
    with pytest.raises(ProfileFormatError, match=r"required in OCPP 2\.0\.1"):
        without_limit.to_wire("2.0.1")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda w: w.pop("stackLevel"), "stackLevel"),
        (lambda w: w.update(chargingProfileKind="Sometimes"), "chargingProfileKind"),
        (lambda w: w["chargingSchedule"][0].update(startSchedule="yesterday"),
         "chargingSchedule[0].startSchedule"),
        (lambda w: w["chargingSchedule"][0]["chargingSchedulePeriod"][0].update(limit=None),
         "chargingSchedule[0].chargingSchedulePeriod[0].limit"),
        (lambda w: w["chargingSchedule"][0]["chargingSchedulePeriod"][0].update(setpoint_L2=1),
         "chargingSchedule[0].chargingSchedulePeriod[0].setpoint_L2"),
        (lambda w: w["chargingSchedule"][0]["chargingSchedulePeriod"].clear(),
         "chargingSchedule[0].chargingSchedulePeriod"),
        (lambda w: w.update(chargingSchedule=[w["chargingSchedule"][0]] * 4), "chargingSchedule"),
        (lambda w: w.update(stackLevel=True), "stackLevel"),
        (lambda w: w.update(bogus=1), "bogus"),
    ],
)
def test_bad_wire_input_names_the_field(mutate: Any, field: str) -> None:
    wire = tx_profile().to_wire("2.0.1")
    mutate(wire)
    with pytest.raises(ProfileFormatError) as err:
        ChargingProfile.from_wire(wire, "2.0.1")
    assert err.value.field == field


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.6"):
        tx_profile().to_wire("1.6")


def test_timestamps_normalise_to_utc() -> None:
    parsed = parse_datetime("2025-06-02T10:00:00.250+02:00", "t")
    assert parsed == datetime(2025, 6, 2, 8, 0, 0, 250000, tzinfo=UTC)
    assert format_datetime(parsed) == "2025-06-02T08:00:00.250Z"
    assert format_datetime(parsed + timedelta(microseconds=750000)) == "2025-06-02T08:00:01Z"
