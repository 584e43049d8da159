"""The sans-I/O OCPP-J state machine: every framing rule of Part 4, without sockets."""

from __future__ import annotations

import json

import pytest

from csms.ocppj import OCPPError, get_validator
from csms.ocppj.protocol import (
    CallCompleted,
    Dropped,
    IncomingCall,
    IncomingSend,
    Reply,
    RpcProtocol,
)

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}}


def protocol(version: str = "2.0.1", supported=("BootNotification", "Heartbeat")) -> RpcProtocol:
    return RpcProtocol(get_validator(version), frozenset(supported))


def only_reply(events) -> list:
    assert len(events) == 1 and isinstance(events[0], Reply), events
    return json.loads(events[0].text)


def test_valid_call_becomes_an_incoming_call() -> None:
    [event] = protocol().receive(json.dumps([2, "abc", "BootNotification", BOOT]))
    assert event == IncomingCall("abc", "BootNotification", BOOT)


@pytest.mark.parametrize("text", ["{not json", "", "[2, 'single-quoted']", "\x00\x01"])
def test_unreadable_json_answers_rpc_framework_error_with_id_minus_one(text: str) -> None:
    frame = only_reply(protocol().receive(text))
    assert frame[:3] == [4, "-1", "RpcFrameworkError"]
    assert frame[4] == {}


def test_broken_json_with_readable_id_answers_format_violation_with_that_id() -> None:
    frame = only_reply(protocol().receive('[2, "id-7", "Heartbeat", {'))
    assert frame[:3] == [4, "id-7", "FormatViolation"]


@pytest.mark.parametrize(
    "message",
    [
        {"not": "an array"},
        [2, "x"],
        [2, 17, "Heartbeat", {}],
        [2, "x" * 37, "Heartbeat", {}],
        [2, "", "Heartbeat", {}],
    ],
)
def test_unreadable_message_id_or_structure_uses_minus_one(message) -> None:
    frame = only_reply(protocol().receive(json.dumps(message)))
    assert frame[0] == 4 and frame[1] == "-1" and frame[2] == "RpcFrameworkError"


def test_unknown_message_type_answers_message_type_not_supported() -> None:
    frame = only_reply(protocol().receive(json.dumps([9, "m1", "Heartbeat", {}])))
    assert frame[:3] == [4, "m1", "MessageTypeNotSupported"]


def test_2_1_message_types_are_unknown_in_2_0_1() -> None:
    frame = only_reply(protocol().receive(json.dumps([6, "m1", "Heartbeat", {}])))
    assert frame[:3] == [4, "m1", "MessageTypeNotSupported"]


def test_call_with_wrong_arity_is_a_protocol_error() -> None:
    frame = only_reply(protocol().receive(json.dumps([2, "m2", "Heartbeat"])))
    assert frame[:3] == [4, "m2", "ProtocolError"]
    frame = only_reply(protocol().receive(json.dumps([2, "m3", "Heartbeat", []])))
    assert frame[:3] == [4, "m3", "ProtocolError"]


def test_unknown_action_is_not_implemented_and_known_unsupported_is_not_supported() -> None:
    frame = only_reply(protocol().receive(json.dumps([2, "m4", "MakeCoffee", {}])))
    assert frame[:3] == [4, "m4", "NotImplemented"]
    frame = only_reply(protocol().receive(json.dumps([2, "m5", "Authorize", {}])))
    assert frame[:3] == [4, "m5", "NotSupported"]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"reason": "PowerUp"}, "OccurrenceConstraintViolation", "payload"),
        ({"reason": "PowerUp", "chargingStation": {"model": 5, "vendorName": "v"}},
         "TypeConstraintViolation", "chargingStation.model"),
        ({"reason": "PowerUp", "chargingStation": {"model": "m" * 21, "vendorName": "v"}},
         "TypeConstraintViolation", "chargingStation.model"),
        ({"reason": "Sunshine", "chargingStation": {"model": "m", "vendorName": "v"}},
         "PropertyConstraintViolation", "reason"),
        ({**BOOT, "surprise": 1}, "FormatViolation", "payload"),
    ],
)
def test_schema_violations_map_to_part_4_codes_and_name_the_field(payload, code, field) -> None:
    frame = only_reply(protocol().receive(json.dumps([2, "m6", "BootNotification", payload])))
    assert frame[:3] == [4, "m6", code]
    assert frame[4]["field"] == field
    assert field.split(".")[-1] in frame[3] or field == "payload"


