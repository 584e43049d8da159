"""The convenience commands build requests that the official schemas accept."""

from __future__ import annotations

import pytest

from csms.cli import payloads
from csms.ocppj import OCPPError, get_validator

VERSIONS = ["2.0.1", "2.1"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("Reset", payloads.reset("Immediate")),
        ("Reset", payloads.reset("OnIdle", evse=2)),
        (
            "GetVariables",
            payloads.get_variables([payloads.parse_variable("OCPPCommCtrlr.HeartbeatInterval")]),
        ),
        (
            "GetVariables",
            payloads.get_variables(
                [
                    payloads.parse_variable("EVSE@1.AvailabilityState"),
                    payloads.parse_variable("Connector@1:2.AvailabilityState"),
                    payloads.parse_variable("TxCtrlr:main.EVConnectionTimeOut:x"),
                ],
                attribute_type="Target",
            ),
        ),
        (
            "SetVariables",
            payloads.set_variables(
                [payloads.parse_assignment("OCPPCommCtrlr.HeartbeatInterval=60")], "Actual"
            ),
        ),
        ("GetBaseReport", payloads.get_base_report("FullInventory", 7)),
        ("TriggerMessage", payloads.trigger_message("Heartbeat")),
        ("TriggerMessage", payloads.trigger_message("StatusNotification", evse=1, connector=1)),
        ("ChangeAvailability", payloads.change_availability(True)),
        ("ChangeAvailability", payloads.change_availability(False, evse=1, connector=1)),
        ("RequestStartTransaction", payloads.request_start_transaction("04A2", "ISO14443", 9)),
        ("RequestStartTransaction", payloads.request_start_transaction("X", "Central", 1, evse=1)),
        ("RequestStopTransaction", payloads.request_stop_transaction("TX-1")),
        ("UnlockConnector", payloads.unlock_connector(1, 1)),
        ("GetTransactionStatus", payloads.get_transaction_status()),
        ("GetTransactionStatus", payloads.get_transaction_status("TX-1")),
    ],
)
def test_payloads_are_schema_valid(version: str, action: str, payload: dict) -> None:
    get_validator(version).validate_request(action, payload)


def test_absent_options_are_omitted_not_null() -> None:
    assert payloads.reset("Immediate") == {"type": "Immediate"}
    assert payloads.trigger_message("Heartbeat") == {"requestedMessage": "Heartbeat"}
    assert payloads.change_availability(False) == {"operationalStatus": "Inoperative"}
    assert payloads.get_transaction_status() == {}


def test_variable_syntax() -> None:
    ref = payloads.parse_variable("Connector:left@1:2.AvailabilityState:inst")
    assert ref.to_wire() == {
        "component": {"name": "Connector", "instance": "left", "evse": {"id": 1, "connectorId": 2}},
        "variable": {"name": "AvailabilityState", "instance": "inst"},
    }
    assert payloads.parse_assignment("Ctrl.Url=wss://x/y?a=b") == (
        payloads.VariableRef("Ctrl", "Url"),
        "wss://x/y?a=b",
    )


@pytest.mark.parametrize("text", ["", "NoDot", ".Var", "Comp.", "Comp@x.Var", "A.B.C"])
def test_bad_variable_names(text: str) -> None:
    with pytest.raises(ValueError, match="COMPONENT"):
        payloads.parse_variable(text)


def test_assignment_needs_a_value() -> None:
    with pytest.raises(ValueError, match="=VALUE"):
        payloads.parse_assignment("OCPPCommCtrlr.HeartbeatInterval")


def test_version_specific_values_are_left_to_the_schema() -> None:
    payload = payloads.reset("ImmediateAndResume")
    get_validator("2.1").validate_request("Reset", payload)
    with pytest.raises(OCPPError) as err:
        get_validator("2.0.1").validate_request("Reset", payload)
    assert "type" in err.value.description
