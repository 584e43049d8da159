"""Station-side smart charging over real sockets: profiles are checked, stored and followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.station import Station
from tests.simulators.conftest import QUICK_FE20, StationFactory, leaf_visit
from tests.simulators.minicsms import MiniCsms


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def tx_profile(tx_id: str | None, periods: list[dict[str, Any]], *, profile_id: int = 1,
               start: datetime | None = None) -> dict[str, Any]:
    start = start or datetime.now(UTC) - timedelta(seconds=1)
    profile: dict[str, Any] = {
        "id": profile_id, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 1, "startSchedule": _iso(start), "duration": 3600,
                              "chargingRateUnit": "W", "chargingSchedulePeriod": periods}]}
    if tx_id is not None:
        profile["transactionId"] = tx_id
    return profile


async def _transaction(csms: MiniCsms, station_id: str) -> str:
    events = await csms.wait_for(lambda: [
        e for e in csms.messages("TransactionEvent", station_id)
        if e["triggerReason"] == "ChargingStateChanged"])
    return str(events[0]["transactionInfo"]["transactionId"])


def _samples(csms: MiniCsms, station_id: str) -> list[dict[str, float]]:
    out = []
    for event in csms.messages("TransactionEvent", station_id):
        for meter in event.get("meterValue", []):
            values = {v["measurand"]: v["value"] for v in meter["sampledValue"]}
            if "Power.Active.Export" in values and event["triggerReason"] == "MeterValuePeriodic":
                out.append(values)
    return out


async def _exports(csms: MiniCsms, station_id: str, count: int,
                   after: int) -> list[dict[str, float]]:
    """``count`` periodic samples taken after the first ``after`` samples."""
    def ready() -> list[dict[str, float]] | None:
        samples = _samples(csms, station_id)
        return samples[after:after + count] if len(samples) >= after + count else None

    return list(await csms.wait_for(ready, timeout=20))


async def test_k01_negative_limit_2_0_1_is_followed_as_discharge(
        csms: MiniCsms, run_station: StationFactory) -> None:
    station: Station = run_station("SIM1", visit=leaf_visit(soc=0.7))
    tx_id = await _transaction(csms, "SIM1")
    answer = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(tx_id, [{"startPeriod": 0,
                                                            "limit": -10_000}])})
    assert answer["status"] == "Accepted"
    # Latency 0.3 s and a 40 kW/s ramp: settled within a second, so from the second sample on.
    before = len(_samples(csms, "SIM1"))
    samples = await _exports(csms, "SIM1", 2, before + 1)
    for sample in samples:
        assert sample["Power.Active.Export"] == pytest.approx(10_000, rel=0.02)
        assert sample["Power.Active.Import"] == 0
    # Registers and power agree: export energy grows by about 10 kW x the time between samples.
    first, last = samples[0], samples[-1]
    assert last["Energy.Active.Export.Register"] > first["Energy.Active.Export.Register"]
    assert last["SoC"] < first["SoC"]
    assert station.evse.train.battery is not None
    assert station.evse.train.battery.export_wh > 0


async def test_k01_2_1_central_setpoint_discharges_capped_by_discharge_limit(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM21", version="2.1", visit=leaf_visit(soc=0.7))
    tx_id = await _transaction(csms, "SIM21")
    period = {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -15_000,
              "dischargeLimit": -12_000}
    answer = await csms.call("SIM21", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(tx_id, [period])})
    assert answer["status"] == "Accepted"
    before = len(_samples(csms, "SIM21"))
    for sample in await _exports(csms, "SIM21", 2, before + 1):
        assert sample["Power.Active.Export"] == pytest.approx(12_000, rel=0.02)


async def test_discharge_never_goes_below_the_floor_and_the_shortfall_is_reported(
        csms: MiniCsms, run_station: StationFactory) -> None:
    # 0.05 % of 39 kWh above a 20 % floor: about 20 Wh, a few seconds at 20 kW.
    station = run_station("SIM1", visit=leaf_visit(soc=0.2005, floor=0.2))
    tx_id = await _transaction(csms, "SIM1")
    answer = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(tx_id, [{"startPeriod": 0,
                                                            "limit": -20_000}])})
    assert answer["status"] == "Accepted"
    alert = (await csms.wait_for(lambda: csms.messages("NotifyEvent", "SIM1")))[0]
    data = alert["eventData"][0]
    assert data["techCode"] == "SetpointNotMet"
    assert data["cleared"] is False
    assert data["transactionId"] == tx_id
    before = len(_samples(csms, "SIM1"))
    for sample in await _exports(csms, "SIM1", 2, before):
        assert sample["Power.Active.Export"] == 0
        assert sample["SoC"] >= 20.0
    battery = station.evse.train.battery
    assert battery is not None
    assert battery.stored_wh >= battery.floor_wh
    assert battery.export_wh == pytest.approx((0.0005 * 39_000) * 0.935, rel=0.01)
    suspended = [e for e in csms.messages("TransactionEvent", "SIM1")
                 if e["transactionInfo"].get("chargingState") == "SuspendedEV"]
    assert suspended


async def test_k01_invalid_profiles_are_rejected_with_the_rule_they_break(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM1", visit=leaf_visit(soc=0.5))
    tx_id = await _transaction(csms, "SIM1")
    no_tx = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(None, [{"startPeriod": 0, "limit": 5000}])})
    assert no_tx["status"] == "Rejected"
    assert "K01.FR.03" in no_tx["statusInfo"]["additionalInfo"]
    late_start = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(tx_id, [{"startPeriod": 10,
                                                            "limit": 5000}])})
    assert late_start["status"] == "Rejected"
    assert "K01.FR.31" in late_start["statusInfo"]["additionalInfo"]
    absolute = tx_profile(tx_id, [{"startPeriod": 0, "limit": 5000}])
    del absolute["chargingSchedule"][0]["startSchedule"]
    no_start = await csms.call("SIM1", "SetChargingProfile",
                               {"evseId": 1, "chargingProfile": absolute})
    assert no_start["status"] == "Rejected"
    assert "K01.FR.40" in no_start["statusInfo"]["additionalInfo"]
    wrong_tx = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile("other", [{"startPeriod": 0,
                                                             "limit": 5000}])})
    assert wrong_tx["status"] == "Rejected"
    assert (await csms.call("SIM1", "GetChargingProfiles", {
        "requestId": 1, "chargingProfile": {}}))["status"] == "NoProfiles"


async def test_k08_k09_k10_profiles_are_reported_composed_and_cleared(
        csms: MiniCsms, run_station: StationFactory) -> None:
    station = run_station("SIM1", visit=leaf_visit(soc=0.5))
    tx_id = await _transaction(csms, "SIM1")
    await csms.call("SIM1", "SetChargingProfile", {"evseId": 1, "chargingProfile": tx_profile(
        tx_id, [{"startPeriod": 0, "limit": -8000}, {"startPeriod": 1800, "limit": 6000}])})
    assert (await csms.call("SIM1", "GetChargingProfiles", {
        "requestId": 7, "chargingProfile": {"chargingProfilePurpose": "TxProfile"}}
    ))["status"] == "Accepted"
    report = (await csms.wait_for(lambda: csms.messages("ReportChargingProfiles")))[0]
    assert report["requestId"] == 7
    assert report["chargingProfile"][0]["transactionId"] == tx_id
    composite = await csms.call("SIM1", "GetCompositeSchedule",
                                {"evseId": 1, "duration": 3600, "chargingRateUnit": "W"})
    periods = composite["schedule"]["chargingSchedulePeriod"]
    assert composite["status"] == "Accepted"
    assert periods[0]["limit"] == -8000
    assert any(p["limit"] == 6000 for p in periods[1:])
    assert station.model.get("SmartChargingCtrlr", "Entries", instance="ChargingProfiles") == "1"
    cleared = await csms.call("SIM1", "ClearChargingProfile", {"chargingProfileId": 1})
    assert cleared["status"] == "Accepted"
    again = await csms.call("SIM1", "ClearChargingProfile", {"chargingProfileId": 1})
    assert again["status"] == "Unknown"
    assert len(station.profiles) == 0


async def test_stuck_station_accepts_but_delivers_nothing(
        csms: MiniCsms, run_station: StationFactory) -> None:
    from simulators.faults import FaultPlan
    run_station("SIM1", visit=leaf_visit(soc=0.7),
                faults=FaultPlan(since={"stuck_at_zero": 0.0}), charger=QUICK_FE20)
    tx_id = await _transaction(csms, "SIM1")
    answer = await csms.call("SIM1", "SetChargingProfile", {
        "evseId": 1, "chargingProfile": tx_profile(tx_id, [{"startPeriod": 0,
                                                            "limit": -10_000}])})
    assert answer["status"] == "Accepted"
    before = len(_samples(csms, "SIM1"))
    for sample in await _exports(csms, "SIM1", 2, before + 1):
        assert sample["Power.Active.Export"] == 0
        assert sample["Power.Active.Import"] == 0
