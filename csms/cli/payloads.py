"""Request payloads of the convenience commands, built from command-line values.

Pure functions: they shape OCPP requests (camelCase wire payloads) and leave every value check
the schemas can make to the validator, so the rules of 2.0.1 and 2.1 are applied exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from csms.cli.errors import shown

# COMPONENT[:INSTANCE][@EVSE[:CONNECTOR]].VARIABLE[:INSTANCE]
_VARIABLE = re.compile(
    r"(?P<component>[^.:@=]+)(?::(?P<component_instance>[^.@=]+))?"
    r"(?:@(?P<evse>\d+)(?::(?P<connector>\d+))?)?"
    r"\.(?P<variable>[^.:=]+)(?::(?P<variable_instance>[^=]+))?"
)
VARIABLE_SYNTAX = "COMPONENT[:INSTANCE][@EVSE[:CONNECTOR]].VARIABLE[:INSTANCE]"


@dataclass(frozen=True)
class VariableRef:
    """One variable of a station's device model, as named on the command line."""

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse: int | None = None
    connector: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The ``component`` and ``variable`` fields of a Get/SetVariableData entry."""
        component: dict[str, Any] = {"name": self.component}
        if self.component_instance is not None:
            component["instance"] = self.component_instance
        if self.evse is not None:
            component["evse"] = {"id": self.evse}
            if self.connector is not None:
                component["evse"]["connectorId"] = self.connector
        variable: dict[str, Any] = {"name": self.variable}
        if self.variable_instance is not None:
            variable["instance"] = self.variable_instance
        return {"component": component, "variable": variable}


def parse_variable(text: str) -> VariableRef:
    """Read ``OCPPCommCtrlr.HeartbeatInterval``, ``EVSE@1.AvailabilityState``, ...

    Raises ``ValueError`` naming the expected syntax when ``text`` does not follow it.
    """
    m = _VARIABLE.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{shown(text)} is not {VARIABLE_SYNTAX} (example: OCPPCommCtrlr.HeartbeatInterval)"
        )
    g = m.groupdict()
    return VariableRef(
        component=g["component"],
        variable=g["variable"],
        component_instance=g["component_instance"],
        variable_instance=g["variable_instance"],
        evse=int(g["evse"]) if g["evse"] is not None else None,
        connector=int(g["connector"]) if g["connector"] is not None else None,
    )


def parse_assignment(text: str) -> tuple[VariableRef, str]:
    """Read ``COMPONENT.VARIABLE=VALUE`` (the value may itself contain ``=``)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(
            f"{shown(text)} is not {VARIABLE_SYNTAX}=VALUE"
            " (example: OCPPCommCtrlr.HeartbeatInterval=60)"
        )
    return parse_variable(name), value


def _evse(evse: int | None, connector: int | None) -> dict[str, Any] | None:
    if evse is None:
        return None
    out: dict[str, Any] = {"id": evse}
    if connector is not None:
        out["connectorId"] = connector
    return out


def _compact(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields: OCPP-J never sends ``null``."""
    return {k: v for k, v in payload.items() if v is not None}


def reset(reset_type: str, evse: int | None = None) -> dict[str, Any]:
    """ResetRequest (B11/B12)."""
    return _compact({"type": reset_type, "evseId": evse})


def get_variables(refs: list[VariableRef], attribute_type: str | None = None) -> dict[str, Any]:
    """GetVariablesRequest (B06) for each variable, with an optional attribute type."""
    data = []
    for ref in refs:
        entry = ref.to_wire()
        if attribute_type is not None:
            entry["attributeType"] = attribute_type
        data.append(entry)
    return {"getVariableData": data}


def set_variables(
    assignments: list[tuple[VariableRef, str]], attribute_type: str | None = None
) -> dict[str, Any]:
    """SetVariablesRequest (B05) setting each variable to its value."""
    data = []
    for ref, value in assignments:
        entry: dict[str, Any] = {"attributeValue": value, **ref.to_wire()}
        if attribute_type is not None:
            entry["attributeType"] = attribute_type
        data.append(entry)
    return {"setVariableData": data}


def get_base_report(report_base: str, request_id: int) -> dict[str, Any]:
    """GetBaseReportRequest (B07); the report itself arrives later as NotifyReport."""
    return {"requestId": request_id, "reportBase": report_base}


def trigger_message(
    message: str, evse: int | None = None, connector: int | None = None
) -> dict[str, Any]:
    """TriggerMessageRequest (F06)."""
    return _compact({"requestedMessage": message, "evse": _evse(evse, connector)})


def change_availability(
    operative: bool, evse: int | None = None, connector: int | None = None
) -> dict[str, Any]:
    """ChangeAvailabilityRequest (G03/G04): the whole station, one EVSE, or one connector."""
    return _compact(
        {
            "operationalStatus": "Operative" if operative else "Inoperative",
            "evse": _evse(evse, connector),
        }
    )


def request_start_transaction(
    token: str, token_type: str, remote_start_id: int, evse: int | None = None
) -> dict[str, Any]:
    """RequestStartTransactionRequest (F01/F02)."""
    return _compact(
        {
            "idToken": {"idToken": token, "type": token_type},
            "remoteStartId": remote_start_id,
            "evseId": evse,
        }
    )


def request_stop_transaction(transaction_id: str) -> dict[str, Any]:
    """RequestStopTransactionRequest (F03)."""
    return {"transactionId": transaction_id}


def unlock_connector(evse: int, connector: int) -> dict[str, Any]:
    """UnlockConnectorRequest (F05)."""
    return {"evseId": evse, "connectorId": connector}


def get_transaction_status(transaction_id: str | None = None) -> dict[str, Any]:
    """GetTransactionStatusRequest (E14): one transaction, or whether any messages are queued."""
    return _compact({"transactionId": transaction_id})
