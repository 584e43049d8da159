"""Block E: TransactionEvent stored once, folded by seqNo, answered with idTokenInfo."""

from __future__ import annotations

import asyncpg

from csms.store import tokens, transactions
from tests.blocks.conftest import STATION, make_call


def _event(event_type: str, seq_no: int, minute: int, *, trigger: str = "MeterValuePeriodic",
           state: str | None = None, **extra) -> dict:
    info = {"transactionId": "TX-1"}
    if state:
        info["chargingState"] = state
    if "stoppedReason" in extra:
        info["stoppedReason"] = extra.pop("stoppedReason")
    return {"eventType": event_type, "timestamp": f"2026-06-01T16:{minute:02d}:00Z",
            "triggerReason": trigger, "seqNo": seq_no, "transactionInfo": info, **extra}


def _energy(minute: int, imported: float, exported: float = 0.0, context: str = "Sample.Periodic"):
    return [{"timestamp": f"2026-06-01T16:{minute:02d}:00Z", "sampledValue": [
        {"value": imported, "context": context, "measurand": "Energy.Active.Import.Register",
         "unitOfMeasure": {"unit": "kWh", "multiplier": 0}},
        {"value": exported, "context": context, "measurand": "Energy.Active.Export.Register"},
    ]}]


async def test_tc_e_03_local_start_cable_first_and_stop(pool: asyncpg.Pool, call):
    await tokens.add_token(pool, "TAG-1")
    assert await call("TransactionEvent", _event(
        "Started", 0, 0, trigger="CablePluggedIn", state="EVConnected",
        evse={"id": 1, "connectorId": 1})) == {}
    response = await call("TransactionEvent", _event(
        "Updated", 1, 1, trigger="Authorized", state="Charging",
        idToken={"idToken": "TAG-1", "type": "ISO14443"}))
    assert response == {"idTokenInfo": {"status": "Accepted"}}
    await call("TransactionEvent", _event(
        "Ended", 2, 30, trigger="EVCommunicationLost", state="Idle",
        stoppedReason="EVDisconnected"))
    tx = await transactions.get_transaction(pool, "TX-1", station_id=STATION)
    assert tx.id_token == "TAG-1" and tx.evse_id == 1 and tx.connector_id == 1
    assert tx.stopped_reason == "EVDisconnected" and tx.ended_at is not None
    assert [e["event_type"] for e in tx.events] == ["Started", "Updated", "Ended"]


async def test_tc_e_16_deauthorized_token_is_answered_invalid(pool: asyncpg.Pool, call):
    await tokens.add_token(pool, "TAG-BAD", status="Invalid")
    response = await call("TransactionEvent", _event(
        "Started", 0, 0, trigger="Authorized", evse={"id": 1},
        idToken={"idToken": "TAG-BAD", "type": "ISO14443"}))
    assert response["idTokenInfo"]["status"] == "Invalid"


async def test_tc_e_53_seq_no_restarts_at_zero_for_each_transaction(pool: asyncpg.Pool, call):
    for tx_id in ("TX-A", "TX-B"):
        event = _event("Started", 0, 0, evse={"id": 1})
        event["transactionInfo"]["transactionId"] = tx_id
        await call("TransactionEvent", event)
    assert {t.transaction_id for t in await transactions.list_transactions(pool)} == {
        "TX-A", "TX-B"}


async def test_repeated_event_is_answered_and_stored_once(pool: asyncpg.Pool, call):
    event = _event("Started", 0, 0, evse={"id": 1}, meterValue=_energy(0, 1.5))
    first = await call("TransactionEvent", event)
    again = await call("TransactionEvent", event)
    assert first == again == {}
    tx = await transactions.get_transaction(pool, "TX-1")
    assert len(tx.events) == 1 and len(tx.meter_values) == 2


async def test_offline_events_out_of_order_are_applied_by_seq_no(pool: asyncpg.Pool, call):
    # Live: Started, then the station goes offline; Ended arrives before the queued Updated.
    await call("TransactionEvent", _event("Started", 0, 0, state="EVConnected", evse={"id": 2},
                                          meterValue=_energy(0, 10.0)))
    await call("TransactionEvent", _event(
        "Ended", 3, 40, trigger="StopAuthorized", state="Idle", stoppedReason="Local",
        offline=True, idToken={"idToken": "TAG-STOP", "type": "ISO14443"},
        meterValue=_energy(40, 25.0, 3.0, "Transaction.End")))
    await call("TransactionEvent", _event("Updated", 2, 20, state="SuspendedEVSE", offline=True,
                                          meterValue=_energy(20, 25.0, 1.0)))
    await call("TransactionEvent", _event("Updated", 1, 10, state="Charging", offline=True,
                                          meterValue=_energy(10, 20.0)))
    tx = await transactions.get_transaction(pool, "TX-1")
    assert tx.ended_at is not None and tx.charging_state == "Idle" and tx.last_seq_no == 3
    assert tx.offline and tx.stop_id_token == "TAG-STOP"
    assert tx.energy_imported_wh == 15_000.0 and tx.energy_exported_wh == 3.0
    assert [e["seq_no"] for e in tx.events] == [0, 1, 2, 3]
    assert [e["offline"] for e in tx.events] == [False, True, True, True]
    assert {m.evse_id for m in tx.meter_values} == {2}


async def test_ended_first_is_kept_when_started_never_came(pool: asyncpg.Pool, call):
    await call("TransactionEvent", _event("Ended", 4, 50, trigger="EVCommunicationLost",
                                          offline=True, evse={"id": 1},
                                          stoppedReason="EVDisconnected"))
    tx = await transactions.get_transaction(pool, "TX-1")
    assert tx.ended_at is not None and tx.stopped_reason == "EVDisconnected"
    assert await transactions.active_transaction_ids(pool, STATION) == []


async def test_out_of_range_seq_no_is_still_stored(pool: asyncpg.Pool):
    call = make_call(pool, "2.0.1")
    await call("TransactionEvent", _event("Started", -1, 0, evse={"id": 1}))
    await call("TransactionEvent", _event("Updated", 2**40, 1))
    tx = await transactions.get_transaction(pool, "TX-1")
    assert [e["seq_no"] for e in tx.events] == [-1, 2**40] and tx.last_seq_no == 2**40
