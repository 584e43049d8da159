"""Convenience commands for the CSMS-initiated calls operators use most.

Each builds a schema-valid request from plain options (see :mod:`csms.cli.payloads`) and sends
it like ``csms call`` does.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer

from csms.cli import payloads
from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, StationId
from csms.cli.calls import (
    DEFAULT_TIMEOUT,
    QueueForOption,
    Target,
    TimeoutOption,
    print_response,
    send,
)
from csms.cli.errors import STATION_COMMAND_EXITS, exit_status_help, usage
from csms.cli.output import print_json, print_table

PANEL = "Station commands"
#: OCPP integers are 32-bit signed.
MAX_INT = 2**31 - 1

EvseOption = Annotated[
    int | None,
    typer.Option("--evse", min=0, max=MAX_INT, help="EVSE id (default: the whole station)."),
]
ConnectorOption = Annotated[
    int | None, typer.Option("--connector", min=1, max=MAX_INT, help="Connector id on --evse.")
]
AttributeOption = Annotated[
    str | None,
    typer.Option(
        "--attribute-type", metavar="Actual|Target|MinSet|MaxSet", help="Variable attribute."
    ),
]


def _request_id() -> int:
    """A fresh positive 31-bit request id that links later notifications to this request."""
    return secrets.randbelow(2**31 - 2) + 1


def _connector_needs_evse(evse: int | None, connector: int | None) -> None:
    if connector is not None and evse is None:
        raise usage("--connector: needs --evse")


def register(app: typer.Typer) -> None:
    """Add the convenience commands to ``app`` under the "Station commands" help panel."""
    for name, fn in COMMANDS.items():
        app.command(name, rich_help_panel=PANEL,
                    epilog=exit_status_help(STATION_COMMAND_EXITS))(fn)


def reset(
    station_id: StationId,
    reset_type: Annotated[
        str,
        typer.Option(
            "--type", metavar="Immediate|OnIdle|ImmediateAndResume", help="When to reset."
        ),
    ] = "OnIdle",
    evse: EvseOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Reset a station, or one EVSE (Reset; ImmediateAndResume needs OCPP 2.1)."""
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.reset(reset_type, evse)
    print_response(send(target, "Reset", payload, {"type": "--type", "evseId": "--evse"}), json_out)


