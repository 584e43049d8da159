"""Per-station boot status end to end (B02, F06): a live node, a simulated station over real
sockets, and the operator's ``csms stations set-boot``.

TC_B_02_CSMS: the CSMS answers the first BootNotification with Pending, provisions the station
meanwhile, and accepts its next BootNotification once the operator has set it Accepted.
TC_B_31_CSMS: a station in Pending or Rejected is made to boot again at once by a
TriggerMessage BootNotification, and is then accepted. TC_B_30_CSMS: while Pending, anything
but a BootNotification is refused with a SecurityError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from csms.server import CentralSystem
from csms.store import devicemodel, stations
from simulators.scenario import Distribution, Scenario
from simulators.station import Station
from tests.conftest import central_system
from tests.operations.conftest import fleet_configs, run_cli, wait_for
from tests.server.conftest import BOOT, PASSWORD, exchange, open_station

pytestmark = pytest.mark.e2e

#: the car arrives a day later: nothing but the boot and the connector's status happens
IDLE = Scenario(arrival_s=Distribution("fixed", 86_400.0))
STATUS = {"timestamp": "2026-11-25T16:00:00Z", "connectorStatus": "Available", "evseId": 1,
          "connectorId": 1}


def node(database_url: str, retry_s: int) -> contextlib.AbstractAsyncContextManager[
        CentralSystem]:
    return central_system(database_url, boot_retry_interval=retry_s)


@contextlib.asynccontextmanager
async def station(system: CentralSystem, prefix: str) -> AsyncIterator[Station]:
    sim = Station(fleet_configs(system, 1, prefix, scenario=IDLE)[0])
    task = asyncio.create_task(sim.run())
    try:
        yield sim
    finally:
        sim.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def cli(db: str, *args: str) -> str:
    code, out, err = await run_cli(*args, "--database-url", db)
    assert code == 0, err
    return out


async def booted(system: CentralSystem, station_id: str, status: str):
    """Wait until the station's last BootNotification got ``status``."""
    async def check():
        detail = await stations.get_station(system.pool, station_id)
        return detail if detail is not None and detail.boot_status == status else None
    return await wait_for(check, 20)


async def test_tc_b_02_cold_boot_pending_provisioned_then_accepted(database_url: str):
    async with node(database_url, retry_s=2) as system:
        await cli(database_url, "stations", "set-boot", "--default", "Pending")
        async with station(system, "PEND") as sim:
            detail = await booted(system, "PEND1", "Pending")
            assert detail.registration_status == "Pending" and detail.boot_reason == "PowerUp"
            # While Pending the CSMS may provision the station (B02.FR.01 / B05) ...
            out = await cli(database_url, "set-variables", "PEND1",
                            "OCPPCommCtrlr.OfflineThreshold=90", "--json")
            assert '"Accepted"' in out
            assert sim.model.get("OCPPCommCtrlr", "OfflineThreshold") == "90"
            # ... and the station, told to wait 2 s, keeps booting and being told Pending,
            # sending nothing else (no connector status reaches the CSMS).
            await wait_for(lambda: _true(sim.stats.boots >= 3), 15)
            detail = await stations.get_station(system.pool, "PEND1")
            assert detail.boot_status == "Pending" and detail.connectors == []
            assert not sim.online
            out = await cli(database_url, "stations", "set-boot", "PEND1", "--status",
                            "Accepted", "--no-trigger")
            assert out.strip() == "PEND1: Accepted from its next BootNotification " \
                                  "(last boot: Pending)"
            # The next BootNotification (after the interval, not triggered) is accepted, and
            # the station then reports its connector.
            detail = await booted(system, "PEND1", "Accepted")
            assert detail.boot_reason == "PowerUp"

            async def connector_reported():
                d = await stations.get_station(system.pool, "PEND1")
                return d.connectors
            [connector] = await wait_for(connector_reported, 15)
            assert connector.status == "Available" and sim.online
            learned = await devicemodel.get_variables(system.pool, "PEND1",
                                                      component_name="OCPPCommCtrlr")
            assert any(v.variable_name == "OfflineThreshold" and v.value == "90"
                       for v in learned)


@pytest.mark.parametrize("first", ["Pending", "Rejected"])
async def test_tc_b_31_pending_or_rejected_station_triggered_to_boot(database_url: str,
                                                                      first: str):
    # The retry interval is a minute: only the trigger can make it boot again within the test.
    async with node(database_url, retry_s=60) as system:
        await cli(database_url, "stations", "set-boot", "--default", first)
        async with station(system, "TRIG") as sim:
            await booted(system, "TRIG1", first)
            boots = sim.stats.boots
            out = await cli(database_url, "stations", "set-boot", "TRIG1", "--status",
                            "Accepted")
            assert out.strip() == "TRIG1: Accepted; BootNotification triggered, the station " \
                                  "boots again now"
            detail = await booted(system, "TRIG1", "Accepted")
            assert detail.boot_reason == "Triggered" and sim.stats.boots == boots + 1
            await wait_for(lambda: _true(sim.online), 10)
            # Accepted now: a further trigger would be refused (F06.FR.17), so none is sent.
            out = await cli(database_url, "stations", "set-boot", "TRIG1", "--status",
                            "Accepted")
            assert "its last BootNotification got this status already" in out


async def _true(value: bool) -> bool:
    return value


async def test_tc_b_30_a_pending_station_may_send_only_its_boot(database_url: str):
    """B02.FR.09: while its own status keeps it Pending, what else the station sends gets a
    SecurityError; once set Accepted, its next boot is accepted and the rest goes through."""
    async with node(database_url, retry_s=60) as system:
        await stations.register_station(system.pool, "RAW1", PASSWORD)
        await cli(database_url, "stations", "set-boot", "RAW1", "--status", "Pending")
        async with await open_station(system, "RAW1") as ws:
            answer = await exchange(ws, [2, "b1", "BootNotification", BOOT])
            assert answer[2]["status"] == "Pending" and answer[2]["interval"] == 60
            answer = await exchange(ws, [2, "s1", "StatusNotification", STATUS])
            assert answer[:3] == [4, "s1", "SecurityError"]
            await cli(database_url, "stations", "set-boot", "RAW1", "--status", "Accepted",
                      "--no-trigger")
            answer = await exchange(ws, [2, "b2", "BootNotification", BOOT])
            assert answer[2]["status"] == "Accepted" and answer[2]["interval"] == 60
            answer = await exchange(ws, [2, "s2", "StatusNotification", STATUS])
            assert answer == [3, "s2", {}]
