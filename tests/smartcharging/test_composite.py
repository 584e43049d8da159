"""Profile stacking, recurrence, composite wire form and the physical setpoint, by example."""

from __future__ import annotations

from datetime import timedelta

import pytest

from csms.ocppj import get_validator
from csms.smartcharging.composite import Electrical, composite_schedule, setpoint_at
from csms.smartcharging.fields import ProfileFormatError
from csms.smartcharging.installed import InstalledProfile
from csms.smartcharging.schedule import CompositeSchedule, differences
from tests.smartcharging.factories import T0, minutes, period, profile, tx_profile


def limit_at(entries: list[InstalledProfile], offset_min: float, **kw: object) -> float | None:
    schedule = composite_schedule(entries, 1, T0, 24 * 3600, "W", **kw)  # type: ignore[arg-type]
    value = schedule.value_at(T0 + minutes(offset_min))
    return None if value is None else value.limit


def test_recurring_daily_restarts_every_day() -> None:
    daily = profile(kind="Recurring", recurrency_kind="Daily", start=T0 - timedelta(days=3),
                    periods=(period(0, limit=3000), period(3600, limit=11000)))
    entries = [InstalledProfile(1, daily)]
    assert limit_at(entries, 30, tx_start=T0) == 3000
    assert limit_at(entries, 90, tx_start=T0) == 11000
    assert limit_at(entries, 24 * 60 - 1, tx_start=T0) == 11000
    later = composite_schedule(entries, 1, T0 + timedelta(days=1), 3600, "W", tx_start=T0)
    assert later.periods[0].limit == 3000


def test_recurring_weekly_with_duration_leaves_gaps() -> None:
    weekly = profile(kind="Recurring", recurrency_kind="Weekly", start=T0 - timedelta(days=7),
                     duration=3600, periods=(period(0, limit=2000),))
    entries = [InstalledProfile(0, weekly)]
    assert limit_at(entries, 10, tx_start=T0) == 2000
    assert limit_at(entries, 70, tx_start=T0) is None
    next_day = composite_schedule(entries, 1, T0 + timedelta(days=1), 3600, "W", tx_start=T0)
    assert next_day.periods[0].limit is None


def test_relative_profiles_follow_the_transaction_start() -> None:
    relative = profile(kind="Relative", periods=(period(0, limit=4000), period(1800, limit=8000)))
    entries = [InstalledProfile(1, relative)]
    assert limit_at(entries, 10, tx_start=T0 + minutes(30)) is None
    assert limit_at(entries, 40, tx_start=T0 + minutes(30)) == 4000
    assert limit_at(entries, 61, tx_start=T0 + minutes(30)) == 8000
    assert limit_at(entries, 40) is None  # no transaction: a TxDefaultProfile does not apply


def test_txprofile_overrides_txdefault_whatever_the_stack_level() -> None:
    entries = [InstalledProfile(0, profile(1, stack_level=9, periods=(period(0, limit=11000),))),
               InstalledProfile(1, tx_profile(2, stack_level=0, duration=1800,
                                              periods=(period(0, limit=-6000),)))]
    assert limit_at(entries, 10, tx_start=T0) == -6000
    assert limit_at(entries, 31, tx_start=T0) == 11000  # TxProfile over: the default returns


def test_higher_stack_level_gives_way_when_its_schedule_ends() -> None:
    entries = [InstalledProfile(1, tx_profile(1, stack_level=0, periods=(period(0, limit=7000),))),
               InstalledProfile(1, tx_profile(2, stack_level=3, start=T0 + minutes(60),
                                              duration=600, periods=(period(0, limit=1000),)))]
    assert [limit_at(entries, m, tx_start=T0) for m in (59, 60, 69, 70)] == [
        7000, 1000, 1000, 7000]


def test_txdefault_on_the_evse_wins_a_tie_with_evse_zero() -> None:
    entries = [InstalledProfile(0, profile(1, stack_level=2, periods=(period(0, limit=9000),))),
               InstalledProfile(1, profile(2, stack_level=2, periods=(period(0, limit=16000),)))]
    assert limit_at(entries, 5, tx_start=T0) == 16000
    higher = [InstalledProfile(0, profile(3, stack_level=3, periods=(period(0, limit=9000),))),
              entries[1]]
    assert limit_at(higher, 5, tx_start=T0) == 9000


def test_txprofiles_of_other_transactions_do_not_apply() -> None:
    entries = [InstalledProfile(1, tx_profile(1, "tx-old", periods=(period(0, limit=500),))),
               InstalledProfile(0, profile(2, periods=(period(0, limit=11000),)))]
    assert limit_at(entries, 5, tx_start=T0, transaction_id="tx-new") == 11000
    assert limit_at(entries, 5, tx_start=T0, transaction_id="tx-old") == 500


def test_validity_window_bounds_a_profile() -> None:
    capped = profile(1, purpose="ChargingStationMaxProfile", valid_from=T0 + minutes(10),
                     valid_to=T0 + minutes(20), periods=(period(0, limit=5000),))
    entries = [InstalledProfile(0, capped)]
    assert [limit_at(entries, m) for m in (9, 10, 19, 20)] == [None, 5000, 5000, None]


