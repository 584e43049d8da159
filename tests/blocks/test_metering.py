"""Block J: meter values from MeterValues and TransactionEvent."""

from __future__ import annotations

import asyncpg
import pytest

from csms.blocks.units import conversion
from csms.store import metering


def _mv(minute: int, values: list[dict]) -> list[dict]:
    return [{"timestamp": f"2026-06-01T16:{minute:02d}:00Z", "sampledValue": values}]


async def test_tc_j_01_clock_aligned_without_transaction(pool: asyncpg.Pool, call):
    assert await call("MeterValues", {"evseId": 0, "meterValue": _mv(0, [
        {"value": 1234.5, "context": "Sample.Clock"},
        {"value": 230.1, "context": "Sample.Clock", "measurand": "Voltage", "phase": "L1-N"},
    ])}) == {}
    rows = await metering.meter_values(pool, station_id="CS-001")
    assert [(r.evse_id, r.measurand, r.phase, r.unit, r.location, r.context, r.value,
             r.transaction_id) for r in rows] == [
        (0, "Energy.Active.Import.Register", None, "Wh", "Outlet", "Sample.Clock", 1234.5, None),
        (0, "Voltage", "L1-N", "V", "Outlet", "Sample.Clock", 230.1, None),
    ]


async def test_multiplier_scales_the_stored_value(pool: asyncpg.Pool, call):
    await call("MeterValues", {"evseId": 1, "meterValue": _mv(5, [
        {"value": 7.5, "measurand": "Power.Active.Export", "location": "EV",
         "unitOfMeasure": {"unit": "W", "multiplier": 3}},
        {"value": 81, "measurand": "SoC", "location": "EV"},
    ])})
    rows = await metering.meter_values(pool, station_id="CS-001")
    assert [(r.measurand, r.value, r.unit, r.location) for r in rows] == [
        ("Power.Active.Export", 7500.0, "W", "EV"), ("SoC", 81.0, "Percent", "EV")]


async def test_tc_j_11_signed_meter_value_in_transaction_is_kept(pool: asyncpg.Pool, call):
    signed = {"signedMeterData": "b64data", "signingMethod": "ECDSA", "encodingMethod": "OCMF",
              "publicKey": "pk"}
    await call("TransactionEvent", {
        "eventType": "Ended", "timestamp": "2026-06-01T17:00:00Z",
        "triggerReason": "StopAuthorized",
        "seqNo": 3, "evse": {"id": 1, "connectorId": 1},
        "transactionInfo": {"transactionId": "TX-9", "stoppedReason": "Local"},
        "meterValue": _mv(59, [{"value": 9000, "context": "Transaction.End",
                                "signedMeterValue": signed}]),
    })
    [row] = await metering.meter_values(pool, transaction_id="TX-9")
    assert row.signed_meter_value == signed and row.context == "Transaction.End"
    assert row.evse_id == 1


@pytest.mark.parametrize("measurand,unit", [
    ("Energy.Active.Export.Register", "Wh"), ("Energy.Reactive.Import.Register", "varh"),
    ("Power.Active.Import", "W"), ("Power.Factor", None), ("Current.Export", "A"),
    ("SoC", "Percent"), ("RPM", None),
])
def test_default_units(measurand, unit):
    assert conversion(measurand, None).unit == unit
