"""Tariff and cost end to end (I02, I03): a live node sending running costs every second, a
simulated station with a car over real sockets, the ``csms tariffs`` command line, and what
the station's display then shows.

The Part 6 text this project has lists no CSMS test case for block I, so the tests are named
after the use cases they follow: I02 the running cost during the transaction (CostUpdated),
down to below zero once the car gives back more than it took; I03 the final cost in the
answer to the Ended TransactionEvent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest

from csms.blocks.tariffs import total_cost
from csms.config import ServerConfig
from csms.server import CentralSystem
from csms.store import tariffs, transactions
from simulators.charger import FE_20
from simulators.scenario import Scenario, StationGroup
from simulators.simulated_fleet import Fleet
from simulators.station import Station
from tests.operations.conftest import fleet_configs, run_cli, running, wait_for

pytestmark = pytest.mark.e2e

#: A charger that follows a new setpoint within a second, so that discharge starts soon.
QUICK = Scenario(stations=(StationGroup(replace(FE_20, latency_s=0.5, ramp_kw_per_s=20.0),
                                        1),))


@contextlib.asynccontextmanager
async def charging(database_url: str) -> AsyncIterator[tuple[CentralSystem, Station, str]]:
    """A node sending running costs every second, and a station whose car is charging."""
    system = CentralSystem(ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                                        auto_register=True, call_timeout=10.0,
                                        cost_update_interval=1.0))
    await system.start()
    try:
        fleet = Fleet(fleet_configs(system, 1, "COST", seed=5, meter_interval_s=1,
                                    scenario=QUICK))
        async with running(fleet):
            async def started():
                return await transactions.active_transaction_ids(system.pool, "COST1")
            [tx] = await wait_for(started, 60)
            yield system, fleet.stations[0], tx
    finally:
        await system.stop()


async def cli(db: str, *args: str) -> str:
    code, out, err = await run_cli(*args, "--database-url", db)
    assert code == 0, (out, err)
    return out


async def _true(value: bool) -> bool:
    return value


async def test_i02_running_cost_while_charging_then_discharging(database_url: str):
    async with charging(database_url) as (system, station, tx):
        await cli(database_url, "tariffs", "set", "--energy-price", "0.30", "--currency", "USD",
                  "--discharge-credit", "50")
        # charging: the cost rises, each figure as the CSMS computed and recorded it
        await wait_for(lambda: _true(len(station.cost.running.get(tx, [])) >= 2), 20)

        async def recorded():
            told = await tariffs.cost_record(system.pool, "COST1", tx)
            shown = station.cost.running[tx][-1]
            return told is not None and float(told.running_cost) == shown \
                and told.running_outcome == "accepted"
        await wait_for(recorded, 10)
        rising = station.cost.running[tx]
        assert rising == sorted(rising) and rising[-1] > 0
        assert station.cost.screen(tx) == f"Cost so far: {rising[-1]:.2f} USD"
        now = json.loads(await cli(database_url, "tariffs", "cost", "COST1", tx, "--json"))
        assert now["cost"] >= rising[-1] and now["tariff"]["currency"] == "USD"

        # discharging: every exported kWh is credited 50 USD, so the cost falls below zero
        await cli(database_url, "profiles", "set", "COST1", "--evse", "1",
                  "--discharge-kw", "20")
        await wait_for(lambda: _true(station.cost.running[tx][-1] < 0), 40)
        assert station.cost.screen(tx).startswith("Cost so far: -")
        inputs = await tariffs.cost_inputs(system.pool, "COST1", tx)
        assert inputs.exported_wh > 0 and total_cost(inputs) < 0


async def test_i03_final_cost_when_the_transaction_ends(database_url: str):
    async with charging(database_url) as (system, station, tx):
        await cli(database_url, "tariffs", "set", "--station", "COST1", "--energy-price",
                  "1.25", "--currency", "EUR")

        async def charged():
            inputs = await tariffs.cost_inputs(system.pool, "COST1", tx)
            return inputs is not None and (inputs.imported_wh or 0) > 5
        await wait_for(charged, 30)
        await cli(database_url, "stop-transaction", "COST1", tx)
        await wait_for(lambda: _true(tx in station.cost.final), 20)
        told = await tariffs.cost_record(system.pool, "COST1", tx)
        inputs = await tariffs.cost_inputs(system.pool, "COST1", tx)
        # the figure on the display is the final cost computed from the stored registers
        assert station.cost.final[tx] == float(told.final_cost) == float(total_cost(inputs))
        assert told.currency == "EUR" and told.final_cost > 0
        assert told.final_cost == (Decimal(repr(inputs.imported_wh)) / 1000
                                   * Decimal("1.25")).quantize(Decimal("0.01"))
        station.model.set("TariffCostCtrlr", "Currency", "EUR")
        assert station.cost.screen(tx) == f"Total: {told.final_cost} EUR"
        shown = json.loads(await cli(database_url, "tariffs", "cost", "COST1", tx, "--json"))
        assert shown["told"]["final_cost"] == float(told.final_cost)
