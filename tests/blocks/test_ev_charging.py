"""Block K, station -> CSMS: charging needs, EV schedules, external limits, reported profiles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from csms.operations import Operations, Status, profiles
from csms.store import charging, commands, stations
from tests.blocks.conftest import STATION, kept_notifications

SCHEDULE = {"id": 1, "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -15000.0}]}


async def test_ev_charging_needs_are_stored_and_accepted(pool: asyncpg.Pool, call):
    needs = {"requestedEnergyTransfer": "DC", "departureTime": "2026-06-01T21:00:00Z",
             "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400,
                                      "energyAmount": 20000, "stateOfCharge": 62}}
    response = await call("NotifyEVChargingNeeds", {"evseId": 1, "maxScheduleTuples": 3,
                                                    "chargingNeeds": needs})
    assert response == {"status": "Accepted"}
    [stored] = await charging.latest_charging_needs(pool, STATION)
    assert stored.evse_id == 1
    assert stored.departure_time == datetime(2026, 6, 1, 21, tzinfo=UTC)
    assert stored.requested_energy_transfer == "DC" and stored.max_schedule_tuples == 3
    assert stored.charging_needs["dcChargingParameters"]["stateOfCharge"] == 62


async def test_v2x_charging_needs_2_1(pool: asyncpg.Pool, call21):
    needs = {"requestedEnergyTransfer": "DC_BPT", "controlMode": "ScheduledControl",
             "v2xChargingParameters": {"maxChargePower": 20000, "maxDischargePower": 20000,
                                       "targetSoC": 80}}
    response = await call21("NotifyEVChargingNeeds", {"evseId": 2, "chargingNeeds": needs,
                                                      "timestamp": "2026-06-01T16:00:00Z"})
    assert response == {"status": "Accepted"}
    [stored] = await charging.latest_charging_needs(pool, STATION)
    assert stored.evse_id == 2
    assert stored.charging_needs["v2xChargingParameters"]["maxDischargePower"] == 20000


async def test_ev_charging_schedule_is_stored_and_accepted(pool: asyncpg.Pool, call):
    response = await call("NotifyEVChargingSchedule", {
        "timeBase": "2026-06-01T16:00:00Z", "evseId": 1,
        "chargingSchedule": {**SCHEDULE, "chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}]}})
    assert response == {"status": "Accepted"}
    stored = await pool.fetchrow("SELECT evse_id, charging_schedule FROM ev_charging_schedules"
                                 " WHERE station_id = $1", STATION)
    assert stored["evse_id"] == 1
    assert stored["charging_schedule"]["chargingSchedulePeriod"][0]["limit"] == 32


async def test_charging_limit_is_stored_until_cleared(pool: asyncpg.Pool, call):
    await call("NotifyChargingLimit", {"evseId": 1, "chargingLimit": {
        "chargingLimitSource": "EMS", "isGridCritical": True}, "chargingSchedule": [SCHEDULE]})
    [limit] = await charging.open_charging_limits(pool, STATION)
    assert limit["is_grid_critical"] and limit["charging_schedules"][0]["id"] == 1
    assert await call("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}) == {}
    assert await charging.open_charging_limits(pool, STATION) == []


async def test_reported_charging_profiles_are_stored(pool: asyncpg.Pool, call):
    profile = {"id": 100, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Relative", "chargingSchedule": [SCHEDULE]}
    assert await call("ReportChargingProfiles", {
        "requestId": 5, "chargingLimitSource": "CSO", "evseId": 1,
        "chargingProfile": [profile]}) == {}
    [stored] = await charging.reported_profiles(pool, STATION, 5)
    assert stored["profile"]["id"] == 100 and stored["charging_limit_source"] == "CSO"


async def test_pull_dynamic_schedule_update_is_rejected_with_a_reason(call21):
    response = await call21("PullDynamicScheduleUpdate", {"chargingProfileId": 7})
    assert response["status"] == "Rejected" and "7" in response["statusInfo"]["additionalInfo"]


async def test_priority_charging_notification_is_kept(pool: asyncpg.Pool, call21):
    await call21("NotifyPriorityCharging", {"transactionId": "TX-1", "activated": True})
    [kept] = await kept_notifications(pool, "NotifyPriorityCharging")
    assert kept["payload"] == {"transactionId": "TX-1", "activated": True}


# -- the installed-profile record --------------------------------------------------------


def _tx_profile(profile_id: int, stack_level: int = 0, tx: str = "TX-1") -> dict:
    return {"id": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "transactionId": tx,
            "chargingSchedule": [SCHEDULE]}


async def _answered(pool: asyncpg.Pool, profile: dict, status: str, response: dict | None):
    command_id = await commands.submit_command(pool, STATION, "SetChargingProfile",
                                               {"evseId": 1, "chargingProfile": profile})
    await charging.record_pending_profile(pool, command_id, STATION, 1, "2.0.1", profile)
    await commands.finish_command(pool, command_id, status, response=response)


async def _installed(pool: asyncpg.Pool, profile: dict) -> None:
    """``profile`` installed as the CSMS records it: sent, answered Accepted, settled."""
    await _answered(pool, profile, "answered", {"status": "Accepted"})
    await charging.settle_pending_profiles(pool, STATION)


async def test_only_a_profile_answered_accepted_is_recorded_installed(pool: asyncpg.Pool):
    await _answered(pool, _tx_profile(1), "answered", {"status": "Accepted"})
    await _answered(pool, _tx_profile(2, 1), "answered", {"status": "Rejected"})
    await _answered(pool, _tx_profile(3, 2), "error", None)
    unanswered = await commands.submit_command(pool, STATION, "SetChargingProfile", {})
    await charging.record_pending_profile(pool, unanswered, STATION, 1, "2.0.1", _tx_profile(4))
    believed = await profiles.believed_profiles(pool, STATION)
    assert [e.profile.id for e in believed] == [1]
    # The unanswered one stays pending and is installed when its late answer arrives.
    await commands.finish_command(pool, unanswered, "answered", response={"status": "Accepted"})
    assert [e.profile.id for e in await profiles.believed_profiles(pool, STATION)] == [1, 4]


async def test_reported_profiles_are_recorded_as_installed(pool: asyncpg.Pool, call, version):
    await _installed(pool, _tx_profile(100, 3))
    replacement = {**_tx_profile(100, 4), "chargingProfileKind": "Relative"}
    await call("ReportChargingProfiles", {"requestId": 9, "chargingLimitSource": "EMS",
                                          "evseId": 2, "chargingProfile": [replacement]})
    [row] = await charging.installed_profiles(pool, STATION)
    assert (row.profile_id, row.evse_id, row.source, row.origin) == (100, 2, "EMS", "report")
    assert row.profile["stackLevel"] == 4


async def test_open_charging_limits_count_as_external_constraints(pool: asyncpg.Pool, call):
    limited = {**SCHEDULE, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4000.0}]}
    await call("NotifyChargingLimit", {"evseId": 1, "chargingLimit": {
        "chargingLimitSource": "SO"}, "chargingSchedule": [limited]})
    [entry] = await profiles.believed_profiles(pool, STATION)
    assert entry.profile.purpose == "ChargingStationExternalConstraints" and entry.profile.id < 0
    assert (entry.evse_id, entry.source) == (1, "SO")
    await call("ClearedChargingLimit", {"chargingLimitSource": "SO"})
    assert len(await profiles.believed_profiles(pool, STATION)) == 0


async def test_tx_profiles_of_ended_transactions_are_forgotten(pool: asyncpg.Pool, call):
    event = {"eventType": "Started", "timestamp": "2026-06-01T16:00:00Z",
             "triggerReason": "CablePluggedIn", "seqNo": 0,
             "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1, "connectorId": 1}}
    await call("TransactionEvent", event)
    await _installed(pool, _tx_profile(7))
    assert await charging.active_transaction(pool, STATION, 1) == (
        "TX-1", datetime(2026, 6, 1, 16, tzinfo=UTC))
    assert len(await profiles.believed_profiles(pool, STATION)) == 1
    await call("TransactionEvent", {**event, "eventType": "Ended", "seqNo": 1,
                                    "triggerReason": "EVDeparted"})
    assert len(await profiles.believed_profiles(pool, STATION)) == 0


async def test_clearing_keeps_external_constraints(pool: asyncpg.Pool):
    external = {**_tx_profile(8), "chargingProfilePurpose": "ChargingStationExternalConstraints"}
    del external["transactionId"]
    await charging.store_reported_profiles(pool, STATION, 1, "EMS", 0, [external], False,
                                           version="2.0.1")
    await _installed(pool, _tx_profile(9))
    assert await charging.remove_installed(pool, STATION) == 1
    assert [r.profile_id for r in await charging.installed_profiles(pool, STATION)] == [8]


async def test_profile_calls_to_unknown_or_offline_stations_send_nothing(
    pool: asyncpg.Pool, migrated_url: str
):
    now = datetime.now(UTC)
    async with Operations(pool, migrated_url) as ops:
        unknown = await profiles.set_power(ops, "NOPE", 1, 5000, now, None, discharging=True)
        assert (unknown.ok, unknown.status) == (False, Status.UNKNOWN_STATION)
        never = await profiles.clear_profiles(ops, STATION)
        assert never.status is Status.OFFLINE
    assert await pool.fetchval("SELECT count(*) FROM commands") == 0


async def _need_profile(pool: asyncpg.Pool) -> dict:
    """The SetChargingProfile the CSMS queued for CS-001 (waits for the background task)."""
    for _ in range(200):
        ids = await commands.pending_commands(pool, STATION)
        if ids:
            row = await pool.fetchrow("SELECT action, payload FROM commands WHERE id = $1",
                                      ids[0])
            assert row["action"] == "SetChargingProfile"
            return row["payload"]
        await asyncio.sleep(0.02)
    raise AssertionError("no SetChargingProfile was queued")


@pytest.mark.parametrize("needs,duration", [
    ({"requestedEnergyTransfer": "DC",
      "dcChargingParameters": {"evMaxCurrent": 100, "evMaxVoltage": 400}}, None),
    ({"requestedEnergyTransfer": "DC", "departureTime": "2099-06-01T21:00:00Z",
      "dcChargingParameters": {"evMaxPower": 40000, "evMaxCurrent": 100,
                               "evMaxVoltage": 400}}, "set"),
])
async def test_k15_fr_02_need_without_departure_or_energy_still_gets_a_profile(
        pool: asyncpg.Pool, call, needs, duration):
    await commands.register_node(pool, "node-test")  # the station is connected to it
    await stations.mark_connected(pool, STATION, "node-test", "ocpp2.0.1", "127.0.0.1")
    await call("TransactionEvent", {
        "eventType": "Started", "timestamp": datetime.now(UTC).isoformat(),
        "triggerReason": "CablePluggedIn", "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
        "transactionInfo": {"transactionId": "TX-NEED", "chargingState": "EVConnected"}})
    assert await call("NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs}) == {
        "status": "Accepted"}
    request = await _need_profile(pool)
    profile = request["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == "TX-NEED"
    [schedule] = profile["chargingSchedule"]
    # the most the EV may take: 100 A x 400 V, or its stated 40 kW
    assert schedule["chargingSchedulePeriod"][0]["limit"] == 40_000
    assert ("duration" in schedule) == (duration is not None)
