"""Block B: BootNotification, Heartbeat, NotifyReport."""

from __future__ import annotations

import asyncpg
import pytest

from csms.blocks import provisioning
from csms.blocks.station_context import BlockConfig, StationContext
from csms.ocppj import OCPPError
from csms.store import devicemodel, diagnostics, stations
from tests.blocks.conftest import STATION, make_call

BOOT = {
    "reason": "PowerUp",
    "chargingStation": {"model": "FE-20", "vendorName": "Fermata", "serialNumber": "SN-42",
                        "firmwareVersion": "1.2.3", "modem": {"iccid": "8901", "imsi": "3101"}},
}


async def test_tc_b_01_cold_boot_accepted(pool: asyncpg.Pool, version: str):
    call = make_call(pool, version, BlockConfig(heartbeat_interval=120))
    response = await call("BootNotification", BOOT)
    assert response["status"] == "Accepted" and response["interval"] == 120
    detail = await stations.get_station(pool, STATION)
    assert (detail.vendor_name, detail.model, detail.serial_number, detail.firmware_version) == (
        "Fermata", "FE-20", "SN-42", "1.2.3")
    assert (detail.modem_iccid, detail.modem_imsi, detail.boot_reason) == ("8901", "3101",
                                                                           "PowerUp")
    assert detail.boot_status == "Accepted" and detail.last_boot_at is not None


@pytest.mark.parametrize("policy,status", [("pending", "Pending"), ("reject", "Rejected")])
async def test_tc_b_02_cold_boot_pending_or_rejected(pool: asyncpg.Pool, policy, status):
    call = make_call(pool, "2.0.1", BlockConfig(boot_policy=policy, boot_retry_interval=15))
    response = await call("BootNotification", BOOT)
    assert response == {"currentTime": response["currentTime"], "interval": 15, "status": status}
    assert (await stations.get_station(pool, STATION)).boot_status == status


async def test_heartbeat_records_time(call):
    response = await call("Heartbeat", {})
    assert response["currentTime"].endswith("Z")


async def test_heartbeat_is_stored(pool: asyncpg.Pool):
    await make_call(pool, "2.0.1")("Heartbeat", {})
    assert (await stations.get_station(pool, STATION)).last_heartbeat_at is not None


def _report_part(seq_no: int, tbc: bool, value: str) -> dict:
    return {
        "requestId": 11, "generatedAt": "2026-06-01T16:00:00Z", "seqNo": seq_no, "tbc": tbc,
        "reportData": [{
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
            "variableAttribute": [{"type": "Actual", "value": value, "mutability": "ReadOnly"},
                                  {"type": "MaxSet", "value": "20000"}],
            "variableCharacteristics": {"unit": "W", "dataType": "decimal",
                                        "supportsMonitoring": True},
        }],
    }


async def test_tc_b_13_full_inventory_report_in_parts(pool: asyncpg.Pool, call):
    assert await call("NotifyReport", _report_part(0, True, "0")) == {}
    assert not await diagnostics.report_complete(pool, STATION, "NotifyReport", 11)
    await call("NotifyReport", _report_part(1, False, "7000"))
    await call("NotifyReport", _report_part(0, True, "0"))  # a repeated part changes nothing
    assert await diagnostics.report_complete(pool, STATION, "NotifyReport", 11)
    assert await pool.fetchval("SELECT count(*) FROM report_parts WHERE request_id = 11") == 2
    attrs = {a.attribute_type: a for a in await devicemodel.get_variables(pool, STATION)}
    assert attrs["Actual"].value == "7000" and attrs["Actual"].mutability == "ReadOnly"
    assert attrs["MaxSet"].value == "20000" and attrs["MaxSet"].evse_id == 1
    assert attrs["Actual"].characteristics["unit"] == "W"
    assert (await stations.get_station(pool, STATION)).device_model_variables == 2


async def test_bad_timestamp_is_refused_by_the_handler_too(pool: asyncpg.Pool):
    part = _report_part(0, False, "1")
    part["generatedAt"] = "2026-13-45T99:00:00Z"
    ctx = StationContext(STATION, "2.0.1", pool, BlockConfig())
    with pytest.raises(OCPPError) as err:
        await provisioning.notify_report(ctx, part)
    assert err.value.code == "PropertyConstraintViolation"
    assert "generatedAt" in err.value.description
    assert await devicemodel.get_variables(pool, STATION) == []
