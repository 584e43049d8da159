"""CSMS-initiated use cases of Part 6 (B, E, F, G blocks), each sent with the `csms` command
line to a simulated station over real sockets, and what the station then reports checked in
the database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from csms.server import CentralSystem
from csms.store import devicemodel, stations, transactions
from simulators.scenario import Distribution, Scenario
from simulators.simulated_fleet import Fleet
from tests.operations.conftest import fleet_configs, run_cli, running, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
async def pair(csms: CentralSystem, database_url: str) -> AsyncIterator[dict]:
    """Station BUSY1 with a car charging in a transaction, station IDLE1 with no car."""
    busy = fleet_configs(csms, 1, "BUSY", seed=5)
    idle = fleet_configs(csms, 1, "IDLE", seed=6,
                         scenario=Scenario(arrival_s=Distribution("fixed", 86_400.0)))
    async with running(Fleet(busy + idle)):
        async def ready():
            tx = await transactions.active_transaction_ids(csms.pool, "BUSY1")
            idle_row = await stations.get_station(csms.pool, "IDLE1")
            return tx if idle_row and idle_row.connectors else None

        tx_ids = await wait_for(ready, 60)
        yield {"db": database_url, "tx": tx_ids[0], "csms": csms}


async def cli_json(db: str, *args: str) -> dict:
    code, out, err = await run_cli(*args, "--json", "--database-url", db)
    assert code == 0, err
    return json.loads(out)


async def test_tc_b_06_b_07_get_variables_single_and_multiple(pair):
    one = await cli_json(pair["db"], "get-variables", "BUSY1", "OCPPCommCtrlr.HeartbeatInterval")
    [result] = one["getVariableResult"]
    assert result["attributeStatus"] == "Accepted" and int(result["attributeValue"]) > 0
    two = await cli_json(pair["db"], "get-variables", "BUSY1", "OCPPCommCtrlr.HeartbeatInterval",
                         "SampledDataCtrlr.TxUpdatedInterval")
    assert [r["attributeStatus"] for r in two["getVariableResult"]] == ["Accepted", "Accepted"]
    stored = await devicemodel.get_variables(pair["csms"].pool, "BUSY1",
                                             component_name="OCPPCommCtrlr")
    assert any(a.variable_name == "HeartbeatInterval" for a in stored)


async def test_tc_b_09_b_10_set_variables_single_and_multiple(pair):
    one = await cli_json(pair["db"], "set-variables", "BUSY1",
                         "SampledDataCtrlr.TxUpdatedInterval=7")
    assert one["setVariableResult"][0]["attributeStatus"] == "Accepted"
    both = await cli_json(pair["db"], "set-variables", "BUSY1",
                          "SampledDataCtrlr.TxUpdatedInterval=9",
                          "OCPPCommCtrlr.HeartbeatInterval=120")
    assert {r["attributeStatus"] for r in both["setVariableResult"]} == {"Accepted"}
    check = await cli_json(pair["db"], "get-variables", "BUSY1",
                           "SampledDataCtrlr.TxUpdatedInterval")
    assert check["getVariableResult"][0]["attributeValue"] == "9"


@pytest.mark.parametrize("report", ["ConfigurationInventory", "FullInventory"])
async def test_tc_b_12_b_13_get_base_report_is_stored(pair, report: str):
    answer = await cli_json(pair["db"], "get-base-report", "BUSY1", "--report", report)
    assert answer["status"] == "Accepted"

    async def reported():
        return await devicemodel.get_variables(pair["csms"].pool, "BUSY1",
                                               component_name="SmartChargingCtrlr")

    assert await wait_for(reported, 30)


async def test_tc_b_20_reset_without_transaction_on_idle(pair):
    answer = await cli_json(pair["db"], "reset", "IDLE1", "--type", "OnIdle")
    assert answer["status"] == "Accepted"

    async def rebooted():
        row = await stations.get_station(pair["csms"].pool, "IDLE1")
        return row.boot_reason == "RemoteReset"

    await wait_for(rebooted, 30)


async def test_tc_b_21_reset_on_idle_with_transaction_is_scheduled(pair):
    answer = await cli_json(pair["db"], "reset", "BUSY1", "--type", "OnIdle")
    assert answer["status"] == "Scheduled"


async def ended_transaction(pair):
    """BUSY1's transaction once the CSMS has stored it as ended (within 30 s)."""

    async def ended():
        detail = await transactions.get_transaction(pair["csms"].pool, pair["tx"],
                                                    station_id="BUSY1")
        return detail if detail.ended_at is not None else None

    return await wait_for(ended, 30)


async def test_tc_b_22_reset_immediate_ends_the_transaction(pair):
    answer = await cli_json(pair["db"], "reset", "BUSY1", "--type", "Immediate")
    assert answer["status"] == "Accepted"
    detail = await ended_transaction(pair)
    assert detail.stopped_reason == "ImmediateReset"


async def test_tc_f_02_remote_start_is_stored_with_its_remote_start_id(pair):
    answer = await cli_json(pair["db"], "start-transaction", "IDLE1", "--token", "REMOTE-1")
    assert answer["status"] == "Accepted" and answer["transactionId"]
    tx_id = answer["transactionId"]

    async def started():
        detail = await transactions.get_transaction(pair["csms"].pool, tx_id, station_id="IDLE1")
        return detail

    detail = await wait_for(started, 30)
    assert detail.remote_start_id is not None and detail.id_token == "REMOTE-1"


async def test_tc_e_21_remote_stop_ends_the_transaction(pair):
    answer = await cli_json(pair["db"], "stop-transaction", "BUSY1", pair["tx"])
    assert answer["status"] == "Accepted"
    detail = await ended_transaction(pair)
    assert detail.stopped_reason == "Remote"


async def test_tc_f_06_unlock_connector_without_transaction(pair):
    answer = await cli_json(pair["db"], "unlock", "IDLE1", "--evse", "1", "--connector", "1")
    assert answer["status"] == "Unlocked"


async def test_tc_f_20_trigger_heartbeat(pair):
    before = (await stations.get_station(pair["csms"].pool, "BUSY1")).last_heartbeat_at
    answer = await cli_json(pair["db"], "trigger", "BUSY1", "Heartbeat")
    assert answer["status"] == "Accepted"

    async def beat():
        after = (await stations.get_station(pair["csms"].pool, "BUSY1")).last_heartbeat_at
        return after is not None and (before is None or after > before)

    await wait_for(beat, 30)


async def test_tc_g_03_g_04_change_availability_of_an_evse(pair):
    async def status_is(value: str):
        row = await stations.get_station(pair["csms"].pool, "IDLE1")
        return any(c.status == value for c in row.connectors)

    answer = await cli_json(pair["db"], "change-availability", "IDLE1", "--inoperative",
                            "--evse", "1")
    assert answer["status"] == "Accepted"
    await wait_for(lambda: status_is("Unavailable"), 30)
    answer = await cli_json(pair["db"], "change-availability", "IDLE1", "--operative",
                            "--evse", "1")
    assert answer["status"] == "Accepted"
    await wait_for(lambda: status_is("Available"), 30)


async def test_tc_e_30_e_34_transaction_status_without_queued_messages(pair):
    answer = await cli_json(pair["db"], "transaction-status", "BUSY1", pair["tx"])
    assert answer == {"messagesInQueue": False, "ongoingIndicator": True}
    answer = await cli_json(pair["db"], "transaction-status", "BUSY1")
    assert answer == {"messagesInQueue": False}
