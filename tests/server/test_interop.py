"""What field firmware and third-party simulators send, against a live node and the real
database: kWh registers and multipliers, seqNos reused, readings repeated (docs/interop.md)."""

from __future__ import annotations

import itertools
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection

from csms.server import CentralSystem
from csms.store import metering, transactions
from tests.server.conftest import BOOT, exchange, open_station

_ids = itertools.count(1)


async def _call(ws: ClientConnection, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    message_id = f"m{next(_ids)}"
    answer = await exchange(ws, [2, message_id, action, payload])
    assert answer[0] == 3 and answer[1] == message_id, answer
    return answer[2]


async def _booted(csms: CentralSystem, station_id: str) -> ClientConnection:
    ws = await open_station(csms, station_id)
    assert (await _call(ws, "BootNotification", BOOT))["status"] == "Accepted"
    return ws


def _at(minute: int) -> str:
    return f"2026-06-01T16:{minute:02d}:00Z"


def _energy(minute: int, value: float, unit: dict[str, Any] | None,
            context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    sampled: dict[str, Any] = {"value": value, "context": context,
                               "measurand": "Energy.Active.Import.Register"}
    if unit is not None:
        sampled["unitOfMeasure"] = unit
    return [{"timestamp": _at(minute), "sampledValue": [sampled]}]


def _event(event_type: str, seq_no: int, minute: int, tx: str = "TX-1", *,
           trigger: str = "MeterValuePeriodic", state: str | None = None,
           **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": tx}
    if state:
        info["chargingState"] = state
    if event_type == "Ended":
        info["stoppedReason"] = "EVDisconnected"
    return {"eventType": event_type, "timestamp": _at(minute), "triggerReason": trigger,
            "seqNo": seq_no, "transactionInfo": info, "evse": {"id": 1, "connectorId": 1},
            **extra}


async def test_energy_in_kwh_with_multiplier_and_plain_wh_gives_exact_wh(
        csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    # 10 kWh -> 12.5 kWh (sent as Wh with multiplier 3) -> 15 000 Wh -> 17.25 kWh.
    readings = [(10, {"unit": "kWh"}), (12.5, {"unit": "Wh", "multiplier": 3}),
                (15_000, None), (17.25, {"unit": "kWh", "multiplier": 0})]
    for seq_no, (value, unit) in enumerate(readings):
        event_type = ("Started", "Updated", "Updated", "Ended")[seq_no]
        await _call(ws, "TransactionEvent", _event(
            event_type, seq_no, seq_no * 10, state="Charging" if seq_no < 3 else None,
            meterValue=_energy(seq_no * 10, value, unit)))
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert tx.energy_imported_wh == 7_250.0
    assert (tx.energy_import_start, tx.energy_import_end) == (10_000.0, 17_250.0)
    rows = await metering.meter_values(csms.pool, transaction_id="TX-1")
    assert [(r.value, r.unit, r.sent_unit, r.sent_multiplier) for r in rows] == [
        (10_000.0, "Wh", "kWh", None), (12_500.0, "Wh", "Wh", 3), (15_000.0, "Wh", None, None),
        (17_250.0, "Wh", "kWh", 0)]


async def test_unit_that_does_not_fit_the_measurand_is_flagged_and_left_out(
        csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    with structlog.testing.capture_logs() as logs:
        for seq_no, minute in enumerate((0, 10)):
            sampled = [
                {"value": 1000.0 * (seq_no + 1), "measurand": "Energy.Active.Import.Register",
                 "unitOfMeasure": {"unit": "Wh"}},
                {"value": 9.0 + seq_no, "measurand": "Energy.Active.Import.Register",
                 "location": "EV", "unitOfMeasure": {"unit": "kW"}},
                {"value": 3.0, "measurand": "Power.Active.Import",
                 "unitOfMeasure": {"unit": "kWh"}},
            ]
            await _call(ws, "TransactionEvent", _event(
                ("Started", "Ended")[seq_no], seq_no, minute,
                meterValue=[{"timestamp": _at(minute), "sampledValue": sampled}]))
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert tx.energy_imported_wh == 1000.0  # the Wh readings only
    flagged = [r for r in tx.meter_values if not r.unit_valid]
    assert sorted((r.measurand, r.unit, r.value) for r in flagged) == [
        ("Energy.Active.Import.Register", "kW", 9.0),
        ("Energy.Active.Import.Register", "kW", 10.0),
        ("Power.Active.Import", "kWh", 3.0), ("Power.Active.Import", "kWh", 3.0)]
    warnings = [e for e in logs if e["event"] == "meter_value_unit_mismatch"]
    assert sorted((w["measurand"], w["unit"]) for w in warnings) == [
        ("Energy.Active.Import.Register", "kW"), ("Power.Active.Import", "kWh")]


async def test_station_numbering_every_event_zero_keeps_every_event(
        csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    with structlog.testing.capture_logs() as logs:
        await _call(ws, "TransactionEvent", _event(
            "Started", 0, 0, trigger="RemoteStart", state="Charging",
            meterValue=_energy(0, 0.0, {"unit": "kWh"}, "Transaction.Begin")))
        for minute in (5, 10):
            await _call(ws, "TransactionEvent", _event(
                "Updated", 0, minute, state="Charging",
                meterValue=_energy(minute, minute * 2.0, {"unit": "kWh"})))
        await _call(ws, "TransactionEvent", _event(
            "Ended", 0, 15, trigger="StopAuthorized", state="EVConnected",
            meterValue=_energy(15, 20.0, {"unit": "kWh"}, "Transaction.End")))
        # The second remote start on the same EVSE: the first transaction has ended.
        await _call(ws, "TransactionEvent", _event(
            "Started", 0, 20, "TX-2", trigger="RemoteStart", state="Charging",
            meterValue=_energy(20, 20.0, {"unit": "kWh"}, "Transaction.Begin")))
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert [e["event_type"] for e in tx.events] == ["Started", "Updated", "Updated", "Ended"]
    assert tx.ended_at is not None and tx.stopped_reason == "EVDisconnected"
    assert tx.charging_state == "EVConnected" and tx.seq_no_reused
    assert tx.energy_imported_wh == 20_000.0
    assert await transactions.active_transaction_ids(csms.pool, station_id, 1) == ["TX-2"]
    reused = [e for e in logs if e["event"] == "transaction_seq_no_reused"]
    assert [e["transaction_id"] for e in reused] == ["TX-1"]  # once, not once per event


async def test_exact_redelivery_is_stored_once(csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    started = _event("Started", 0, 0, state="Charging",
                     meterValue=_energy(0, 1.5, {"unit": "kWh"}, "Transaction.Begin"))
    assert await _call(ws, "TransactionEvent", started) == await _call(
        ws, "TransactionEvent", started)
    meter_values = {"evseId": 1, "meterValue": _energy(1, 1.6, {"unit": "kWh"})}
    for _ in range(2):
        assert await _call(ws, "MeterValues", meter_values) == {}
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert len(tx.events) == 1 and not tx.seq_no_reused
    rows = await metering.meter_values(csms.pool, station_id=station_id)
    assert [r.value for r in rows] == [1500.0, 1600.0]


async def test_ended_repeating_the_begin_reading_stores_it_once_and_clears_state(
        csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    begin = _energy(0, 100.0, None, "Transaction.Begin")
    await _call(ws, "TransactionEvent", _event("Started", 0, 0, state="Charging",
                                               meterValue=begin))
    await _call(ws, "TransactionEvent", _event(
        "Ended", 1, 30, trigger="EVCommunicationLost",
        meterValue=begin + _energy(30, 4100.0, None, "Transaction.End")))
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert [(r.context, r.value) for r in tx.meter_values] == [
        ("Transaction.Begin", 100.0), ("Transaction.End", 4100.0)]
    assert tx.charging_state is None and tx.energy_imported_wh == 4000.0


async def test_events_after_ended_are_stored_but_do_not_reopen(
        csms: CentralSystem, station_id: str):
    ws = await _booted(csms, station_id)
    await _call(ws, "TransactionEvent", _event("Started", 0, 0, state="Charging"))
    await _call(ws, "TransactionEvent", _event("Ended", 1, 10, state="Idle"))
    await _call(ws, "TransactionEvent", _event(
        "Updated", 2, 11, state="Charging", meterValue=_energy(11, 50.0, None)))
    await ws.close()
    tx = await transactions.get_transaction(csms.pool, "TX-1")
    assert len(tx.events) == 3 and tx.ended_at is not None and tx.charging_state == "Idle"
    assert await transactions.active_transaction_ids(csms.pool, station_id) == []
