"""The convenience commands: argument handling, the requests they send, offline stations."""

from __future__ import annotations

import asyncio
import json

import pytest

from csms.ocppj import get_validator
from csms.store.stations import register_station
from tests.cli.conftest import Invoke, assert_error, assert_ok, run_cli_async, with_db
from tests.cli.node import connect_station, serve_one

COMMANDS = [
    ("Reset", ["reset", "CP-1"]),
    ("Reset", ["reset", "CP-1", "--type", "Immediate", "--evse", "1"]),
    ("GetVariables", ["get-variables", "CP-1", "OCPPCommCtrlr.HeartbeatInterval"]),
    ("SetVariables", ["set-variables", "CP-1", "OCPPCommCtrlr.HeartbeatInterval=60"]),
    ("GetBaseReport", ["get-base-report", "CP-1", "--report", "SummaryInventory"]),
    (
        "TriggerMessage",
        ["trigger", "CP-1", "StatusNotification", "--evse", "1", "--connector", "1"],
    ),
    ("ChangeAvailability", ["change-availability", "CP-1", "--inoperative", "--evse", "1"]),
    ("RequestStartTransaction", ["start-transaction", "CP-1", "--token", "04A2", "--evse", "1"]),
    ("RequestStopTransaction", ["stop-transaction", "CP-1", "TX-1"]),
    ("UnlockConnector", ["unlock", "CP-1", "--evse", "1", "--connector", "1"]),
    ("GetTransactionStatus", ["transaction-status", "CP-1"]),
    ("GetTransactionStatus", ["transaction-status", "CP-1", "TX-1"]),
]


@pytest.fixture
def offline(csms: Invoke, database_url: str) -> Invoke:
    """A registered station CP-1 that is not connected."""
    with_db(database_url, lambda db: register_station(db, "CP-1", "correct-horse-battery"))
    return csms


def test_offline_station_fails_at_once(offline: Invoke) -> None:
    for _, args in COMMANDS:
        assert_error(offline(*args), 4, "CP-1", "not connected")


def test_unknown_station(csms: Invoke) -> None:
    for _, args in COMMANDS:
        assert_error(csms(args[0], "CP-404", *args[2:]), 3, "unknown station", "CP-404")


ARGUMENT_ERRORS = [
    (["reset", "CP-1", "--type", "Sometimes"], ["--type", "type"]),
    (["reset", "CP-1", "--evse", "-1"], ["--evse"]),
    (["get-variables", "CP-1"], ["COMPONENT.VARIABLE"]),
    (["get-variables", "CP-1", "NoDot"], ["COMPONENT.VARIABLE", "NoDot"]),
    (["get-variables", "CP-1", "A.B", "--attribute-type", "Bogus"], ["--attribute-type"]),
    (["get-variables", "CP-1", ("C" * 51) + ".V"], ["COMPONENT.VARIABLE", "name"]),
    (["set-variables", "CP-1", "A.B"], ["COMPONENT.VARIABLE=VALUE"]),
    (["set-variables", "CP-1", "A.B=" + "v" * 1001], ["COMPONENT.VARIABLE=VALUE"]),
    (["get-base-report", "CP-1", "--report", "Everything"], ["--report"]),
    (["trigger", "CP-1", "Coffee"], ["MESSAGE", "requestedMessage"]),
    (["trigger", "CP-1", "Heartbeat", "--connector", "1"], ["--connector", "--evse"]),
    (["change-availability", "CP-1"], ["--operative"]),
    (["start-transaction", "CP-1"], ["--token"]),
    (["start-transaction", "CP-1", "--token", "T", "--token-type", "Magic"], ["--token-type"]),
    (["start-transaction", "CP-1", "--token", "T" * 37], ["--token"]),
    (["stop-transaction", "CP-1"], ["TX_ID"]),
    (["stop-transaction", "CP-1", "T" * 37], ["TX_ID"]),
    (["unlock", "CP-1", "--evse", "1"], ["--connector"]),
    (["unlock", "CP-1", "--evse", "x", "--connector", "1"], ["--evse"]),
    (["transaction-status", "CP-1", "T" * 37], ["TX_ID"]),
    (["reset", "CP-1", "--queue-for", "later"], ["--queue-for"]),
]