def test_caps_apply_without_a_transaction_and_evse_zero_shows_only_caps() -> None:
    entries = [InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile",
                                           periods=(period(0, limit=40000),))),
               InstalledProfile(0, profile(2, purpose="ChargingStationExternalConstraints",
                                           periods=(period(0, limit=30000),))),
               InstalledProfile(1, profile(3, purpose="ChargingStationExternalConstraints",
                                           periods=(period(0, limit=20000),))),
               InstalledProfile(1, tx_profile(4, periods=(period(0, limit=10000),)))]
    assert limit_at(entries, 1) == 20000
    assert limit_at(entries, 1, tx_start=T0) == 10000
    station = composite_schedule(entries, 0, T0, 600, "W", tx_start=T0)
    assert [p.limit for p in station.periods] == [30000]


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
def test_composite_wire_form_is_schema_valid(version: str) -> None:
    entries = [InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile",
                                           periods=(period(0, limit=22000),))),
               InstalledProfile(1, tx_profile(2, start=T0 + minutes(15), duration=900,
                                              periods=(period(0, limit=-7400),)))]
    schedule = composite_schedule(entries, 1, T0 + timedelta(microseconds=1500), 3600, "A",
                                  tx_start=T0, electrical=Electrical(230, 3))
    response = schedule.response(version)
    get_validator(version).validate_response("GetCompositeSchedule", response)
    assert response["schedule"] == {
        "evseId": 1, "duration": 3600, "scheduleStart": "2025-06-02T08:00:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 31.9},
                                   {"startPeriod": 900, "limit": -10.7},
                                   {"startPeriod": 1800, "limit": 31.9}]}
    assert CompositeSchedule.from_wire(response["schedule"], version).periods[1].limit == -10.7


def test_2_0_1_composite_needs_a_limit_everywhere() -> None:
    entries = [InstalledProfile(1, tx_profile(1, duration=600, periods=(period(0, limit=5000),)))]
    bare = composite_schedule(entries, 1, T0, 1200, "W", tx_start=T0)
    with pytest.raises(ProfileFormatError, match="default_limit"):
        bare.to_wire("2.0.1")
    filled = composite_schedule(entries, 1, T0, 1200, "W", tx_start=T0, default_limit=20000)
    assert [(p.start_period, p.limit) for p in filled.periods] == [(0, 5000), (600, 20000)]


def test_2_1_composite_carries_setpoint_and_discharge_limit() -> None:
    entries = [InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile",
                                           periods=(period(0, limit=20000),))),
               InstalledProfile(1, tx_profile(2, periods=(period(
                   0, operation_mode="CentralSetpoint", setpoint=-9000,
                   discharge_limit=-7000),)))]
    wire = composite_schedule(entries, 1, T0, 600, "W", tx_start=T0).to_wire("2.1")
    assert wire["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 20000, "dischargeLimit": -7000, "setpoint": -7000,
         "operationMode": "CentralSetpoint"}]
    get_validator("2.1").validate_response("GetCompositeSchedule",
                                           {"status": "Accepted", "schedule": wire})


def test_setpoint_2_0_1_negative_limit_means_discharge() -> None:
    entries = [InstalledProfile(1, tx_profile(periods=(period(0, limit=-6000),)))]
    sp = setpoint_at(entries, 1, T0 + minutes(1), T0)
    assert sp.discharging and sp.power_w == -6000 and sp.operation_mode == "ChargingOnly"
    assert sp.profile_id == 1


def test_setpoint_2_1_central_setpoint_capped_by_discharge_limit() -> None:
    entries = [InstalledProfile(1, tx_profile(periods=(period(
        0, operation_mode="CentralSetpoint", setpoint=-15000, discharge_limit=-12000),)))]
    sp = setpoint_at(entries, 1, T0 + minutes(1), T0)
    assert (sp.power_w, sp.discharge_limit_w, sp.charge_limit_w) == (-12000, -12000, None)


def test_setpoint_2_1_positive_setpoint_capped_by_station_maximum() -> None:
    entries = [InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile", unit="A",
                                           periods=(period(0, limit=10),))),
               InstalledProfile(1, tx_profile(2, periods=(period(
                   0, operation_mode="CentralSetpoint", setpoint=9000),)))]
    sp = setpoint_at(entries, 1, T0, T0, electrical=Electrical(230, 3))
    assert sp.power_w == pytest.approx(6900) and not sp.discharging


def test_setpoint_idle_and_unrestricted() -> None:
    idle = [InstalledProfile(1, tx_profile(periods=(period(0, operation_mode="Idle"),)))]
    assert setpoint_at(idle, 1, T0, T0).power_w == 0
    free = setpoint_at([], 1, T0, T0)
    assert free.power_w is None and free.profile_id is None and not free.discharging


def test_differences_between_expected_and_reported() -> None:
    entries = [InstalledProfile(1, tx_profile(duration=600, periods=(period(0, limit=-5000),)))]
    expected = composite_schedule(entries, 1, T0, 1200, "W", tx_start=T0, default_limit=20000)
    reported = CompositeSchedule.from_wire(
        {"evseId": 1, "duration": 1200, "scheduleStart": "2025-06-02T08:00:00Z",
         "chargingRateUnit": "W",
         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -4990},
                                    {"startPeriod": 300, "limit": 0}]}, "2.0.1")
    found = differences(expected, reported, tolerance=20)
    assert len(found) == 2 and found[0].startswith("2025-06-02T08:05:00Z: limit 0")
    assert differences(expected, expected) == []


def test_composite_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_unit"):
        composite_schedule([], 1, T0, 60, "kW")
    with pytest.raises(ValueError, match="duration"):
        composite_schedule([], 1, T0, 0)
    with pytest.raises(ValueError, match="timezone"):
        composite_schedule([], 1, T0.replace(tzinfo=None), 60)
