"""The CSMS and 20 simulated bidirectional stations (10 on OCPP 2.0.1, 10 on 2.1): a discharge
profile sent through the CLI is followed, and the stored meter values show the export."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from csms.server import CentralSystem
from csms.smartcharging.builders import discharge_profile, set_charging_profile
from csms.store import metering, transactions
from simulators.simulated_fleet import Fleet
from tests.operations.conftest import fleet_configs, run_cli, running, wait_for

pytestmark = pytest.mark.e2e

DISCHARGE_W = 10_000


async def exported_w(system: CentralSystem, station_id: str, since: datetime) -> list[float]:
    rows = await metering.meter_values(system.pool, station_id=station_id, since=since,
                                       measurands=["Power.Active.Export"])
    return [r.value for r in rows]


async def test_fleet_follows_a_discharge_profile_sent_through_the_cli(
    csms: CentralSystem, database_url: str
):
    configs = (fleet_configs(csms, 10, "E2E-A", ocpp="2.0.1", seed=3)
               + fleet_configs(csms, 10, "E2E-B", ocpp="2.1", seed=4))
    fleet = Fleet(configs)
    async with running(fleet):
        async def all_transacting():
            ids = [await transactions.active_transaction_ids(csms.pool, c.station_id)
                   for c in configs]
            return ids if all(ids) else None

        tx_ids = dict(zip([c.station_id for c in configs],
                          await wait_for(all_transacting, 60), strict=True))
        commanded = ["E2E-A1", "E2E-A2", "E2E-B1", "E2E-B2"]
        now = datetime.now(UTC)
        for number, station_id in enumerate(commanded, start=1):
            version = "2.1" if station_id.startswith("E2E-B") else "2.0.1"
            # Stack level 1: above the departure-need TxProfile the CSMS set at plug-in.
            profile = discharge_profile(
                version, evse_id=1, transaction_id=tx_ids[station_id][0], power_w=DISCHARGE_W,
                start=now - timedelta(seconds=1), end=now + timedelta(minutes=10),
                profile_id=100 + number, stack_level=1)
            code, out, err = await run_cli(
                "call", station_id, "SetChargingProfile", "--json", "--payload",
                json.dumps(set_charging_profile(1, profile)), "--database-url", database_url)
            assert code == 0, err
            assert json.loads(out)["status"] == "Accepted", out
        # After the setpoint latency and the ramp, each station's export settles at the
        # commanded power; from then on every stored sample must be within 5 %.
        for station_id in commanded:
            async def settled(station_id: str = station_id) -> bool:
                samples = await exported_w(csms, station_id,
                                           datetime.now(UTC) - timedelta(seconds=3))
                return bool(samples) and abs(samples[-1] - DISCHARGE_W) <= 0.05 * DISCHARGE_W

            await wait_for(settled, 90)
        window_start = datetime.now(UTC)
        await asyncio.sleep(6)
        for station_id in commanded:
            samples = await exported_w(csms, station_id, window_start)
            assert len(samples) >= 2, station_id
            for sample in samples:
                assert sample == pytest.approx(DISCHARGE_W, rel=0.05), (station_id, samples)
        # Stations that were not told to discharge export nothing.
        for station_id in ("E2E-A5", "E2E-B5"):
            samples = await exported_w(csms, station_id, window_start)
            assert samples and max(samples) < 50, station_id
        # The export register grows with the exported energy.
        rows = await metering.meter_values(
            csms.pool, station_id="E2E-A1", since=window_start,
            measurands=["Energy.Active.Export.Register"])
        registers = [r.value for r in rows]
        assert registers[-1] > registers[0]