def test_answer_to_our_call_is_validated_and_correlated() -> None:
    p = protocol()
    message_id, text = p.start_call("Reset", {"type": "Immediate"})
    assert json.loads(text) == [2, message_id, "Reset", {"type": "Immediate"}]
    [event] = p.receive(json.dumps([3, message_id, {"status": "Accepted"}]))
    assert event == CallCompleted(message_id, "Reset", {"status": "Accepted"}, None)
    p.start_call("Reset", {"type": "Immediate"})  # the answered call is no longer outstanding


def test_only_one_outstanding_call() -> None:
    p = protocol()
    p.start_call("Reset", {"type": "Immediate"})
    with pytest.raises(RuntimeError):
        p.start_call("Reset", {"type": "Immediate"})


def test_invalid_outgoing_call_is_refused_before_sending() -> None:
    p = protocol()
    with pytest.raises(OCPPError) as err:
        p.start_call("Reset", {"type": "Sometime"})
    assert err.value.code == "PropertyConstraintViolation"
    p.start_call("Reset", {"type": "Immediate"})  # the refused one was never outstanding


def test_answer_with_unknown_id_is_dropped() -> None:
    p = protocol()
    p.start_call("Reset", {"type": "Immediate"})
    [event] = p.receive(json.dumps([3, "someone-else", {"status": "Accepted"}]))
    assert isinstance(event, Dropped)
    with pytest.raises(RuntimeError):  # ours is still outstanding
        p.start_call("Reset", {"type": "Immediate"})


def test_peer_callerror_completes_the_call_with_its_code() -> None:
    p = protocol()
    message_id, _ = p.start_call("Reset", {"type": "Immediate"})
    [event] = p.receive(json.dumps([4, message_id, "NotSupported", "no reset here", {}]))
    assert isinstance(event, CallCompleted) and event.from_peer
    assert event.error is not None and event.error.code == "NotSupported"


def test_invalid_callresult_in_2_1_is_answered_with_callresulterror() -> None:
    p = protocol("2.1")
    message_id, _ = p.start_call("Reset", {"type": "Immediate"})
    completed, reply = p.receive(json.dumps([3, message_id, {"status": "Maybe"}]))
    assert isinstance(completed, CallCompleted) and completed.error is not None
    assert isinstance(reply, Reply)
    assert json.loads(reply.text)[:3] == [5, message_id, "PropertyConstraintViolation"]


def test_invalid_callresult_in_2_0_1_fails_the_call_without_a_reply() -> None:
    p = protocol("2.0.1")
    message_id, _ = p.start_call("Reset", {"type": "Immediate"})
    events = p.receive(json.dumps([3, message_id, {"status": "Maybe"}]))
    assert len(events) == 1 and events[0].error.code == "PropertyConstraintViolation"


def test_2_1_callresulterror_from_peer_fails_our_call() -> None:
    p = protocol("2.1")
    message_id, _ = p.start_call("Reset", {"type": "Immediate"})
    [event] = p.receive(json.dumps([5, message_id, "FormatViolation", "bad", {}]))
    assert event.error.code == "FormatViolation"


def test_2_1_send_is_delivered_and_never_answered() -> None:
    p = protocol("2.1", supported=("NotifyPeriodicEventStream",))
    payload = {"id": 1, "pending": 0, "basetime": "2026-01-01T00:00:00Z",
               "data": [{"t": 0.0, "v": "230.4"}]}
    [event] = p.receive(json.dumps([6, "s1", "NotifyPeriodicEventStream", payload]))
    assert isinstance(event, IncomingSend)
    [event] = p.receive(json.dumps([6, "s2", "NotifyPeriodicEventStream", {"id": "x"}]))
    assert isinstance(event, Dropped)


def test_error_description_is_capped_at_255_characters() -> None:
    p = protocol()
    text = p.error("m", OCPPError("GenericError", "x" * 1000))
    assert len(json.loads(text)[3]) == 255


def test_outgoing_frames_never_contain_null() -> None:
    p = protocol()
    _, text = p.start_call("Reset", {"type": "Immediate"})
    assert "null" not in text


def test_validation_never_adds_schema_defaults_to_a_payload() -> None:
    payload = {"evseId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
                                            "sampledValue": [{"value": 1.0,
                                                              "unitOfMeasure": {"unit": "Wh"}}]}]}
    before = json.dumps(payload, sort_keys=True)
    get_validator("2.0.1").validate_request("MeterValues", payload)
    assert json.dumps(payload, sort_keys=True) == before
