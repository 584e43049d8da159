"""Block K, station -> CSMS: charging needs, EV schedules, external limits, reported profiles."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from csms.store import charging, reports
from tests.blocks.conftest import STATION

SCHEDULE = {"id": 1, "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -15000.0}]}


async def test_ev_charging_needs_are_stored_and_accepted(pool: asyncpg.Pool, call):
    needs = {"requestedEnergyTransfer": "DC", "departureTime": "2026-06-01T21:00:00Z",
             "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400,
                                      "energyAmount": 20000, "stateOfCharge": 62}}
    response = await call("NotifyEVChargingNeeds", {"evseId": 1, "maxScheduleTuples": 3,
                                                    "chargingNeeds": needs})
    assert response == {"status": "Accepted"}
    stored = await charging.latest_charging_needs(pool, STATION, 1)
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
    stored = await charging.latest_charging_needs(pool, STATION, 2)
    assert stored.charging_needs["v2xChargingParameters"]["maxDischargePower"] == 20000


async def test_ev_charging_schedule_is_stored_and_accepted(pool: asyncpg.Pool, call):
    response = await call("NotifyEVChargingSchedule", {
        "timeBase": "2026-06-01T16:00:00Z", "evseId": 1,
        "chargingSchedule": {**SCHEDULE, "chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}]}})
    assert response == {"status": "Accepted"}
    stored = await charging.latest_ev_charging_schedule(pool, STATION, 1)
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
    [kept] = await reports.list_notifications(pool, STATION, "NotifyPriorityCharging")
    assert kept["payload"] == {"transactionId": "TX-1", "activated": True}
