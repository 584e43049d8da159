"""The CSMS's picture of a station's profiles: device-model limits, external limits as
profiles, and the comparison of belief and report."""

from __future__ import annotations

import pytest

from csms.smartcharging import InstalledProfile, InstalledProfiles
from csms.smartcharging.belief import compare_profiles, limit_profiles, limits_from_variables
from tests.smartcharging.factories import T0, minutes, period, profile, tx_profile


def test_limits_come_from_smart_charging_ctrlr_variables_only() -> None:
    limits = limits_from_variables([
        ("SmartChargingCtrlr", "RateUnit", "W", None),
        ("SmartChargingCtrlr", "PeriodsPerSchedule", "24", None),
        ("SmartChargingCtrlr", "ProfileStackLevel", "3", None),
        ("SmartChargingCtrlr", "Entries", "2", {"maxLimit": 10}),
        ("OCPPCommCtrlr", "ProfileStackLevel", "99", None),
    ])
    assert limits.rate_units == frozenset({"W"})
    assert (limits.periods_per_schedule, limits.max_stack_level, limits.max_entries) == (24, 3, 10)


def test_an_unreadable_limit_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"SmartChargingCtrlr\.ProfileStackLevel"):
        limits_from_variables([("SmartChargingCtrlr", "ProfileStackLevel", "many", None)])


def test_charging_limit_schedules_become_external_constraints_from_their_start() -> None:
    schedule = {"id": 4, "chargingRateUnit": "W", "duration": 600,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3000}]}
    [entry] = limit_profiles(12, None, "SO", [schedule, {"id": "bad"}], T0, "2.0.1")
    assert (entry.evse_id, entry.source, entry.profile.id) == (0, "SO", -49)
    assert entry.profile.purpose == "ChargingStationExternalConstraints"
    assert entry.profile.schedule.start_schedule == T0


def test_comparison_names_missing_unexpected_moved_and_changed_profiles() -> None:
    same = tx_profile(1)
    believed = InstalledProfiles([
        InstalledProfile(1, same), InstalledProfile(1, profile(2)),
        InstalledProfile(1, profile(3)), InstalledProfile(1, profile(4, stack_level=1)),
        InstalledProfile(0, profile(-5, purpose="ChargingStationExternalConstraints"), "SO"),
    ])
    reported = InstalledProfiles([
        InstalledProfile(1, same), InstalledProfile(2, profile(3)),
        InstalledProfile(1, profile(4, stack_level=2)), InstalledProfile(1, profile(6)),
    ])
    found = {d.profile_id: d.problem for d in compare_profiles(believed, reported)}
    assert found == {2: "believed installed, not reported",
                     3: "reported on EVSE 2, believed on EVSE 1",
                     4: "reported content differs",
                     6: "reported, not believed installed"}


def test_identical_belief_and_report_agree() -> None:
    entries = [InstalledProfile(1, tx_profile(1, periods=(period(0, limit=-5000),),
                                              duration=int(minutes(30).total_seconds())))]
    assert compare_profiles(InstalledProfiles(entries), InstalledProfiles(entries)) == []
