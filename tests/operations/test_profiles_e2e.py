"""Charge and discharge profiles end to end: a real CSMS node, simulated stations of both OCPP
versions over real sockets, the command path through PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.blocks.ev_charging import NEED_STACK_LEVEL
from csms.operations import Operations, Status, profiles
from csms.server import CentralSystem
from csms.smartcharging import ChargingProfile
from csms.store import charging
from tests.conftest import StartStation, until


@pytest.fixture
async def ops(csms: CentralSystem):
    """The operations client the tests send through."""
    async with Operations(csms.pool, csms.config.database_url) as client:
        yield client


async def _commands(csms: CentralSystem, station_id: str) -> list[str]:
    assert csms.pool is not None
    rows = await csms.pool.fetch("SELECT action FROM commands WHERE station_id = $1 ORDER BY id",
                                 station_id)
    return [r["action"] for r in rows]


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_discharge_is_sent_in_the_station_dialect_recorded_and_followed(
    csms: CentralSystem, start_station: StartStation, ops: Operations, version: str
) -> None:
    sim = await start_station(version=version)
    now = datetime.now(UTC)
    result = await profiles.set_power(ops, sim.id, 1, 7000, now, now + timedelta(minutes=30),
                                      discharging=True)
    assert result.ok, result
    period = result.request["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    if version == "2.0.1":
        assert period == {"startPeriod": 0, "limit": -7000}
    else:
        assert period == {"startPeriod": 0, "operationMode": "CentralSetpoint",
                          "setpoint": -7000, "dischargeLimit": -7000}
    assert result.request["chargingProfile"]["transactionId"] == sim.transaction_id
    assert result.request["chargingProfile"]["stackLevel"] == profiles.DISPATCH_STACK_LEVEL
    believed = await profiles.believed_profiles(csms.pool, sim.id)
    entry = believed.get(result.profile_id)
    assert entry is not None and entry.evse_id == 1
    assert sim.station.profiles.installed.get(result.profile_id) is not None

    async def exporting() -> bool:
        return sim.station.evse.train.power_kw < -5.0

    await until(exporting)
    comparison = await profiles.compare_composite(ops, sim.id, 1, 600)
    assert comparison.outcome.ok
    assert comparison.differences == []
    first = comparison.reported.value_at(comparison.reported.schedule_start)
    assert (first.setpoint if version == "2.1" else first.limit) == -7000


async def test_charge_replaces_the_discharge_of_the_same_stack_level(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station()
    now = datetime.now(UTC)
    first = await profiles.set_power(ops, sim.id, 1, 5000, now, None, discharging=True)
    second = await profiles.set_power(ops, sim.id, 1, 3000, now, None, discharging=False)
    assert first.ok and second.ok
    # K01.FR.39: one TxProfile per stack level and transaction, so the id is reused.
    assert second.profile_id == first.profile_id
    [entry] = (await profiles.believed_profiles(csms.pool, sim.id)).matching(
        stack_level=profiles.DISPATCH_STACK_LEVEL)
    assert entry.profile.schedule.periods[0].limit == 3000


async def test_invalid_profile_is_refused_before_sending_naming_the_rule(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station()
    start = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    profile = {"id": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
               "chargingProfileKind": "Absolute", "transactionId": sim.transaction_id,
               "chargingSchedule": [{"id": 1, "startSchedule": start, "chargingRateUnit": "W",
                                     "chargingSchedulePeriod": [{"startPeriod": 60,
                                                                 "limit": 1000}]}]}
    view = await profiles.load_view(ops, sim.id, 1)
    assert isinstance(view, profiles.StationView)
    parsed = ChargingProfile.from_wire(profile, view.version)
    result = await profiles.send_profile(ops, view, 1, parsed)
    assert (result.ok, result.status, result.request) == (False, Status.INVALID, None)
    assert "K01.FR.31" in result.reason
    sent = await csms.pool.fetch("SELECT 1 FROM commands WHERE station_id = $1"
                                 " AND payload->'chargingProfile'->>'id' = '7'", sim.id)
    assert sent == []
    assert sim.station.profiles.installed.get(7) is None
    assert (await profiles.believed_profiles(csms.pool, sim.id)).get(7) is None


async def test_discharge_without_a_transaction_is_refused(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station(plugged=False)
    now = datetime.now(UTC)
    result = await profiles.set_power(ops, sim.id, 1, 5000, now, None, discharging=True)
    assert result.status is Status.INVALID and "K01.FR.09" in result.reason
    assert await _commands(csms, sim.id) == []


async def test_a_profile_the_station_rejects_is_never_recorded(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station()
    now = datetime.now(UTC)
    # The CSMS does not know the device model (no report): the station's ProfileStackLevel 8
    # is only checked by the station.
    result = await profiles.set_power(ops, sim.id, 1, 5000, now, None,
                                stack_level=9, discharging=True)
    assert result.station_status == "Rejected" and result.request is not None
    assert "ProfileStackLevel" in result.reason
    believed = await profiles.believed_profiles(csms.pool, sim.id)
    assert believed.matching(stack_level=9) == []
    assert not any(r.profile["stackLevel"] == 9
                   for r in await charging.installed_profiles(csms.pool, sim.id))


async def test_clear_removes_from_station_and_record(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station(version="2.1")
    now = datetime.now(UTC)
    result = await profiles.set_power(ops, sim.id, 1, 5000, now, None, discharging=True)
    cleared = await profiles.clear_profiles(ops, sim.id, profile_id=result.profile_id)
    assert cleared.ok and cleared.request == {"chargingProfileId": result.profile_id}
    assert sim.station.profiles.installed.get(result.profile_id) is None
    assert (await profiles.believed_profiles(csms.pool, sim.id)).get(result.profile_id) is None
    again = await profiles.clear_profiles(ops, sim.id, profile_id=result.profile_id)
    assert again.ok and again.station_status == "Unknown"


async def test_reconciliation_adopts_what_the_station_reports(
    csms: CentralSystem, start_station: StartStation, ops: Operations
) -> None:
    sim = await start_station()

    async def need_profile_recorded() -> bool:
        # The EV's charging need gets a TxProfile of its own soon after the transaction
        # starts; the report below must not catch it between install and record.
        believed = await profiles.believed_profiles(csms.pool, sim.id)
        return bool(believed.matching(stack_level=NEED_STACK_LEVEL))

    await until(need_profile_recorded)
    now = datetime.now(UTC)
    kept = await profiles.set_power(ops, sim.id, 1, 4000, now, None, discharging=False)
    # Installed behind the CSMS's back, and one the CSMS wrongly believes installed.
    start = now.isoformat().replace("+00:00", "Z")
    assert sim.station.profiles.install(
        {"id": 55, "stackLevel": 3, "chargingProfilePurpose": "TxDefaultProfile",
         "chargingProfileKind": "Absolute",
         "chargingSchedule": [{"id": 1, "startSchedule": start, "chargingRateUnit": "W",
                               "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 9000}]}]},
        0, sim.transaction_id)
    # An earlier report (request 0) listed 66, which the station no longer holds.
    await charging.store_reported_profiles(csms.pool, sim.id, 0, "CSO", 1, [{
        "id": 66, "stackLevel": 5, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "W",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}]}]}],
        False, version="2.0.1")
    report = await profiles.station_profiles(ops, sim.id, reconcile=True)
    assert report.outcome.station_status == "Accepted" and report.reconciled
    problems = {d.profile_id: d.problem for d in report.differences}
    assert problems == {55: "reported, not believed installed",
                        66: "believed installed, not reported"}
    after = {e.profile.id for e in await profiles.believed_profiles(csms.pool, sim.id)}
    assert after == {e.profile.id for e in sim.station.profiles.installed}
    assert {kept.profile_id, 55} <= after and 66 not in after
    again = await profiles.station_profiles(ops, sim.id)
    assert again.differences == []
