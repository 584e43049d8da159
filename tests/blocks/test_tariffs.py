"""Block I: a transaction's cost under its tariff, and the final cost in the answer to its
Ended TransactionEvent (I03)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from csms.blocks.tariffs import minor_unit, total_cost
from csms.store import tariffs
from csms.store.tariffs import CostInputs, Tariff
from tests.blocks.conftest import STATION


def inputs(imported_wh: float | None, exported_wh: float | None, price: str = "0.30",
           credit: str = "0", currency: str = "USD") -> CostInputs:
    return CostInputs(Tariff(currency, Decimal(price), credit=Decimal(credit)), imported_wh,
                      exported_wh)


@pytest.mark.parametrize("case,expected", [
    (inputs(10_000, 0), "3.00"),
    (inputs(12_345.6, None), "3.70"),  # 3.70368
    (inputs(None, None), "0.00"),
    (inputs(1_000, 4_000, "0.30", "0.50"), "-1.70"),  # credit beyond the charge: negative
    (inputs(1_005, 0, "0.50"), "0.50"),  # 0.5025
    (inputs(1_010, 0, "0.50"), "0.51"),  # 0.505, half up
    (inputs(12_345, 0, "25", currency="JPY"), "309"),
    (inputs(1_000, 0, "0.1234", currency="KWD"), "0.123"),
])
def test_total_cost(case: CostInputs, expected: str):
    cost = total_cost(case)
    assert cost == Decimal(expected) and str(cost) == expected


def test_minor_units():
    assert minor_unit("EUR") == Decimal("0.01") and minor_unit("JPY") == Decimal(1)
    assert minor_unit("BHD") == Decimal("0.001")


def _event(event_type: str, seq_no: int, minute: int, imported_kwh: float,
           exported_kwh: float = 0.0, tx: str = "TX-1") -> dict:
    return {"eventType": event_type, "timestamp": f"2026-06-01T16:{minute:02d}:00Z",
            "triggerReason": "MeterValuePeriodic", "seqNo": seq_no,
            "transactionInfo": {"transactionId": tx}, "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": f"2026-06-01T16:{minute:02d}:00Z", "sampledValue": [
                {"value": imported_kwh, "measurand": "Energy.Active.Import.Register",
                 "unitOfMeasure": {"unit": "kWh"}},
                {"value": exported_kwh, "measurand": "Energy.Active.Export.Register",
                 "unitOfMeasure": {"unit": "kWh"}}]}]}


async def test_i03_the_ended_event_is_answered_with_the_final_cost(pool: asyncpg.Pool, call):
    # no tariff: no totalCost (the station shows its TotalCostFallbackMessage)
    await call("TransactionEvent", _event("Started", 0, 0, 100.0, tx="TX-0"))
    assert "totalCost" not in await call("TransactionEvent",
                                         _event("Ended", 1, 5, 101.0, tx="TX-0"))
    assert await tariffs.cost_record(pool, STATION, "TX-0") is None

    await tariffs.set_tariff(pool, Tariff("EUR", Decimal("0.40")))
    assert await call("TransactionEvent", _event("Started", 0, 0, 100.0, 20.0)) == {}
    assert "totalCost" not in await call("TransactionEvent",
                                         _event("Updated", 1, 10, 107.5, 20.0))
    response = await call("TransactionEvent", _event("Ended", 2, 20, 112.25, 20.0))
    assert response == {"totalCost": 4.9}  # 12.25 kWh x 0.40
    told = await tariffs.cost_record(pool, STATION, "TX-1")
    assert (told.currency, told.final_cost) == ("EUR", Decimal("4.90"))
    assert told.final_at is not None and told.running_cost is None


async def test_i03_a_station_tariff_and_a_discharge_credit(pool: asyncpg.Pool, call):
    await tariffs.set_tariff(pool, Tariff("EUR", Decimal("0.40")))
    await tariffs.set_tariff(pool, Tariff("USD", Decimal("0.20"), Decimal("0.50"),
                                          station_id=STATION))
    await call("TransactionEvent", _event("Started", 0, 0, 10.0, 5.0))
    response = await call("TransactionEvent", _event("Ended", 1, 30, 12.0, 8.0))
    assert response == {"totalCost": -1.1}  # 2 kWh x 0.20 - 3 kWh x 0.50
    # a free transaction: 0.00 is said (a missing totalCost would mean "not free")
    await call("TransactionEvent", _event("Started", 0, 0, 12.0, 8.0, tx="TX-2"))
    response = await call("TransactionEvent", _event("Ended", 1, 1, 12.0, 8.0, tx="TX-2"))
    assert response == {"totalCost": 0.0}
