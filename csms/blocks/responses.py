"""What the CSMS learns from a station's answers to its own calls.

Called by the node that sent an operator command once the station has answered, before the
command's outcome is recorded: a GetVariables or SetVariables answer updates the CSMS's copy
of the station's device model (B06, B05), so ``csms stations show`` stays current without a
full report; secret values (SecurityCtrlr.BasicAuthPassword) are never stored. An answered
SendLocalList or GetLocalListVersion updates the station's list as the CSMS believes it (D01,
D02), a ReserveNow or CancelReservation answer the reservation's state (H01, H02), a
SetDisplayMessage or ClearDisplayMessage answer the CSMS's record of the station's display
(O01-O06), and answers to certificate calls the station's certificate inventory
(:func:`csms.blocks.certificates.record_answer`). An answer that arrives after its sender
stopped waiting is recorded all the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from csms.blocks import certificates, display
from csms.blocks.payload import component_fields
from csms.ocppj.actions import SECRET_VARIABLES
from csms.store import locallist, reservations
from csms.store.db import Db
from csms.store.devicemodel import VariableAttribute, upsert_variable_attributes
from csms.store.locallist import ListEntry

SET_OK = frozenset({"Accepted", "RebootRequired"})


def _attribute(component: dict[str, Any], variable: dict[str, Any], attribute_type: str | None,
               value: str | None) -> VariableAttribute | None:
    if variable.get("name") in SECRET_VARIABLES:
        return None
    return VariableAttribute(**component_fields(component, variable),
                             attribute_type=attribute_type or "Actual", value=value)


def learned_attributes(action: str, request: dict[str, Any],
                       response: dict[str, Any]) -> list[VariableAttribute]:
    """The device-model values a GetVariables / SetVariables exchange confirms."""
    found: list[VariableAttribute | None] = []
    if action == "GetVariables":
        for result in response.get("getVariableResult", []):
            if result.get("attributeStatus") == "Accepted" and "attributeValue" in result:
                found.append(_attribute(result["component"], result["variable"],
                                        result.get("attributeType"), result["attributeValue"]))
    elif action == "SetVariables":
        asked = {
            (_key(d["component"], d["variable"], d.get("attributeType"))): d["attributeValue"]
            for d in request.get("setVariableData", [])
        }
        for result in response.get("setVariableResult", []):
            key = _key(result["component"], result["variable"], result.get("attributeType"))
            if result.get("attributeStatus") in SET_OK and key in asked:
                found.append(_attribute(result["component"], result["variable"],
                                        result.get("attributeType"), asked[key]))
    return [a for a in found if a is not None]


def _key(component: dict[str, Any], variable: dict[str, Any], attribute_type: str | None) -> str:
    evse = component.get("evse") or {}
    return "|".join(str(x) for x in (
        component.get("name"), component.get("instance"), evse.get("id"),
        evse.get("connectorId"), variable.get("name"), variable.get("instance"),
        attribute_type or "Actual"))


def _reason(response: dict[str, Any]) -> str | None:
    info = response.get("statusInfo") or {}
    return ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info) or None


async def _local_list_sent(db: Db, station_id: str, request: dict[str, Any],
                           response: dict[str, Any]) -> None:
    entries = [ListEntry(item["idToken"]["idToken"], item["idToken"]["type"],
                         item.get("idTokenInfo"))
               for item in request.get("localAuthorizationList", [])]
    await locallist.record_answer(db, station_id, request["updateType"],
                                  request["versionNumber"], entries, response["status"],
                                  _reason(response))


async def _local_list_version(db: Db, station_id: str, request: dict[str, Any],
                              response: dict[str, Any]) -> None:
    await locallist.record_reported_version(db, station_id, response["versionNumber"])


async def _reserved(db: Db, station_id: str, request: dict[str, Any],
                    response: dict[str, Any]) -> None:
    await reservations.record_answer(db, station_id, request["id"], response["status"],
                                     _reason(response))


async def _cancelled(db: Db, station_id: str, request: dict[str, Any],
                     response: dict[str, Any]) -> None:
    await reservations.record_cancel(db, station_id, request["reservationId"],
                                     response["status"] == "Accepted", _reason(response))


Recorder = Callable[[Db, str, dict[str, Any], dict[str, Any]], Awaitable[None]]

#: What an answer to each action changes besides the device model.
RECORDERS: dict[str, Recorder] = {
    "SendLocalList": _local_list_sent,
    "GetLocalListVersion": _local_list_version,
    "ReserveNow": _reserved,
    "CancelReservation": _cancelled,
}


async def record_response(db: Db, station_id: str, action: str, request: dict[str, Any],
                          response: dict[str, Any]) -> None:
    """Store what the station's answer to ``action`` tells about it."""
    attributes = learned_attributes(action, request, response)
    if attributes:
        await upsert_variable_attributes(db, station_id, attributes)
    await certificates.record_answer(db, station_id, action, request, response)
    await display.record_answer(db, station_id, action, request, response)
    recorder = RECORDERS.get(action)
    if recorder is not None:
        await recorder(db, station_id, request, response)
