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


def test_warm_keeps_the_compiled_schemas_and_the_next_start_uses_them(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastjsonschema

    from csms.ocppj.validation import Validator

    monkeypatch.setenv("CSMS_CACHE_DIR", str(tmp_path))
    Validator("2.0.1").warm()
    (cache,) = tmp_path.glob("validators-2.0.1-*.marshal")
    generated: list[object] = []
    original = fastjsonschema.compile_to_code
    monkeypatch.setattr(fastjsonschema, "compile_to_code",
                        lambda *a, **k: generated.append(a) or original(*a, **k))
    again = Validator("2.0.1")
    again.warm()
    assert generated == []  # nothing compiled: all came from the cache
    again.validate_request("Heartbeat", {})
    with pytest.raises(OCPPError) as caught:
        again.validate_request("BootNotification", {"reason": "PowerUp"})
    assert caught.value.code == "OccurrenceConstraintViolation"
    # A damaged cache is rebuilt, and validation is the same.
    cache.write_bytes(b"not marshal data")
    rebuilt = Validator("2.0.1")
    rebuilt.warm()
    assert generated and cache.stat().st_size > 1000
    with pytest.raises(OCPPError, match="chargingStation"):
        rebuilt.validate_request("BootNotification", {"reason": "PowerUp"})


@pytest.mark.parametrize("timestamp", ["2026-12-05T03:00:60Z", "2026-06-01T16:00:00+0200"])
def test_what_the_fast_check_rejects_the_full_check_decides(timestamp: str) -> None:
    """The fast check (jsonschema-rs) refuses these date-times (a second 60 outside a leap
    second, an offset without colon), the full one (fastjsonschema)
    takes them: the full check has the last word, so they stay accepted."""
    validator = get_validator("2.0.1")
    payload = {"currentTime": timestamp}
    fast, _ = validator._checks("HeartbeatResponse")
    assert not fast(payload)
    validator.validate_response("Heartbeat", payload)


def test_the_fast_check_accepts_what_a_station_sends() -> None:
    """A TransactionEvent like the ones stations send passes the fast check alone."""
    validator = get_validator("2.0.1")
    fast, _ = validator._checks("TransactionEventRequest")
    assert fast({"eventType": "Updated", "timestamp": "2026-06-01T16:00:00.123Z",
                 "triggerReason": "MeterValuePeriodic", "seqNo": 3,
                 "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
                 "evse": {"id": 1, "connectorId": 1},
                 "meterValue": [{"timestamp": "2026-06-01T16:00:00Z", "sampledValue": [
                     {"value": 1500.5, "measurand": "Energy.Active.Import.Register",
                      "unitOfMeasure": {"unit": "Wh"}}]}]})
