"""Boot policy over a live socket: Pending and Rejected stations (TC_B_01, TC_B_02, TC_B_30,
TC_B_31)."""

from __future__ import annotations

import asyncio
import json

import pytest

from csms.operations import Status
from csms.server import CentralSystem
from csms.store import commands, stations
from tests.server.conftest import BOOT, PASSWORD, exchange, open_station

STATUS = {"timestamp": "2026-11-25T16:00:00Z", "connectorStatus": "Available", "evseId": 1,
          "connectorId": 1}


@pytest.fixture
async def pending_csms(server_config):
    server_config.boot_policy = "pending"
    system = CentralSystem(server_config)
    await system.start()
    await stations.register_station(system.pool, "CP-P", PASSWORD)
    try:
        yield system
    finally:
        await system.stop()


async def test_tc_b_01_cold_boot_accepted(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id) as ws:
        answer = await exchange(ws, [2, "b", "BootNotification", BOOT])
        assert answer[2]["status"] == "Accepted" and answer[2]["interval"] == 60
        answer = await exchange(ws, [2, "s", "StatusNotification", STATUS])
        assert answer[0] == 3


async def test_tc_b_02_and_b_30_pending_station_gets_security_error(pending_csms):
    async with await open_station(pending_csms, "CP-P") as ws:
        answer = await exchange(ws, [2, "b", "BootNotification", BOOT])
        assert answer[2]["status"] == "Pending"
        answer = await exchange(ws, [2, "s", "StatusNotification", STATUS])
        assert answer[:3] == [4, "s", "SecurityError"]
        # The connection lives on and the station may boot again.
        answer = await exchange(ws, [2, "b2", "BootNotification", BOOT])
        assert answer[0] == 3


async def test_tc_b_30_rejected_station_gets_security_error(server_config):
    server_config.boot_policy = "reject"
    system = CentralSystem(server_config)
    await system.start()
    try:
        await stations.register_station(system.pool, "CP-R", PASSWORD)
        async with await open_station(system, "CP-R") as ws:
            answer = await exchange(ws, [2, "b", "BootNotification", BOOT])
            assert answer[2]["status"] == "Rejected"
            answer = await exchange(ws, [2, "h", "Heartbeat", {}])
            assert answer[:3] == [4, "h", "SecurityError"]
        # The status survives a reconnect without a new boot.
        async with await open_station(system, "CP-R") as ws:
            answer = await exchange(ws, [2, "h2", "Heartbeat", {}])
            assert answer[:3] == [4, "h2", "SecurityError"]
    finally:
        await system.stop()


async def test_tc_b_31_pending_station_may_send_what_the_csms_triggered(
    pending_csms: CentralSystem,
):
    async with await open_station(pending_csms, "CP-P") as ws:
        await exchange(ws, [2, "b", "BootNotification", BOOT])
        command_id = await commands.submit_command(
            pending_csms.pool, "CP-P", "TriggerMessage",
            {"requestedMessage": "StatusNotification"})
        call = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert call[2] == "TriggerMessage"
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        answer = await exchange(ws, [2, "s", "StatusNotification", STATUS])
        assert answer[0] == 3
        # Anything else is still refused while pending.
        answer = await exchange(ws, [2, "h", "Heartbeat", {}])
        assert answer[:3] == [4, "h", "SecurityError"]
        result = await pending_csms.operations.wait(
            "TriggerMessage", {"requestedMessage": "StatusNotification"}, [command_id], timeout=10)
        assert result.status is Status.ACCEPTED
