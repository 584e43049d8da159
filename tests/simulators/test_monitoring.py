"""A simulated station's monitors: setting and refusing them, base and level, the report,
and the events they fire (a real Station object, not connected)."""

from __future__ import annotations

import time

import pytest

from simulators.station import Station, StationConfig

POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}


@pytest.fixture
def station() -> Station:
    s = Station(StationConfig(station_id="MON1", url="ws://127.0.0.1:1/ocpp"))
    s.online = True  # messages go to the outbox
    return s


def sent(station: Station, action: str) -> list[dict]:
    return [o.payload for o in station.outbox if o.action == action]


async def test_set_refuses_what_it_cannot_watch(station):
    monitors = station.diagnostics.monitors
    answer = await monitors.set_monitoring({"setMonitoringData": [
        {**POWER, "type": "UpperThreshold", "value": 500, "severity": 5},
        {**POWER, "type": "UpperThreshold", "value": 900, "severity": 5},
        {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"},
         "type": "Delta", "value": 1, "severity": 5},
        {"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
         "variable": {"name": "AvailabilityState"}, "type": "UpperThreshold", "value": 1,
         "severity": 5},
        {"component": {"name": "Nope"}, "variable": {"name": "X"}, "type": "Delta",
         "value": 1, "severity": 5},
        {**POWER, "type": "Periodic", "value": 0, "severity": 5},
        {**POWER, "id": 1, "type": "Delta", "value": 5, "severity": 5},
    ]})
    statuses = [(r["status"], r.get("id")) for r in answer["setMonitoringResult"]]
    assert statuses == [("Accepted", 100), ("Duplicate", None), ("Rejected", None),
                        ("UnsupportedMonitorType", None), ("UnknownComponent", None),
                        ("Rejected", None), ("Rejected", None)]


async def test_threshold_fires_and_clears_with_the_power(station):
    monitors = station.diagnostics.monitors
    await monitors.set_monitoring({"setMonitoringData": [
        {**POWER, "type": "UpperThreshold", "value": 1000, "severity": 5}]})
    assert monitors.check(time.time()) == []
    station.evse.train.power_kw = 3.0
    [(action, payload)] = monitors.check(time.time())
    [event] = payload["eventData"]
    assert (action, event["trigger"], event["cleared"], event["actualValue"]) == (
        "NotifyEvent", "Alerting", False, "3000")
    assert event["variableMonitoringId"] == 100
    assert station.model.get("EVSE", "Power", evse=1) == "3000"
    assert monitors.check(time.time()) == []  # still above: no new event
    station.evse.train.power_kw = 0.0
    [(_, payload)] = monitors.check(time.time())
    assert payload["eventData"][0]["cleared"] is True


async def test_level_and_base(station):
    monitors = station.diagnostics.monitors
    await monitors.set_monitoring({"setMonitoringData": [
        {**POWER, "type": "UpperThreshold", "value": 1000, "severity": 7}]})
    assert (await monitors.set_level({"severity": 4}))["status"] == "Accepted"
    station.evse.train.power_kw = 3.0
    assert monitors.check(time.time()) == []  # severity 7 is not reported at level 4
    assert station.model.get("MonitoringCtrlr", "ActiveMonitoringLevel") == "4"
    await monitors.set_base({"monitoringBase": "HardWiredOnly"})
    assert sorted(monitors.monitors) == [1, 2]
    assert [m.id for m in monitors.monitors.values() if monitors.active(m)] == [1]


async def test_report_parts_and_criteria(station):
    monitors = station.diagnostics.monitors
    await monitors.set_monitoring({"setMonitoringData": [
        {**POWER, "type": "Periodic", "value": 60, "severity": 8}]})
    assert (await monitors.report({"requestId": 5, "monitoringCriteria": ["DeltaMonitoring"]})
            )["status"] == "EmptyResultSet"
    assert (await monitors.report({"requestId": 6}))["status"] == "Accepted"
    [part] = sent(station, "NotifyMonitoringReport")
    assert (part["requestId"], part["seqNo"], part["tbc"]) == (6, 0, False)
    ids = [m["id"] for entry in part["monitor"] for m in entry["variableMonitoring"]]
    assert ids == [1, 2, 100]


async def test_periodic_events(station):
    monitors = station.diagnostics.monitors
    await monitors.set_monitoring({"setMonitoringData": [
        {**POWER, "type": "Periodic", "value": 10, "severity": 8}]})
    now = time.time()
    assert monitors.check(now) == []
    assert monitors.check(now + 5) == []
    [(_, payload)] = monitors.check(now + 10)
    assert payload["eventData"][0]["trigger"] == "Periodic"
