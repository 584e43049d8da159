"""Schema violations name the field and list what is allowed plainly (no Python lists or sets
in a description a station or an operator reads)."""

from __future__ import annotations

import pytest

from csms.ocppj import OCPPError, get_validator


def _error(action: str, payload: object) -> OCPPError:
    with pytest.raises(OCPPError) as raised:
        get_validator("2.0.1").validate_request(action, payload)
    return raised.value


@pytest.mark.parametrize(("action", "payload", "code", "description"), [
    ("Reset", {"type": "Sometimes"}, "PropertyConstraintViolation",
     "type must be one of Immediate, OnIdle"),
    ("Reset", {}, "OccurrenceConstraintViolation", "payload lacks the required field type"),
    ("Reset", {"type": "Immediate", "x": 1, "y": 2}, "FormatViolation",
     "payload has the unknown fields x, y"),
    ("SetVariables", {"setVariableData": [{"attributeValue": "1", "component": {},
                                           "variable": {"name": "X"}}]},
     "OccurrenceConstraintViolation", "setVariableData[0].component lacks the required field name"),
    ("Reset", {"type": 1}, "TypeConstraintViolation", "type must be string"),
])
def test_descriptions(action: str, payload: object, code: str, description: str) -> None:
    error = _error(action, payload)
    assert (error.code, error.description) == (code, description)
    assert "'" not in error.description
