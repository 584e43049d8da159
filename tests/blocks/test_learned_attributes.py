"""What the CSMS learns from GetVariables / SetVariables answers (pure logic)."""

from __future__ import annotations

from csms.blocks.responses import learned_attributes

HB = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
PW = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
EVSE_POWER = {"component": {"name": "EVSE", "evse": {"id": 1}},
              "variable": {"name": "Power", "instance": "Max"}}


def test_accepted_get_values_are_learned_and_rejected_ones_are_not() -> None:
    response = {"getVariableResult": [
        {**HB, "attributeStatus": "Accepted", "attributeValue": "60"},
        {**EVSE_POWER, "attributeStatus": "UnknownVariable"},
    ]}
    [attribute] = learned_attributes("GetVariables", {}, response)
    assert (attribute.component_name, attribute.variable_name, attribute.value) == (
        "OCPPCommCtrlr", "HeartbeatInterval", "60")
    assert attribute.attribute_type == "Actual"


def test_set_values_are_learned_only_when_accepted_and_keep_evse_and_instance() -> None:
    request = {"setVariableData": [
        {**HB, "attributeValue": "30"},
        {**EVSE_POWER, "attributeValue": "15000", "attributeType": "Target"},
    ]}
    response = {"setVariableResult": [
        {**HB, "attributeStatus": "Rejected"},
        {**EVSE_POWER, "attributeStatus": "RebootRequired", "attributeType": "Target"},
    ]}
    [attribute] = learned_attributes("SetVariables", request, response)
    assert (attribute.evse_id, attribute.variable_instance, attribute.value,
            attribute.attribute_type) == (1, "Max", "15000", "Target")


def test_passwords_are_never_learned() -> None:
    request = {"setVariableData": [{**PW, "attributeValue": "a-new-password-123"}]}
    response = {"setVariableResult": [{**PW, "attributeStatus": "Accepted"}]}
    assert learned_attributes("SetVariables", request, response) == []
    response = {"getVariableResult": [{**PW, "attributeStatus": "Accepted",
                                       "attributeValue": "leaked"}]}
    assert learned_attributes("GetVariables", {}, response) == []


def test_other_actions_teach_nothing() -> None:
    assert learned_attributes("Reset", {"type": "Immediate"}, {"status": "Accepted"}) == []
