"""OCPP 2.1 station notifications: DER control, settlement, battery swap, event streams."""

from __future__ import annotations

import asyncpg
import pytest

from tests.blocks.conftest import kept_notifications

T = "2026-06-01T16:00:00Z"


@pytest.mark.parametrize("action,payload", [
    ("NotifyDERAlarm", {"controlType": "HVMustTrip", "timestamp": T, "alarmEnded": False}),
    ("NotifyDERStartStop", {"controlId": "c-1", "started": True, "timestamp": T}),
    ("ReportDERControl", {"requestId": 4, "tbc": False}),
    ("NotifySettlement", {"pspRef": "psp-1", "status": "Settled", "settlementAmount": 12.5,
                          "settlementTime": T, "transactionId": "TX-1"}),
    ("BatterySwap", {"eventType": "BatteryIn", "requestId": 1,
                     "idToken": {"idToken": "TAG", "type": "ISO14443"},
                     "batteryData": [{"evseId": 1, "serialNumber": "B1", "soC": 80,
                                      "soH": 95}]}),
])
async def test_notification_is_kept_and_acknowledged(pool: asyncpg.Pool, call21, action,
                                                     payload):
    assert await call21(action, payload) == {}
    [kept] = await kept_notifications(pool, action)
    assert kept["payload"] == payload


async def test_periodic_event_stream_open_data_close(pool: asyncpg.Pool, call21):
    response = await call21("OpenPeriodicEventStream", {"constantStreamData": {
        "id": 3, "variableMonitoringId": 8, "params": {"interval": 5, "values": 2}}})
    assert response == {"status": "Accepted"}
    data = {"id": 3, "pending": 0, "basetime": T, "data": [{"t": 0.0, "v": "7400"}]}
    await call21("NotifyPeriodicEventStream", data)
    assert await call21("ClosePeriodicEventStream", {"id": 3}) == {}
    row = await pool.fetchrow("SELECT variable_monitoring_id, params, closed_at"
                              " FROM periodic_event_streams WHERE stream_id = 3")
    assert row["variable_monitoring_id"] == 8 and row["params"]["interval"] == 5
    assert row["closed_at"] is not None
    [kept] = await kept_notifications(pool, "NotifyPeriodicEventStream")
    assert kept["payload"]["data"] == [{"t": 0.0, "v": "7400"}]
