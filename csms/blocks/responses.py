"""What the CSMS learns from a station's answers to its own calls.

Called by the node that sent an operator command once the station has answered: a GetVariables
or SetVariables answer updates the CSMS's copy of the station's device model (B06, B05), so
``csms stations show`` stays current without a full report; a SetDisplayMessage or
ClearDisplayMessage answer updates the CSMS's record of the station's display (O01-O06).
Secret values (SecurityCtrlr.BasicAuthPassword) are never stored. Answers to certificate calls
keep the station's certificate inventory (:func:`csms.blocks.certificates.record_answer`).
"""

from __future__ import annotations

from typing import Any

from csms.blocks import certificates, display
from csms.blocks.wire import component_fields
from csms.store.db import Db
from csms.store.devicemodel import VariableAttribute, upsert_variable_attributes

SECRET_VARIABLES = frozenset({("SecurityCtrlr", "BasicAuthPassword")})
SET_OK = frozenset({"Accepted", "RebootRequired"})


def _attribute(component: dict[str, Any], variable: dict[str, Any], attribute_type: str | None,
               value: str | None) -> VariableAttribute | None:
    if (component.get("name"), variable.get("name")) in SECRET_VARIABLES:
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


async def record_response(db: Db, station_id: str, action: str, request: dict[str, Any],
                          response: dict[str, Any]) -> None:
    """Store what the station's answer to ``action`` tells about it."""
    attributes = learned_attributes(action, request, response)
    if attributes:
        await upsert_variable_attributes(db, station_id, attributes)
    await certificates.record_answer(db, station_id, action, request, response)
    await display.record_answer(db, station_id, action, request, response)