def get_variables(
    station_id: StationId,
    variables: Annotated[
        list[str],
        typer.Argument(
            metavar="COMPONENT.VARIABLE...",
            help=f"Variables to read, each {payloads.VARIABLE_SYNTAX}.",
        ),
    ],
    attribute_type: AttributeOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Read device-model variables (GetVariables), e.g. OCPPCommCtrlr.HeartbeatInterval."""
    refs = []
    for text in variables:
        try:
            refs.append(payloads.parse_variable(text))
        except ValueError as exc:
            raise usage(f"COMPONENT.VARIABLE: {exc}") from None
    payload = payloads.get_variables(refs, attribute_type)
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    fields = {
        "getVariableData": "COMPONENT.VARIABLE",
        "getVariableData.attributeType": "--attribute-type",
    }
    response = send(target, "GetVariables", payload, fields)
    if json_out:
        print_json(response)
        return
    rows = [
        _variable_row(r) | {"value": r.get("attributeValue")}
        for r in response.get("getVariableResult", [])
    ]
    print_table(rows, ["variable", "status", "value"], empty="(no results)")


def set_variables(
    station_id: StationId,
    assignments: Annotated[
        list[str],
        typer.Argument(
            metavar="COMPONENT.VARIABLE=VALUE...",
            help=f"Variables to write, each {payloads.VARIABLE_SYNTAX}=VALUE.",
        ),
    ],
    attribute_type: AttributeOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write device-model variables (SetVariables), e.g. OCPPCommCtrlr.HeartbeatInterval=60."""
    parsed = []
    for text in assignments:
        try:
            parsed.append(payloads.parse_assignment(text))
        except ValueError as exc:
            raise usage(f"COMPONENT.VARIABLE=VALUE: {exc}") from None
    payload = payloads.set_variables(parsed, attribute_type)
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    fields = {
        "setVariableData": "COMPONENT.VARIABLE=VALUE",
        "setVariableData.attributeType": "--attribute-type",
    }
    response = send(target, "SetVariables", payload, fields)
    if json_out:
        print_json(response)
        return
    rows = [_variable_row(r) for r in response.get("setVariableResult", [])]
    print_table(rows, ["variable", "status"], empty="(no results)")


def _variable_row(result: dict[str, Any]) -> dict[str, Any]:
    component = result.get("component", {})
    variable = result.get("variable", {})
    name = component.get("name", "?")
    if component.get("instance"):
        name += ":" + component["instance"]
    evse = component.get("evse")
    if evse:
        name += f"@{evse.get('id')}"
        if evse.get("connectorId") is not None:
            name += f":{evse['connectorId']}"
    name += "." + variable.get("name", "?")
    if variable.get("instance"):
        name += ":" + variable["instance"]
    return {"variable": name, "status": result.get("attributeStatus")}


def get_base_report(
    station_id: StationId,
    report: Annotated[
        str,
        typer.Option(
            "--report",
            metavar="FullInventory|ConfigurationInventory|SummaryInventory",
            help="Which base report to ask for.",
        ),
    ] = "FullInventory",
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask for a device-model report (GetBaseReport); it arrives as NotifyReport and is stored."""
    request_id = _request_id()
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.get_base_report(report, request_id)
    response = send(target, "GetBaseReport", payload, {"reportBase": "--report"})
    print_response({"requestId": request_id, **response}, json_out)


def trigger(
    station_id: StationId,
    message: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE", help="Message to trigger, e.g. Heartbeat, StatusNotification."
        ),
    ],
    evse: EvseOption = None,
    connector: ConnectorOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask a station to send a message now (TriggerMessage)."""
    _connector_needs_evse(evse, connector)
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.trigger_message(message, evse, connector)
    fields = {"requestedMessage": "MESSAGE", "evse": "--evse"}
    print_response(send(target, "TriggerMessage", payload, fields), json_out)


def change_availability(
    station_id: StationId,
    operative: Annotated[
        bool,
        typer.Option("--operative/--inoperative", help="Make available, or take out of service."),
    ],
    evse: EvseOption = None,
    connector: ConnectorOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set a station, EVSE or connector operative or inoperative (ChangeAvailability)."""
    _connector_needs_evse(evse, connector)
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.change_availability(operative, evse, connector)
    fields = {"evse": "--evse"}
    print_response(send(target, "ChangeAvailability", payload, fields), json_out)


def start_transaction(
    station_id: StationId,
    token: Annotated[str, typer.Option("--token", help="ID token to start the transaction for.")],
    token_type: Annotated[
        str,
        typer.Option("--token-type", help="ID token type (ISO14443, eMAID, Central, ...)."),
    ] = "Central",
    evse: EvseOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Start a transaction remotely (RequestStartTransaction)."""
    remote_start_id = _request_id()
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.request_start_transaction(token, token_type, remote_start_id, evse)
    fields = {"idToken.idToken": "--token", "idToken.type": "--token-type", "evseId": "--evse"}
    response = send(target, "RequestStartTransaction", payload, fields)
    print_response({"remoteStartId": remote_start_id, **response}, json_out)


def stop_transaction(
    station_id: StationId,
    transaction_id: Annotated[str, typer.Argument(metavar="TX_ID", help="Transaction id.")],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Stop a transaction remotely (RequestStopTransaction)."""
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.request_stop_transaction(transaction_id)
    response = send(target, "RequestStopTransaction", payload, {"transactionId": "TX_ID"})
    print_response(response, json_out)


def unlock(
    station_id: StationId,
    evse: Annotated[int, typer.Option("--evse", min=0, max=MAX_INT, help="EVSE id.")],
    connector: Annotated[
        int, typer.Option("--connector", min=1, max=MAX_INT, help="Connector id.")
    ],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Unlock a connector's cable (UnlockConnector)."""
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.unlock_connector(evse, connector)
    response = send(
        target, "UnlockConnector", payload, {"evseId": "--evse", "connectorId": "--connector"}
    )
    print_response(response, json_out)


def transaction_status(
    station_id: StationId,
    transaction_id: Annotated[
        str | None,
        typer.Argument(metavar="[TX_ID]", help="Transaction id (default: any queued messages)."),
    ] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask whether a transaction is ongoing and messages are queued (GetTransactionStatus)."""
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    payload = payloads.get_transaction_status(transaction_id)
    response = send(target, "GetTransactionStatus", payload, {"transactionId": "TX_ID"})
    print_response(response, json_out)


COMMANDS = {
    "reset": reset,
    "get-variables": get_variables,
    "set-variables": set_variables,
    "get-base-report": get_base_report,
    "trigger": trigger,
    "change-availability": change_availability,
    "start-transaction": start_transaction,
    "stop-transaction": stop_transaction,
    "unlock": unlock,
    "transaction-status": transaction_status,
}
