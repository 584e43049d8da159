"""Block N (diagnostics) end to end: logs uploaded over HTTP to the node's endpoint, variable
monitors and their events, customer information; a live CSMS node and simulated stations over
real sockets, named after the Part 6 cases (TC_N_xx_CSMS) or, for monitoring (which Part 6
leaves without CSMS cases), after the use cases (N02 to N07)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from csms.config import ServerConfig, UploadSettings
from csms.operations import Operations, Status
from csms.operations.customer import Customer, customer_information
from csms.operations.logs import LogQuery, get_log, wait_for_upload
from csms.operations.monitoring import MonitorSpec, set_monitors
from csms.server import CentralSystem
from csms.store import diagnostics, logs, reports, tokens, transactions
from simulators.diagnostics import Diagnostics
from simulators.scenario import Distribution, Scenario
from simulators.simulated_fleet import Fleet
from tests.cli.conftest import run_cli_async
from tests.operations.conftest import fleet_configs, running, wait_for

pytestmark = pytest.mark.e2e

EVSE_POWER = ({"name": "EVSE", "evse": {"id": 1}}, {"name": "Power"})


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[dict]:
    """A node with its upload endpoint; LOG1 and LOG2 idle, BUSY1 charging."""
    system = CentralSystem(ServerConfig(
        host="127.0.0.1", port=0, database_url=database_url, auto_register=True,
        heartbeat_interval=60, call_timeout=10.0,
        uploads=UploadSettings(directory=tmp_path / "uploads", host="127.0.0.1")))
    await system.start()
    idle = fleet_configs(system, 2, "LOG", seed=3,
                         scenario=Scenario(arrival_s=Distribution("fixed", 86_400.0)))
    busy = fleet_configs(system, 1, "BUSY", seed=5)
    fleet = Fleet(idle + busy)
    try:
        async with running(fleet):
            async def ready():
                tx = await transactions.active_transaction_ids(system.pool, "BUSY1")
                online = all(s.online for s in fleet.stations)
                return online and tx
            await wait_for(ready, 60)
            yield {"db": database_url, "csms": system, "uploads": tmp_path / "uploads",
                   "stations": {s.id: s for s in fleet.stations}}
    finally:
        await system.stop()


async def cli(node: dict, *args: str) -> tuple[int, object, str]:
    result = await run_cli_async(*args, "--json", "--database-url", node["db"])
    out = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, out, result.stderr


async def log_statuses(pool, station_id: str, request_id: int) -> list[str]:
    rows = await pool.fetch("SELECT status FROM status_notifications WHERE station_id = $1"
                            " AND kind = 'log' AND request_id = $2 ORDER BY id",
                            station_id, request_id)
    return [r[0] for r in rows]


# -- N01: logs -------------------------------------------------------------------------------

async def test_tc_n_25_diagnostics_log_uploaded_and_stored(node):
    code, out, err = await cli(node, "logs", "get", "LOG1", "--wait", "--timeout", "20")
    assert code == 0, err
    assert (out["status"], out["type"], out["answer"]) == ("Uploaded", "DiagnosticsLog",
                                                           "Accepted")
    [stored] = out["files"]
    path = Path(stored["path"])
    assert path.is_relative_to(node["uploads"].resolve()) and path.name == out["filename"]
    content = await asyncio.to_thread(path.read_bytes)
    assert content.startswith(b"# DiagnosticsLog of LOG1") and b"connector=Available" in content
    assert stored["size_bytes"] == len(content)
    assert stored["sha256"] == hashlib.sha256(content).hexdigest()
    pool = node["csms"].pool
    assert await log_statuses(pool, "LOG1", out["request_id"]) == ["Uploading", "Uploaded"]
    code, listed, _ = await cli(node, "logs", "list", "--station", "LOG1")
    assert code == 0 and listed[0]["files"][0]["path"] == stored["path"]


async def test_tc_n_35_security_log_uploaded(node):
    async with Operations(node["csms"].pool, node["db"]) as ops:
        result = await get_log(ops, "LOG2", LogQuery("SecurityLog"), timeout=10)
        assert result.outcome.ok and result.location.startswith("http://127.0.0.1:")
        done = await wait_for_upload(ops.pool, "LOG2", result.request_id, 20)
    assert done.status == "Uploaded"
    text = await asyncio.to_thread(Path(done.files[0].path).read_text)
    assert text.startswith("# SecurityLog of LOG2") and " security link " in text
    assert " state " not in text  # connector and transaction lines are not security lines


async def test_tc_n_34_get_log_rejected(node):
    code, _, err = await cli(node, "logs", "get", "LOG1", "--location",
                             "sftp://logs.example.com/upload")
    assert code == 5 and "Rejected" in err and "UnsupportedProtocol" in err
    [request] = await logs.list_requests(node["csms"].pool, station_id="LOG1")
    assert (request.answer, request.status, request.files) == ("Rejected", None, ())


async def test_tc_n_36_second_request_cancels_the_first(node, monkeypatch):
    monkeypatch.setattr(Diagnostics, "prepare_s", 2.0)
    pool = node["csms"].pool
    async with Operations(pool, node["db"]) as ops:
        first = await get_log(ops, "LOG1", LogQuery(), timeout=10)
        await wait_for(lambda: log_statuses(pool, "LOG1", first.request_id), 10)
        second = await get_log(ops, "LOG1", LogQuery(), timeout=10)
        assert second.outcome.station_status == "AcceptedCanceled"
        done = await wait_for_upload(pool, "LOG1", second.request_id, 20)
    assert done.status == "Uploaded" and len(done.files) == 1
    assert await log_statuses(pool, "LOG1", first.request_id) == ["Uploading", "AcceptedCanceled"]
    [canceled] = await logs.list_requests(pool, station_id="LOG1", request_id=first.request_id)
    assert canceled.canceled_by == second.request_id and canceled.files == ()


async def test_upload_failure_for_an_unreachable_location(node):
    code, out, err = await cli(node, "logs", "get", "LOG2", "--location",
                               "http://127.0.0.1:9/nothing-listens", "--retries", "1",
                               "--retry-interval", "0", "--wait", "--timeout", "20")
    assert code == 5 and "UploadFailure" in err
    assert out["status"] == "UploadFailure"
    assert await log_statuses(node["csms"].pool, "LOG2", out["request_id"]) == [
        "Uploading", "Uploading", "UploadFailure"]


async def test_upload_endpoint_refuses_unknown_tokens(node):
    base = (await logs.endpoint_for(node["csms"].pool, "LOG1")).base_url
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"PUT /logs/not-a-token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 404")


# -- N02-N07: monitoring ----------------------------------------------------------------------

async def test_n04_n07_threshold_monitor_reports_crossings(node):
    # EVSE.Power is signed: below -1000 W means discharging more than 1 kW.
    code, out, err = await cli(node, "monitoring", "set", "BUSY1", "--component", "EVSE@1",
                               "--variable", "Power", "--type", "LowerThreshold", "--value",
                               "-1000", "--severity", "5")
    assert code == 0, err
    [result] = out["setMonitoringResult"]
    assert result["status"] == "Accepted" and result["id"] >= 100
    pool = node["csms"].pool

    async def reported(count: int):
        events = await diagnostics.events(pool, "BUSY1")
        found = [e for e in events if e.variable_monitoring_id == result["id"]]
        return found if len(found) >= count else None

    # The car discharges at 5 kW: the power crosses -1000 W (Alerting), then, paused, back.
    code, _, err = await cli(node, "profiles", "set", "BUSY1", "--evse", "1",
                             "--discharge-kw", "5")
    assert code == 0, err
    [alert] = await wait_for(lambda: reported(1), 30)
    assert (alert.trigger, alert.cleared, alert.event_notification_type) == (
        "Alerting", False, "CustomMonitor")
    assert float(alert.actual_value) < -1000 and alert.transaction_id is not None
    code, _, err = await cli(node, "profiles", "set", "BUSY1", "--evse", "1", "--charge-kw", "0")
    assert code == 0, err
    _, back = await wait_for(lambda: reported(2), 30)
    assert back.cleared is True and float(back.actual_value) >= -1000
    code, listed, _ = await cli(node, "stations", "events", "BUSY1", "--since", "-5m")
    assert code == 0 and [e["cleared"] for e in listed
                          if e["variable_monitoring_id"] == result["id"]] == [False, True]


async def test_n05_monitoring_level_filters_events(node):
    pool = node["csms"].pool
    code, out, err = await cli(node, "monitoring", "level", "BUSY1", "3")
    assert code == 0 and out["status"] == "Accepted", err
    async with Operations(pool, node["db"]) as ops:
        outcome = await set_monitors(ops, "BUSY1", [
            MonitorSpec(*EVSE_POWER, "Periodic", 1, 5),
            MonitorSpec(*EVSE_POWER, "Periodic", 1, 2)])
    quiet, loud = (r["id"] for r in outcome.response["setMonitoringResult"])

    async def loud_seen():
        events = await diagnostics.events(pool, "BUSY1")
        return [e for e in events if e.variable_monitoring_id == loud]
    assert await wait_for(loud_seen, 20)
    events = await diagnostics.events(pool, "BUSY1")
    assert not [e for e in events if e.variable_monitoring_id == quiet]


async def test_n02_n03_n06_report_base_and_clear(node):
    pool = node["csms"].pool
    async with Operations(pool, node["db"]) as ops:
        outcome = await set_monitors(ops, "LOG1", [
            MonitorSpec({"name": "TemperatureSensor"}, {"name": "Temperature"}, "Delta", 0.5,
                        6),
            MonitorSpec({"name": "TemperatureSensor"}, {"name": "Temperature"},
                        "Periodic", 60, 8)])
    ids = [r["id"] for r in outcome.response["setMonitoringResult"]]
    code, report, err = await cli(node, "monitoring", "report", "LOG1")
    assert code == 0 and report["complete"], err
    assert {m["id"] for m in report["monitors"]} == {1, 2, *ids}
    kinds = {m["id"]: m["type"] for m in report["monitors"]}
    assert kinds[1] == kinds[2] == "UpperThreshold"
    code, report, _ = await cli(node, "monitoring", "report", "LOG1", "--criterion",
                                "PeriodicMonitoring")
    assert [m["id"] for m in report["monitors"]] == [ids[1]]
    assert await reports.monitoring_report(pool, "LOG1", report["request_id"])
    code, cleared, err = await cli(node, "monitoring", "clear", "LOG1", str(ids[0]), "1", "999")
    assert code == 0, err
    assert [r["status"] for r in cleared["clearMonitoringResult"]] == [
        "Accepted", "Rejected", "NotFound"]
    code, out, err = await cli(node, "monitoring", "base", "LOG1", "HardWiredOnly")
    assert code == 0 and out["status"] == "Accepted", err
    code, report, _ = await cli(node, "monitoring", "report", "LOG1")
    assert [m["id"] for m in report["monitors"]] == [1, 2]


async def test_n04_refused_monitor_fails_the_command(node):
    code, _, err = await cli(node, "monitoring", "set", "LOG1", "--component",
                             "ChargingStation", "--variable", "Model", "--type",
                             "UpperThreshold", "--value", "1", "--severity", "5")
    assert code == 5 and "Rejected" in err
    code, _, err = await cli(node, "monitoring", "set", "LOG1", "--component", "NoSuchThing",
                             "--variable", "X", "--type", "Delta", "--value", "1",
                             "--severity", "5")
    assert code == 5 and "UnknownComponent" in err


async def test_monitor_clear_is_split_to_the_station_limit(node):
    pool = node["csms"].pool
    station = node["stations"]["LOG2"]
    station.model.set("MonitoringCtrlr", "ItemsPerMessageClearVariableMonitoring", "2")
    code, _, err = await cli(node, "get-base-report", "LOG2")  # the CSMS learns the limit
    assert code == 0, err

    async def limit_known():
        return await pool.fetchval(
            "SELECT value FROM variable_attributes WHERE station_id = 'LOG2' AND"
            " variable_name = 'ItemsPerMessageClearVariableMonitoring'") == "2"
    await wait_for(limit_known, 20)
    code, out, err = await cli(node, "monitoring", "clear", "LOG2", "500", "501", "502")
    assert code == 0, err
    assert [r["id"] for r in out["clearMonitoringResult"]] == [500, 501, 502]
    parts = await pool.fetch("SELECT payload FROM commands WHERE station_id = 'LOG2'"
                             " AND action = 'ClearVariableMonitoring' ORDER BY id")
    assert [p[0]["id"] for p in parts] == [[500, 501], [502]]


# -- N09, N10: customer information ------------------------------------------------------------

@pytest.fixture
async def customer(node) -> dict:
    """A remote-started transaction on LOG2 for the token CUST-42 (known to the CSMS)."""
    await tokens.add_token(node["csms"].pool, "CUST-42", "ISO14443")
    async with Operations(node["csms"].pool, node["db"]) as ops:
        outcome = await ops.call("LOG2", "RequestStartTransaction", {
            "idToken": {"idToken": "CUST-42", "type": "ISO14443"}, "remoteStartId": 7})
    assert outcome.ok
    diag = node["stations"]["LOG2"].diagnostics
    await wait_for(lambda: _true(("CUST-42", "ISO14443") in diag.customers), 10)
    return {**node, "tx": outcome.response["transactionId"]}


async def _true(value: bool) -> bool:
    return value


async def test_tc_n_27_get_customer_information_with_data(customer):
    code, out, err = await cli(customer, "customer-info", "LOG2", "--token", "CUST-42")
    assert code == 0, err
    assert out["status"] == "Accepted" and out["complete"] and not out["clear"]
    assert "idToken=CUST-42" in out["data"] and customer["tx"] in out["data"]
    stored = await diagnostics.customer_request(customer["csms"].pool, "LOG2",
                                                out["request_id"])
    assert stored.id_token == "CUST-42" and stored.answer == "Accepted"


async def test_tc_n_28_get_customer_information_without_data(node):
    code, out, err = await cli(node, "customer-info", "LOG1", "--token", "NOBODY")
    assert code == 0, err
    assert (out["status"], out["complete"], out["data"]) == ("Accepted", True, "")


async def test_tc_n_29_customer_information_not_accepted(node):
    async with Operations(node["csms"].pool, node["db"]) as ops:
        result = await customer_information(ops, "LOG1", Customer(id_token="X"), report=False,
                                            clear=False, timeout=10)
    assert result.outcome.status is Status.REJECTED
    assert result.request.answer == "Rejected" and result.request.parts == 0


async def test_tc_n_30_clear_and_report_with_data(customer):
    code, out, err = await cli(customer, "customer-info", "LOG2", "--token", "CUST-42",
                               "--clear", "--report")
    assert code == 0 and "idToken=CUST-42" in out["data"], err
    code, out, _ = await cli(customer, "customer-info", "LOG2", "--token", "CUST-42")
    assert out["data"] == ""


async def test_tc_n_31_clear_and_report_without_data(node):
    code, out, err = await cli(node, "customer-info", "LOG1", "--token", "NOBODY", "--clear",
                               "--report")
    assert code == 0 and (out["complete"], out["data"]) == (True, ""), err


async def test_tc_n_32_clear_without_report(customer):
    code, out, err = await cli(customer, "customer-info", "LOG2", "--token", "CUST-42",
                               "--clear")
    assert code == 0 and out["report"] is False and "data" not in out, err
    stored = await diagnostics.customer_request(customer["csms"].pool, "LOG2",
                                                out["request_id"])
    assert (stored.clear, stored.report, stored.parts) == (True, False, 0)
    assert ("CUST-42", "ISO14443") not in customer["stations"]["LOG2"].diagnostics.customers


async def test_tc_n_62_clear_and_report_by_customer_identifier(customer):
    code, out, err = await cli(customer, "customer-info", "LOG2", "--customer-id", "CUST-42",
                               "--clear", "--report")
    assert code == 0 and "idToken=CUST-42" in out["data"], err
    code, _, err = await cli(customer, "customer-info", "LOG2", "--token", "A",
                             "--customer-id", "B")
    assert code == 2 and "exactly one" in err
