"""Tariffs: the default and a station's own, a program's credit, and which transactions a node
sends running costs for."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from csms.store import commands, devicemodel, stations, tariffs
from csms.store.base import StationNotFound
from csms.store.devicemodel import VariableAttribute
from csms.store.grid.events import save_program
from csms.store.grid.records import Program
from csms.store.metering import MeterSample
from csms.store.tariffs import ProgramNotFound, Tariff
from csms.store.transactions import TxEvent, record_transaction_event

T0 = datetime(2026, 6, 1, 16, tzinfo=UTC)


async def test_default_and_station_tariffs(pool: asyncpg.Pool, station: str):
    assert await tariffs.list_tariffs(pool) == []
    await tariffs.set_tariff(pool, Tariff("EUR", Decimal("0.40")))
    await tariffs.set_tariff(pool, Tariff("EUR", Decimal("0.35"), Decimal("0.10")))
    await tariffs.set_tariff(pool, Tariff("USD", Decimal("0.2"), station_id=station))
    found = await tariffs.list_tariffs(pool)
    assert [(t.station_id, t.energy_price, t.credit) for t in found] == [
        (None, Decimal("0.35"), Decimal("0.10")), (station, Decimal("0.2"), Decimal(0))]
    with pytest.raises(StationNotFound):
        await tariffs.set_tariff(pool, Tariff("USD", Decimal(1), station_id="nobody"))
    with pytest.raises(ProgramNotFound):
        await tariffs.set_tariff(pool, Tariff("USD", Decimal(1), credit_program="nope"))
    assert await tariffs.remove_tariff(pool, station)
    assert not await tariffs.remove_tariff(pool, station)
    assert await tariffs.remove_tariff(pool, None)
    assert await tariffs.list_tariffs(pool) == []


async def _transaction(pool: asyncpg.Pool, station: str, tx: str, imported: float,
                       exported: float) -> None:
    samples = [MeterSample(1, tx, T0, m, None, "Outlet", "Wh", "Sample.Periodic", v)
               for m, v in (("Energy.Active.Import.Register", 0.0),
                            ("Energy.Active.Export.Register", 0.0))]
    later = [MeterSample(1, tx, T0.replace(minute=30), m, None, "Outlet", "Wh",
                         "Sample.Periodic", v)
             for m, v in (("Energy.Active.Import.Register", imported),
                          ("Energy.Active.Export.Register", exported))]
    await record_transaction_event(pool, station, TxEvent(tx, 0, "Started", T0, "Authorized",
                                                          evse_id=1), samples)
    await record_transaction_event(pool, station, TxEvent(tx, 1, "Updated",
                                                          T0.replace(minute=30),
                                                          "MeterValuePeriodic"), later)


async def test_cost_inputs_with_a_program_credit(pool: asyncpg.Pool, station: str):
    await save_program(pool, Program("V2G", rate_per_kwh=0.5, driver_share=0.8))
    await tariffs.set_tariff(pool, Tariff("USD", Decimal("0.30"), credit_program="V2G"))
    await _transaction(pool, station, "TX-1", 5000.0, 2000.0)
    inputs = await tariffs.cost_inputs(pool, station, "TX-1")
    assert (inputs.imported_wh, inputs.exported_wh) == (5000.0, 2000.0)
    assert inputs.tariff.credit == Decimal("0.40") and inputs.tariff.currency == "USD"
    assert await tariffs.cost_inputs(pool, station, "TX-none") is None


async def test_running_costs_due_for_this_nodes_accepted_stations(pool: asyncpg.Pool,
                                                                  station: str):
    await tariffs.set_tariff(pool, Tariff("USD", Decimal("0.30")))
    await _transaction(pool, station, "TX-1", 5000.0, 0.0)
    await commands.register_node(pool, "node-a")
    assert await tariffs.running_costs_due(pool, "node-a") == []  # not connected
    await stations.mark_connected(pool, station, "node-a", "ocpp2.0.1", None)
    assert await tariffs.running_costs_due(pool, "node-a") == []  # not accepted at boot
    await stations.record_boot(pool, station, status="Accepted", reason="PowerUp",
                               vendor_name="V", model="M")
    [due] = await tariffs.running_costs_due(pool, "node-a")
    assert (due.transaction_id, due.inputs.imported_wh, due.last_cost) == ("TX-1", 5000.0,
                                                                           None)
    assert await tariffs.running_costs_due(pool, "node-b") == []
    await tariffs.record_running_costs(pool, [(station, "TX-1", "USD", Decimal("1.50"),
                                               "accepted")])
    [due] = await tariffs.running_costs_due(pool, "node-a")
    assert (due.last_cost, due.last_outcome) == (Decimal("1.50"), "accepted")
    # a station that answered CALLERROR gets no more for that transaction
    await tariffs.record_running_costs(pool, [(station, "TX-1", "USD", Decimal("1.60"),
                                               "callerror")])
    assert await tariffs.running_costs_due(pool, "node-a") == []
    await _transaction(pool, station, "TX-2", 100.0, 0.0)
    assert [d.transaction_id for d in await tariffs.running_costs_due(pool, "node-a")] == [
        "TX-2"]
    # nor does a station whose device model says its cost display is off
    await devicemodel.upsert_variable_attributes(pool, station, [
        VariableAttribute("TariffCostCtrlr", "Enabled", value="false")])
    assert await tariffs.running_costs_due(pool, "node-a") == []
