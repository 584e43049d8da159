"""``csms call``: validation before sending, unknown and offline stations, and each outcome."""

from __future__ import annotations

import asyncio
import json

from csms.ocppj import get_validator
from csms.store.commands import pending_commands
from csms.store.db import open_pool
from csms.store.stations import mark_connected, register_station
from tests.cli.conftest import Invoke, assert_error, assert_ok, run_cli_async, with_db
from tests.cli.node import connect_station, serve_one

PASSWORD = "correct-horse-battery"


def _offline(database_url: str, station_id: str = "CP-1", subprotocol: str | None = None) -> None:
    async def go(db):  # type: ignore[no-untyped-def]
        await register_station(db, station_id, PASSWORD)
        if subprotocol:
            # connected once with this subprotocol, held by no live node now
            await mark_connected(db, station_id, "gone-node", subprotocol, None)

    with_db(database_url, go)


def test_unknown_station(csms: Invoke) -> None:
    assert_error(csms("call", "CP-X", "Reset", "--payload", '{"type": "Immediate"}'), 3, "CP-X")


def test_offline_station_fails_at_once_and_writes_nothing(csms: Invoke, database_url: str) -> None:
    _offline(database_url)
    line = assert_error(
        csms("call", "CP-1", "Reset", "--payload", '{"type": "Immediate"}'),
        4,
        "CP-1",
        "not connected",
    )
    assert "--queue-for" in line
    assert with_db(database_url, lambda db: pending_commands(db, "CP-1")) == []


def test_payload_must_be_a_json_object(csms: Invoke, database_url: str) -> None:
    _offline(database_url)
    assert_error(csms("call", "CP-1", "Reset", "--payload", "{type: 1"), 2, "--payload", "JSON")
    assert_error(csms("call", "CP-1", "Reset", "--payload", "[1, 2]"), 2, "--payload", "object")


def test_schema_violations_name_the_field(csms: Invoke, database_url: str) -> None:
    _offline(database_url)
    assert_error(
        csms("call", "CP-1", "Reset", "--payload", '{"type": "Sometimes"}'), 2, "Reset", "type"
    )
    assert_error(csms("call", "CP-1", "Reset", "--payload", "{}"), 2, "type")
    assert_error(
        csms("call", "CP-1", "UnlockConnector", "--payload", '{"evseId": "one", "connectorId": 1}'),
        2,
        "evseId",
    )
    assert_error(
        csms(
            "call",
            "CP-1",
            "SetVariables",
            "--payload",
            json.dumps(
                {
                    "setVariableData": [
                        {"attributeValue": "1", "component": {}, "variable": {"name": "X"}}
                    ]
                }
            ),
        ),
        2,
        "setVariableData[0].component",
    )
    assert_error(csms("call", "CP-1", "Frobnicate"), 2, "ACTION", "Frobnicate", "2.0.1")
    assert_error(csms("call", "CP-1", "BatterySwap"), 2, "BatterySwap", "not an OCPP 2.0.1")
    assert with_db(database_url, lambda db: pending_commands(db, "CP-1")) == []


def test_actions_stations_send_are_refused(csms: Invoke, database_url: str) -> None:
    _offline(database_url, "CP-20", None)
    _offline(database_url, "CP-21", "ocpp2.1")
    for action in ("Heartbeat", "BootNotification", "StatusNotification", "MeterValues",
                   "TransactionEvent", "Authorize", "NotifyReport", "SignCertificate",
                   "FirmwareStatusNotification", "LogStatusNotification",
                   "SecurityEventNotification", "NotifyEvent"):
        for station in ("CP-20", "CP-21"):
            line = assert_error(csms("call", station, action), 2, "ACTION", action,
                                "sent by charging stations, not by a CSMS")
            assert "'" not in line
    # 2.1 additions that only stations send
    for action in ("BatterySwap", "NotifySettlement", "PullDynamicScheduleUpdate"):
        assert_error(csms("call", "CP-21", action), 2, action, "sent by charging stations")
    # DataTransfer goes both ways: it gets as far as the (offline) station
    assert_error(csms("call", "CP-20", "DataTransfer", "--payload", '{"vendorId": "x"}'), 4)
    for station in ("CP-20", "CP-21"):
        assert with_db(database_url, lambda db, s=station: pending_commands(db, s)) == []


def test_validation_uses_the_stations_negotiated_version(csms: Invoke, database_url: str) -> None:
    payload = '{"type": "ImmediateAndResume"}'  # a 2.1 value
    _offline(database_url, "CP-20", None)
    _offline(database_url, "CP-21", "ocpp2.1")
    assert_error(csms("call", "CP-20", "Reset", "--payload", payload), 2, "OCPP 2.0.1", "type")
    # valid for the 2.1 station: gets as far as the (offline) station
    assert_error(csms("call", "CP-21", "Reset", "--payload", payload), 4, "CP-21")


