"""The simulated station's display: what it accepts and refuses, what it shows, and what it
drops by itself (O01-O06)."""

from __future__ import annotations

import pytest

from simulators.devicemodel import DeviceModel, station_schema
from simulators.display import DisplayBoard

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def board(version: str = "2.0.1") -> tuple[DisplayBoard, list[str | None]]:
    schema = station_schema(version, vendor="V", model="M", max_charge_w=20000,
                            max_discharge_w=20000, connector_type="cG105", heartbeat_s=60,
                            meter_interval_s=10)
    tx: list[str | None] = [None]
    return DisplayBoard(DeviceModel(schema), lambda: tx[0]), tx


def message(id_: int, content: str = "hello", priority: str = "NormalCycle",
            **extra: object) -> dict:
    return {"message": {"id": id_, "priority": priority,
                        "message": {"format": extra.pop("format", "UTF8"), "content": content},
                        **extra}}


def test_accepts_replaces_and_counts():
    display, _ = board()
    assert display.set(message(1, "first"), NOW) == {"status": "Accepted"}
    assert display.set(message(1, "second"), NOW) == {"status": "Accepted"}  # O06
    assert display.texts(NOW) == ["second"]
    assert display.model.get("DisplayMessageCtrlr", "DisplayMessages") == "1"


@pytest.mark.parametrize("extra,status", [
    ({"format": "HTML"}, "NotSupportedMessageFormat"),
    ({"state": "Faulted"}, "NotSupportedState"),
    ({"transactionId": "nope"}, "UnknownTransaction"),
])
def test_refuses_what_it_cannot_show(extra, status):
    display, _ = board()
    assert display.set(message(1, **extra), NOW)["status"] == status
    assert display.messages == {}


def test_unsupported_priority_and_a_full_display():
    display, _ = board()
    display.model.set("DisplayMessageCtrlr", "SupportedPriorities", "NormalCycle")
    assert display.set(message(1, priority="AlwaysFront"), NOW)["status"] == \
        "NotSupportedPriority"
    for n in range(display.capacity()):
        assert display.set(message(n), NOW)["status"] == "Accepted"
    assert display.set(message(99), NOW) == {"status": "Rejected",
                                             "statusInfo": {"reasonCode": "TooManyMessages"}}
    assert display.set(message(0, "replaced"), NOW)["status"] == "Accepted"


def test_2_1_states_come_from_its_device_model():
    display, _ = board("2.1")
    assert display.set(message(1, state="Discharging"), NOW)["status"] == "Accepted"
    assert display.set(message(2, state="Faulted"), NOW)["status"] == "NotSupportedState"


def test_priority_order_start_end_and_transaction():
    display, tx = board()
    tx[0] = "T1"
    display.set(message(1, "normal"), NOW)
    display.set(message(2, "front", "AlwaysFront"), NOW)
    display.set(message(3, "in front", "InFront", transactionId="T1"), NOW)
    display.set(message(4, "later", startDateTime="2027-01-15T09:00:00Z"), NOW)
    display.set(message(5, "ends", endDateTime="2027-01-15T08:30:00Z"), NOW)
    assert display.texts(NOW) == ["front", "in front", "normal", "ends"]
    assert display.texts(NOW + 3600) == ["front", "in front", "normal", "later"]
    tx[0] = None  # the transaction ended: its message goes (O02)
    assert display.texts(NOW + 3600) == ["front", "normal", "later"]


def test_get_matches_every_criterion_and_clear():
    display, _ = board()
    display.set(message(1, priority="InFront", state="Idle"), NOW)
    display.set(message(2, priority="InFront"), NOW)
    display.set(message(3), NOW)
    assert [m["id"] for m in display.matching({"requestId": 1}, NOW)] == [1, 2, 3]
    assert [m["id"] for m in display.matching({"priority": "InFront"}, NOW)] == [1, 2]
    assert [m["id"] for m in display.matching({"priority": "InFront", "state": "Idle"},
                                              NOW)] == [1]
    assert display.matching({"id": [3], "priority": "InFront"}, NOW) == []
    assert display.clear(2, NOW) and not display.clear(2, NOW)
    assert display.model.get("DisplayMessageCtrlr", "DisplayMessages") == "2"
