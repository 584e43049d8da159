"""The simulated station's reservations: ReserveNow answers, the held EVSE, its end."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from simulators.faults import FaultRates, ScheduledFault, plan_faults
from simulators.station import Station, StationConfig
from tests.simulators.conftest import leaf_visit

DRIVER = {"idToken": "DRIVER", "type": "ISO14443"}
OTHER = {"idToken": "OTHER", "type": "ISO14443"}
GROUP = {"idToken": "FLEET", "type": "Central"}


def _station() -> Station:
    return Station(StationConfig(station_id="RS-SIM", url="ws://127.0.0.1:9/ocpp"))


def _request(reservation_id: int = 1, minutes: float = 10, **extra) -> dict:
    until = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    return {"id": reservation_id, "expiryDateTime": until, "idToken": DRIVER, **extra}


def _statuses(messages: list) -> list:
    return [p.get("connectorStatus") or p.get("reservationUpdateStatus") for _, p in messages]


def test_h01_accepted_reports_the_connector_reserved():
    station = _station()
    status, reason, messages = station.reservations.reserve(_request(evseId=1), time.time())
    assert (status, reason, _statuses(messages)) == ("Accepted", None, ["Reserved"])
    assert station.evse.connector_status == "Reserved"
    # H01.FR.02: the same id again replaces it; another one finds the EVSE taken
    assert station.reservations.reserve(_request(minutes=20), time.time())[0] == "Accepted"
    assert station.reservations.reserve(_request(2), time.time())[0] == "Occupied"


def test_h01_refusals():
    station = _station()
    desk, model, now = station.reservations, station.model, time.time()
    assert desk.reserve(_request(evseId=2), now)[:2] == ("Rejected", "UnknownEvse")
    assert desk.reserve(_request(connectorType="cCCS2"), now)[:2] == (
        "Rejected", "UnknownConnectorType")
    model.set("ReservationCtrlr", "NonEvseSpecific", "false")
    assert desk.reserve(_request(), now)[:2] == ("Rejected", "EvseRequired")
    model.set("ReservationCtrlr", "Enabled", "false")
    assert desk.reserve(_request(evseId=1), now)[:2] == ("Rejected", "ReservationsDisabled")
    model.set("ReservationCtrlr", "Enabled", "true")
    station.evse.operative = False
    assert desk.reserve(_request(evseId=1), now)[0] == "Unavailable"
    station.evse.faulted = True
    assert desk.reserve(_request(evseId=1), now)[0] == "Faulted"
    station.evse.operative, station.evse.faulted = True, False
    station.evse.plug_in(leaf_visit(), now)
    assert desk.reserve(_request(evseId=1), now)[0] == "Occupied"


def test_h04_expiry_and_h02_cancel_free_the_connector():
    station = _station()
    desk = station.reservations
    desk.reserve(_request(1, minutes=1 / 60), time.time())
    assert desk.expire(time.time()) == []
    assert _statuses(desk.expire(time.time() + 2)) == ["Expired", "Available"]
    desk.reserve(_request(2), time.time())
    assert desk.cancel(3, time.time()) is None
    assert _statuses(desk.cancel(2, time.time()) or []) == ["Removed", "Available"]
    assert station.evse.connector_status == "Available"


def test_h03_only_the_reserved_token_or_its_group_may_start():
    station = _station()
    desk, evse, now = station.reservations, station.evse, time.time()
    desk.reserve(_request(groupIdToken=GROUP), now)
    messages = evse.plug_in(leaf_visit(), now)
    assert evse.tx is None and _statuses(messages)[0] == "Reserved"  # no transaction yet
    assert desk.claim(OTHER, None, now) == (False, None, [])
    admitted, reservation_id, used = desk.claim(OTHER, GROUP, now)  # a card of the group
    assert admitted and reservation_id == 1 and _statuses(used) == ["Removed", "Occupied"]
    [(_, started)] = evse.authorize(now, OTHER, "Authorized", reservation_id)
    assert started["eventType"] == "Started" and started["reservationId"] == 1
    assert started["idToken"] == OTHER


def test_a_connector_fault_is_scheduled_only():
    plan = plan_faults(FaultRates(), random.Random(1), 3600.0,
                       [ScheduledFault("SIM1", "connector_fault", 30.0)])
    assert plan.since == {"connector_fault": 30.0}
    with pytest.raises(ValueError, match="connector_fault"):
        ScheduledFault("SIM1", "connector_failure", 1.0)


def test_a_faulted_connector_ends_the_transaction_and_reports_faulted():
    station = _station()
    evse, now = station.evse, time.time()
    evse.plug_in(leaf_visit(), now)
    assert evse.tx is not None
    messages = evse.fault(now)
    assert [m[0] for m in messages] == ["TransactionEvent", "StatusNotification"]
    assert messages[0][1]["eventType"] == "Ended" and evse.tx is None
    assert _statuses(messages)[-1] == "Faulted" and evse.wanted_kw() == 0.0
