"""The station's profile storage: replacement, conflicts, clearing and reporting (K01/K09/K10)."""

from __future__ import annotations

import pytest

from csms.ocppj import get_validator
from csms.smartcharging.installed import InstalledProfile, InstalledProfiles
from csms.smartcharging.limits import StationLimits
from tests.smartcharging.factories import T0, minutes, period, profile, tx_profile


def store(*entries: tuple[int, object]) -> InstalledProfiles:
    installed = InstalledProfiles()
    for evse, p in entries:
        assert installed.install(p, evse, version="2.0.1") == []  # type: ignore[arg-type]
    return installed


def test_k01_fr_05_same_id_replaces() -> None:
    installed = store((1, profile(7, periods=(period(0, limit=1000),))))
    replacement = profile(7, stack_level=2, periods=(period(0, limit=2000),))
    assert installed.install(replacement, 2, version="2.0.1") == []
    assert len(installed) == 1
    assert installed.get(7) == InstalledProfile(2, replacement)


def test_k01_fr_05_external_constraints_id_cannot_be_taken_over() -> None:
    installed = InstalledProfiles()
    external = profile(9, purpose="ChargingStationExternalConstraints")
    assert installed.install(external, 0, version="2.1", sender="local", source="EMS") == []
    found = installed.install(profile(9), 0, version="2.1")
    assert [v.requirement for v in found] == ["K01.FR.05"]
    assert installed.get(9).source == "EMS"


def test_k01_fr_06_same_purpose_and_stack_level_with_overlapping_validity_rejected() -> None:
    installed = store((1, profile(1, stack_level=1)))
    found = installed.install(profile(2, stack_level=1), 1, version="2.0.1")
    assert [(v.requirement, v.reason_code) for v in found] == [("K01.FR.06", "DuplicateProfile")]
    assert installed.get(2) is None
    assert installed.install(profile(3, stack_level=1), 2, version="2.0.1") == []  # other EVSE


def test_k01_fr_06_disjoint_validity_may_share_a_stack_level() -> None:
    installed = store((1, profile(1, stack_level=1, valid_to=T0 + minutes(60))))
    later = profile(2, stack_level=1, valid_from=T0 + minutes(60))
    assert installed.install(later, 1, version="2.0.1") == []


def test_k01_fr_39_one_txprofile_per_stack_level_and_transaction() -> None:
    installed = store((1, tx_profile(1, stack_level=0)))
    found = installed.install(tx_profile(2, stack_level=0), 1, version="2.0.1")
    assert [(v.requirement, v.reason_code) for v in found] == [("K01.FR.39", "InvalidStackLevel")]
    assert installed.install(tx_profile(3, "tx-2", stack_level=0), 2, version="2.0.1") == []
    assert installed.install(tx_profile(4, stack_level=1), 1, version="2.0.1") == []


def test_k01_fr_52_and_53_txdefault_stack_levels_across_evse_zero() -> None:
    on_evse = store((1, profile(1, stack_level=2)))
    assert [v.requirement for v in on_evse.install(profile(2, stack_level=2), 0,
                                                   version="2.0.1")] == ["K01.FR.52"]
    on_zero = store((0, profile(1, stack_level=2)))
    assert [v.requirement for v in on_zero.install(profile(2, stack_level=2), 1,
                                                   version="2.0.1")] == ["K01.FR.53"]


def test_install_checks_rules_and_entries_limit() -> None:
    installed = store((1, profile(1)), (1, profile(2, stack_level=1)))
    full = StationLimits(max_entries=2)
    assert [v.requirement for v in installed.install(profile(3, stack_level=2), 1,
                                                     version="2.0.1", limits=full)] == [
        "SmartChargingCtrlr.Entries"]
    assert installed.install(profile(2, stack_level=1, periods=(period(0, limit=5),)), 1,
                             version="2.0.1", limits=full) == []  # a replacement fits
    bad = installed.install(tx_profile(5, periods=(period(30, limit=1),)), 1, version="2.0.1",
                            transactions={1: "tx-1"})
    assert [v.requirement for v in bad] == ["K01.FR.31"] and installed.get(5) is None


def test_clear_by_id_and_by_criteria_keeps_external_constraints() -> None:
    installed = InstalledProfiles([
        InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile")),
        InstalledProfile(1, profile(2, stack_level=0)),
        InstalledProfile(1, profile(3, stack_level=1)),
        InstalledProfile(2, profile(4, stack_level=1)),
        InstalledProfile(1, profile(5, purpose="ChargingStationExternalConstraints"), "EMS"),
    ])
    assert installed.clear_request({"chargingProfileId": 42}) == {"status": "Unknown"}
    assert installed.clear_request({"chargingProfileId": 4}) == {"status": "Accepted"}
    removed = installed.clear(evse_id=1, stack_level=1)
    assert [e.profile.id for e in removed] == [3]
    assert installed.clear_request({"chargingProfileCriteria": {
        "chargingProfilePurpose": "TxDefaultProfile"}}) == {"status": "Accepted"}
    assert installed.clear_request({}) == {"status": "Accepted"}
    assert [e.profile.id for e in installed] == [5]


def test_end_transaction_and_expiry_remove_profiles() -> None:
    installed = store((1, tx_profile(1)), (1, tx_profile(2, "tx-2")),
                      (1, profile(3, valid_to=T0 + minutes(5))))
    assert [e.profile.id for e in installed.end_transaction("tx-1")] == [1]
    assert [e.profile.id for e in installed.drop_expired(T0 + minutes(5))] == [3]
    assert [e.profile.id for e in installed] == [2]


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
def test_report_answers_get_charging_profiles_criteria(version: str) -> None:
    installed = InstalledProfiles([
        InstalledProfile(0, profile(1, purpose="ChargingStationMaxProfile")),
        InstalledProfile(1, tx_profile(2)),
        InstalledProfile(1, profile(3, stack_level=1)),
        InstalledProfile(1, profile(4, purpose="ChargingStationExternalConstraints"), "EMS"),
    ])
    reports = installed.report({"requestId": 5, "evseId": 1, "chargingProfile": {}}, version)
    assert [(r["evseId"], r["chargingLimitSource"], r["tbc"],
             [p["id"] for p in r["chargingProfile"]]) for r in reports] == [
        (1, "CSO", True, [2, 3]), (1, "EMS", False, [4])]
    for report in reports:
        get_validator(version).validate_request("ReportChargingProfiles", report)
    by_id = installed.report({"requestId": 6, "chargingProfile": {"chargingProfileId": [1, 3]}},
                             version)
    assert [[p["id"] for p in r["chargingProfile"]] for r in by_id] == [[1], [3]]
    assert installed.report({"requestId": 7, "chargingProfile": {
        "chargingProfilePurpose": "TxProfile", "stackLevel": 3}}, version) == []
    sources = installed.report({"requestId": 8, "chargingProfile": {
        "chargingLimitSource": ["EMS"]}}, version)
    assert [p["id"] for r in sources for p in r["chargingProfile"]] == [4]