def test_argument_errors_name_the_argument(offline: Invoke) -> None:
    for args, names in ARGUMENT_ERRORS:
        assert_error(offline(*args), 2, *names)


async def _run_against_node(database_url: str, args: list[str], response: dict):  # type: ignore[no-untyped-def]
    await connect_station(database_url)
    return await asyncio.gather(
        run_cli_async(*args, "--database-url", database_url),
        serve_one(database_url, "CP-1", response=response),
    )


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_each_command_sends_a_schema_valid_request(database_url: str, version: str) -> None:
    await connect_station(database_url, subprotocol="ocpp" + version)
    for action, args in COMMANDS:
        result, command = await asyncio.gather(
            run_cli_async(*args, "--json", "--database-url", database_url),
            serve_one(database_url, "CP-1", response={"status": "Accepted"}),
        )
        assert command.action == action
        get_validator(version).validate_request(action, command.payload)
        assert json.loads(assert_ok(result).stdout)["status"] == "Accepted"


async def test_get_variables_prints_a_table(database_url: str) -> None:
    response = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
            {
                "attributeStatus": "UnknownVariable",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Nope"},
            },
        ]
    }
    result, command = await _run_against_node(
        database_url,
        ["get-variables", "CP-1", "OCPPCommCtrlr.HeartbeatInterval", "EVSE@1.Nope"],
        response,
    )
    assert command.payload["getVariableData"][1]["component"] == {"name": "EVSE", "evse": {"id": 1}}
    lines = assert_ok(result).stdout.splitlines()
    assert lines[0].split() == ["VARIABLE", "STATUS", "VALUE"]
    assert lines[1].split() == ["OCPPCommCtrlr.HeartbeatInterval", "Accepted", "300"]
    assert lines[2].split() == ["EVSE@1.Nope", "UnknownVariable"]


async def test_set_variables_sends_each_value(database_url: str) -> None:
    response = {
        "setVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
            {
                "attributeStatus": "Rejected",
                "component": {"name": "TxCtrlr"},
                "variable": {"name": "EVConnectionTimeOut"},
            },
        ]
    }
    result, command = await _run_against_node(
        database_url,
        [
            "set-variables",
            "CP-1",
            "OCPPCommCtrlr.HeartbeatInterval=60",
            "TxCtrlr.EVConnectionTimeOut=a=b",
            "--attribute-type",
            "Target",
        ],
        response,
    )
    data = command.payload["setVariableData"]
    assert [d["attributeValue"] for d in data] == ["60", "a=b"]
    assert {d["attributeType"] for d in data} == {"Target"}
    lines = assert_ok(result).stdout.splitlines()
    assert lines[2].split() == ["TxCtrlr.EVConnectionTimeOut", "Rejected"]


async def test_start_transaction_reports_its_remote_start_id(database_url: str) -> None:
    result, command = await _run_against_node(
        database_url,
        ["start-transaction", "CP-1", "--token", "04A2B3C4", "--token-type", "ISO14443", "--json"],
        {"status": "Accepted"},
    )
    out = json.loads(assert_ok(result).stdout)
    assert out["remoteStartId"] == command.payload["remoteStartId"]
    assert command.payload["idToken"] == {"idToken": "04A2B3C4", "type": "ISO14443"}


async def test_get_base_report_reports_its_request_id(database_url: str) -> None:
    result, command = await _run_against_node(
        database_url, ["get-base-report", "CP-1"], {"status": "Accepted"}
    )
    assert command.payload["reportBase"] == "FullInventory"
    out = assert_ok(result).stdout.splitlines()
    assert f"requestId: {command.payload['requestId']}" in out
    assert "status: Accepted" in out