def test_bad_queue_and_timeout_options(csms: Invoke, database_url: str) -> None:
    _offline(database_url)
    base = ("call", "CP-1", "Reset", "--payload", '{"type": "Immediate"}')
    assert_error(csms(*base, "--queue-for", "soon"), 2, "--queue-for")
    assert_error(csms(*base, "--queue-for", "0s"), 2, "--queue-for")
    assert_error(csms(*base, "--timeout", "-1"), 2, "--timeout")
    assert_error(csms(*base, "--timeout", "abc"), 2, "--timeout")


async def test_queued_command_stays_queued_for_the_station(database_url: str) -> None:
    await asyncio.to_thread(_offline, database_url)
    result = await run_cli_async(
        "call",
        "CP-1",
        "Reset",
        "--payload",
        '{"type": "Immediate"}',
        "--queue-for",
        "1h",
        "--timeout",
        "0.2",
        "--database-url",
        database_url,
    )
    line = assert_error(result, 10, "CP-1", "queued", "1h")
    assert line.startswith("csms: queued:")
    pool = await open_pool(database_url)
    try:
        (command_id,) = await pending_commands(pool, "CP-1")
    finally:
        await pool.close()
    assert f"command {command_id}" in line


async def test_answer_is_printed(database_url: str) -> None:
    await connect_station(database_url)
    cli = run_cli_async(
        "call",
        "CP-1",
        "GetVariables",
        "--payload",
        '{"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},'
        ' "variable": {"name": "HeartbeatInterval"}}]}',
        "--json",
        "--database-url",
        database_url,
    )
    response = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    }
    result, command = await asyncio.gather(cli, serve_one(database_url, "CP-1", response=response))
    assert command.action == "GetVariables"
    get_validator("2.0.1").validate_request(command.action, command.payload)
    assert json.loads(assert_ok(result).stdout) == response


async def test_text_output_is_one_line_per_field(database_url: str) -> None:
    await connect_station(database_url)
    cli = run_cli_async(
        "call", "CP-1", "Reset", "--payload", '{"type": "OnIdle"}', "--database-url", database_url
    )
    result, _ = await asyncio.gather(
        cli,
        serve_one(
            database_url, "CP-1", response={"status": "Rejected", "statusInfo": {"reasonCode": "X"}}
        ),
    )
    assert assert_ok(result).stdout.splitlines() == ["status: Rejected", "statusInfo.reasonCode: X"]


async def test_callerror_is_exit_5(database_url: str) -> None:
    await connect_station(database_url)
    cli = run_cli_async(
        "call", "CP-1", "Reset", "--payload", '{"type": "OnIdle"}', "--database-url", database_url
    )
    result, _ = await asyncio.gather(
        cli,
        serve_one(
            database_url,
            "CP-1",
            status="error",
            error_code="NotSupported",
            error_description="no reset\nhere",
        ),
    )
    assert_error(result, 5, "CP-1", "CALLERROR", "NotSupported", "no reset here")


async def test_disconnect_during_the_call_is_exit_11(database_url: str) -> None:
    await connect_station(database_url)
    cli = run_cli_async(
        "call", "CP-1", "Reset", "--payload", '{"type": "OnIdle"}', "--database-url", database_url
    )
    result, _ = await asyncio.gather(
        cli,
        serve_one(database_url, "CP-1", status="disconnected",
                  error_description="the station disconnected before it answered"),
    )
    line = assert_error(result, 11, "CP-1", "disconnected before it answered Reset")
    assert "CALLERROR" not in line


async def test_no_answer_is_exit_6(database_url: str) -> None:
    await connect_station(database_url)
    cli = run_cli_async(
        "call",
        "CP-1",
        "Reset",
        "--payload",
        '{"type": "OnIdle"}',
        "--timeout",
        "0.5",
        "--database-url",
        database_url,
    )
    result, _ = await asyncio.gather(cli, serve_one(database_url, "CP-1", finish=False))
    assert_error(result, 6, "CP-1", "did not answer", "0.5")


def test_unreachable_database_is_exit_9() -> None:
    from tests.cli.conftest import run_cli

    result = run_cli("stations", "list", "--database-url", "postgresql://u:secret@127.0.0.1:1/none")
    line = assert_error(result, 9, "cannot open the database")
    assert "secret" not in line


def test_password_changes_outside_set_password_are_refused(
    csms: Invoke, database_url: str
) -> None:
    _offline(database_url)
    payload = json.dumps({"setVariableData": [{
        "attributeValue": "a-brand-new-password-1", "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"}}]})
    line = assert_error(csms("call", "CP-1", "SetVariables", "--payload", payload), 2,
                        "set-password")
    assert "a-brand-new-password-1" not in line
    assert_error(csms("set-variables", "CP-1",
                      "SecurityCtrlr.BasicAuthPassword=a-brand-new-password-1", "--queue-for",
                      "10m"), 2, "set-password")
    assert with_db(database_url, lambda db: pending_commands(db, "CP-1")) == []
