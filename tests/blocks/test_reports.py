"""Blocks G, L, N, P: connector status, firmware and log status, events, monitoring reports,
customer information, data transfer."""

from __future__ import annotations

import asyncpg

from csms.store import reports, stations
from tests.blocks.conftest import STATION

T = "2026-06-01T16:00:00Z"


async def test_status_notification_is_stored_per_connector(pool: asyncpg.Pool, call):
    for evse, connector, status in ((1, 1, "Available"), (1, 2, "Occupied"), (2, 1, "Faulted")):
        assert await call("StatusNotification", {
            "timestamp": T, "connectorStatus": status, "evseId": evse,
            "connectorId": connector}) == {}
    await call("StatusNotification", {"timestamp": "2026-06-01T15:00:00Z",
                                      "connectorStatus": "Unavailable", "evseId": 2,
                                      "connectorId": 1})
    detail = await stations.get_station(pool, STATION)
    assert [(c.evse_id, c.connector_id, c.status) for c in detail.connectors] == [
        (1, 1, "Available"), (1, 2, "Occupied"), (2, 1, "Faulted")]


async def test_tc_l_01_firmware_status_progress_is_stored(pool: asyncpg.Pool, call):
    for status in ("Downloading", "Downloaded", "Installing", "Installed"):
        assert await call("FirmwareStatusNotification", {"status": status, "requestId": 4}) == {}
    latest = await _latest_status(pool, "firmware")
    assert latest["status"] == "Installed" and latest["request_id"] == 4


async def test_publish_firmware_status_keeps_locations(pool: asyncpg.Pool, call):
    await call("PublishFirmwareStatusNotification", {
        "status": "Published", "location": ["http://lc/fw.bin"], "requestId": 2})
    latest = await _latest_status(pool, "publish_firmware")
    assert latest["details"] == {"location": ["http://lc/fw.bin"]}


async def test_tc_n_25_log_upload_status_is_stored(pool: asyncpg.Pool, call):
    await call("LogStatusNotification", {"status": "Uploading", "requestId": 9})
    await call("LogStatusNotification", {"status": "Uploaded", "requestId": 9})
    assert (await _latest_status(pool, "log"))["status"] == "Uploaded"


async def test_notify_event_entries_are_stored_once(pool: asyncpg.Pool, call):
    payload = {"generatedAt": T, "seqNo": 0, "tbc": False, "eventData": [{
        "eventId": 1, "timestamp": T, "trigger": "Delta", "actualValue": "Faulted",
        "techCode": "E42", "eventNotificationType": "HardWiredNotification",
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "AvailabilityState"}}]}
    assert await call("NotifyEvent", payload) == {}
    await call("NotifyEvent", payload)
    [event] = await reports.list_events(pool, STATION)
    assert (event["component_name"], event["evse_id"], event["connector_id"]) == (
        "Connector", 1, 1)
    assert (event["variable_name"], event["actual_value"], event["tech_code"]) == (
        "AvailabilityState", "Faulted", "E42")


async def test_monitoring_report_parts_are_stored_in_order(pool: asyncpg.Pool, call, version):
    monitor = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
               "variableMonitoring": [{"id": 5, "transaction": False, "value": 22000,
                                       "type": "UpperThreshold", "severity": 4}]}
    if version == "2.1":
        monitor["variableMonitoring"][0]["eventNotificationType"] = "CustomMonitor"
    for seq_no, tbc in ((1, False), (0, True)):
        assert await call("NotifyMonitoringReport", {
            "requestId": 3, "seqNo": seq_no, "tbc": tbc, "generatedAt": T,
            "monitor": [monitor]}) == {}
    stored = await reports.monitoring_report(pool, STATION, 3)
    assert len(stored) == 2 and stored[0].monitors[0]["id"] == 5 and stored[0].evse_id == 1


async def test_tc_n_27_customer_information_parts_are_joined(pool: asyncpg.Pool, call):
    for seq_no, tbc, data in ((1, False, "world"), (0, True, "hello ")):
        await call("NotifyCustomerInformation", {"data": data, "tbc": tbc, "seqNo": seq_no,
                                                 "generatedAt": T, "requestId": 12})
    assert await reports.customer_information(pool, STATION, 12) == "hello world"


async def test_tc_p_02_data_transfer_unknown_vendor(pool: asyncpg.Pool, call):
    response = await call("DataTransfer", {"vendorId": "com.example", "messageId": "ping",
                                           "data": {"n": 1}})
    assert response == {"status": "UnknownVendorId"}
    row = await pool.fetchrow("SELECT vendor_id, message_id, data, answer_status"
                              " FROM data_transfers")
    assert dict(row) == {"vendor_id": "com.example", "message_id": "ping", "data": {"n": 1},
                         "answer_status": "UnknownVendorId"}


async def _latest_status(pool: asyncpg.Pool, kind: str) -> dict:
    """The station's most recent stored status notification of ``kind``."""
    return dict(await pool.fetchrow(
        "SELECT status, request_id, details FROM status_notifications"
        " WHERE station_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1", STATION, kind))
